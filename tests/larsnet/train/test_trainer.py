import csv

import numpy as np
import pytest
import torch

from larsnet.checkpoint import load_model_file
from larsnet.train.trainer import TrainConfig, Trainer, learning_rate

SEGMENT = 63 * 1024  # 64 STFT frames


def toy_batches(seed: int, batch: int = 2):
    """Five 'stems' with disjoint spectra (low tone, mid tone, ... noise bands), random gains:
    a problem a mask model can solve, so the loss must fall."""
    rng = np.random.default_rng(seed)
    t = np.arange(SEGMENT) / 44_100
    freqs = [60.0, 220.0, 700.0, 3000.0, 9000.0]
    while True:
        stems = np.zeros((batch, 5, 2, SEGMENT), np.float32)
        for b in range(batch):
            for s, f in enumerate(freqs):
                gain = rng.uniform(0.05, 0.3) * (rng.random() > 0.2)
                phase = rng.uniform(0, 2 * np.pi)
                stems[b, s] = gain * np.sin(2 * np.pi * f * t + phase)
        yield torch.from_numpy(stems.sum(1)), torch.from_numpy(stems)


def small_config(**overrides):
    base = dict(arch="band_unet", arch_params={"width": 4, "depth": 2, "bands": 64, "full_res_bins": 16},
                steps=30, lr=3e-3, lr_final=1e-3, warmup_steps=2, log_every=5, eval_every=15,
                checkpoint_every=10, seed=3)
    base.update(overrides)
    return TrainConfig(**base)


def test_loss_falls_and_checkpoints_load(tmp_path):
    trainer = Trainer(small_config(weight_nsdr=1.0), tmp_path)
    first = np.mean([trainer.train_step(*next(toy_batches(0)))["loss"] for _ in range(1)])
    batches = toy_batches(1)
    validation = [(m[0].numpy(), s[0].numpy()) for m, s in [next(toy_batches(99)) for _ in range(2)]]
    trainer.fit(batches, validation)
    rows = list(csv.DictReader((tmp_path / "log.csv").open()))
    losses = [float(r["loss"]) for r in rows if r["loss"]]
    assert losses[-1] < first
    assert any(r["val_mean"] for r in rows)
    for name in ("final.pt", "best.pt"):
        model = load_model_file(tmp_path / name)
        assert model.config.arch == "band_unet"
        assert model.provenance["steps"] >= 15
    assert (tmp_path / "last.pt").exists()


def straight_and_resumed(tmp_path, **config) -> tuple[Trainer, Trainer]:
    """The same 8-step run done in one go, and interrupted after 4 steps then resumed."""
    straight = Trainer(small_config(steps=8, **config), tmp_path / "a")
    straight.fit(toy_batches(5))
    batches = toy_batches(5)

    def first_four():
        for _ in range(4):
            yield next(batches)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Trainer(small_config(steps=8, **config), tmp_path / "b").fit(first_four())
    resumed = Trainer.resume(tmp_path / "b")
    assert resumed.step == 4
    resumed.fit(batches)
    return straight, resumed


def test_resume_after_interrupt_continues_exactly(tmp_path):
    straight, resumed = straight_and_resumed(tmp_path)
    for key, value in straight.model.state_dict().items():
        assert torch.allclose(resumed.model.state_dict()[key].float(), value.float(), atol=1e-5), key


def test_interrupt_writes_a_checkpoint(tmp_path):
    trainer = Trainer(small_config(steps=100), tmp_path)

    def interrupted():
        batches = toy_batches(0)
        for i in range(3):
            yield next(batches)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        trainer.fit(interrupted())
    assert torch.load(tmp_path / "last.pt", weights_only=True)["step"] == 3
    assert load_model_file(tmp_path / "final.pt").provenance["interrupted"] is True


def test_learning_rate_schedule():
    config = TrainConfig(steps=100, lr=1e-3, lr_final=1e-4, warmup_steps=10)
    assert learning_rate(config, 0) == pytest.approx(1e-4)
    assert learning_rate(config, 10) == pytest.approx(1e-3)
    assert learning_rate(config, 100) == pytest.approx(1e-4)


def test_band_loss_trains_too(tmp_path):
    trainer = Trainer(small_config(weight_l1=0.0, weight_nsdr=1.0, steps=25), tmp_path)
    batches = toy_batches(2)
    first = trainer.train_step(*next(batches))
    assert "leak" in first and "nsdr_db" in first
    trainer.fit(batches)
    rows = [r for r in csv.DictReader((tmp_path / "log.csv").open()) if r["nsdr_db"]]
    assert float(rows[-1]["nsdr_db"]) > first["nsdr_db"] + 1.0


def _wide_toy_batches(seed: int):
    """toy_batches with each stem panned its own way, so the spatial filter has work to do."""
    pans = torch.tensor([[1.0, 0.3], [0.3, 1.0], [0.7, 0.7], [1.0, 0.1], [0.1, 1.0]])[:, :, None]
    for mix, stems in toy_batches(seed):
        stems = stems * pans
        yield stems.sum(1), stems


@pytest.mark.parametrize("arch_loss", [dict(weight_l1=0.0, weight_nsdr=1.0),
                                       pytest.param(dict(weight_l1=1.0), marks=pytest.mark.slow)])
def test_the_loss_through_the_spatial_filter_is_logged_and_rises(tmp_path, arch_loss):
    """``--loss-spatial`` trains what the filter forms, on the band loss path and the bin one."""
    trainer = Trainer(small_config(weight_spatial=1.0, spatial_rounds=1, steps=12, log_every=4, **arch_loss), tmp_path)
    batches = _wide_toy_batches(4)
    first = trainer.train_step(*next(batches))
    assert np.isfinite(first["spatial_nsdr_db"])
    if "nsdr_db" in first:  # the term is part of what is minimised, at weight 1
        expected = -first["nsdr_db"] / 10 + first["leak"] - first["spatial_nsdr_db"] / 10
        assert first["loss"] == pytest.approx(expected, abs=1e-4)
    trainer.fit(batches)
    rows = [r for r in csv.DictReader((tmp_path / "log.csv").open()) if r.get("spatial_nsdr_db")]
    assert rows and float(rows[-1]["spatial_nsdr_db"]) > first["spatial_nsdr_db"] + 0.5
    assert TrainConfig().weight_spatial == 0.0  # off unless asked for


def test_a_larsnet_run_defaults_to_the_papers_size():
    """`larsnet train --arch larsnet` trains the published configuration (width 16, 49 M
    parameters), not our band model's width; band_unet keeps the default model's size."""
    from larsnet.model import ModelConfig, build_model
    from larsnet.train.trainer import TrainConfig

    assert TrainConfig().arch_params == {"width": 24, "depth": 4}
    assert TrainConfig(arch="larsnet", arch_params={"width": 8}).arch_params == {"width": 8}
    params = TrainConfig(arch="larsnet").arch_params
    model = build_model(ModelConfig(arch="larsnet", arch_params=params))
    assert round(sum(p.numel() for p in model.parameters()) / 1e6) == 49


def test_a_fine_tuning_run_records_the_architecture_it_trains(tmp_path):
    """With --init, the run's recorded config is the given model's architecture (depth 5 here),
    not the default one the config would otherwise name."""
    from larsnet.model import ModelConfig, build_model

    model = build_model(ModelConfig(arch="band_unet", arch_params={"width": 4, "depth": 2, "shares": True}))
    trainer = Trainer(TrainConfig(steps=1), tmp_path, model=model)
    assert trainer.config.arch_params == {"width": 4, "depth": 2, "shares": True}
    assert TrainConfig().arch_params == {"width": 24, "depth": 4}  # the default is left alone


def test_moving_average_follows_the_formula_and_is_what_checkpoints_hold(tmp_path):
    """With --ema, best.pt/final.pt hold the averaged weights, which lag the raw ones."""
    from larsnet.train.trainer import ema_decay

    trainer = Trainer(small_config(steps=6, ema_decay=0.9, eval_every=100), tmp_path)
    batches = toy_batches(2)
    expected = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    for step in range(1, 4):
        trainer.train_step(*next(batches))
        decay = ema_decay(0.9, step)
        for key, value in trainer.model.state_dict().items():
            if value.is_floating_point():
                expected[key] = decay * expected[key] + (1 - decay) * value
            else:
                expected[key] = value.clone()
    averaged = trainer.ema.model.state_dict()
    for key, value in expected.items():
        assert torch.allclose(averaged[key], value, atol=1e-6), key
    raw = trainer.model.state_dict()
    assert any(not torch.allclose(averaged[k], raw[k]) for k in raw if raw[k].is_floating_point())
    trainer.fit(batches)
    saved = load_model_file(tmp_path / "final.pt")
    assert "moving average" in saved.provenance["weights"]
    for key, value in trainer.ema.model.state_dict().items():
        if value.is_floating_point():  # stored as float16
            assert torch.allclose(saved.state_dict()[key].float(), value, atol=2e-3 * (1 + value.abs().max())), key


def test_moving_average_survives_resume(tmp_path):
    straight, resumed = straight_and_resumed(tmp_path, ema_decay=0.8)
    for key, value in straight.ema.model.state_dict().items():
        assert torch.allclose(resumed.ema.model.state_dict()[key].float(), value.float(), atol=1e-5), key


def test_moving_average_decay_out_of_range_is_refused(tmp_path):
    with pytest.raises(ValueError, match="ema_decay"):
        Trainer(small_config(ema_decay=1.0), tmp_path)


@pytest.mark.parametrize("weight, rounds", [(0.0, (0, None)), (1.0, (2, 22050.0))])
def test_a_run_through_the_filter_validates_with_it(tmp_path, monkeypatch, weight, rounds):
    """best.pt of a run trained through the filter is chosen by what the filter gives, over every
    bin as in the loss."""
    from larsnet.separator import Separator

    seen = []
    original = Separator.separate

    def spy(self, audio, **kwargs):
        seen.append((kwargs.get("spatial_iterations", 0), kwargs.get("spatial_max_hz")))
        return original(self, audio, **kwargs)

    monkeypatch.setattr(Separator, "separate", spy)
    trainer = Trainer(small_config(weight_spatial=weight, spatial_rounds=2), tmp_path)
    mix, stems = next(_wide_toy_batches(7))
    scores = trainer.validate([(mix[0].numpy(), stems[0].numpy())])
    assert seen == [rounds] and np.isfinite(scores["val_mean"])
