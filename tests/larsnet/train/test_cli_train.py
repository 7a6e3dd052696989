"""``larsnet train`` end to end on a tiny StemGMD-style folder made here: it trains, logs,
writes models that load, resumes, and refuses malformed options with one clear line."""
import csv
from pathlib import Path

import pytest
import torch
from larsnet.checkpoint import load_model_file
from larsnet.cli import main
from larsnet.data.gmd import records_from_midi_dir
from larsnet.data.synth import synthesize
from larsnet.data.synthetic import make_synthetic_kit
from tests.larsnet.data.builders import GROOVE, write_midi

TINY = ["--arch-param", "width=4", "--arch-param", "depth=2", "--arch-param", "bands=64",
        "--arch-param", "full_res_bins=16"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train_cli")
    midi = root / "midi"
    for i in range(2):
        write_midi(midi / "drummer1" / "session1" / f"{i}_rock_120_beat_4-4.mid",
                   [(b + 4 * r, p, v) for r in range(3) for b, p, v in GROOVE], bpm=110 + 10 * i)
    kits = [make_synthetic_kit(f"Kit {i}", seed=i, length_scale=0.1) for i in range(2)]
    synthesize(records_from_midi_dir(midi), kits, root / "data", tail_s=0.2)
    return root / "data"


def _train(out: Path, folder: Path, capsys, *extra: str) -> tuple[int, str]:
    args = ["train", "-o", str(out), "--data", "folder", "--folder", str(folder), *TINY, "--segment-frames", "32",
            "--batch-size", "2", "--val-clips", "0", "--loss-l1", "0", "--loss-nsdr", "1", "--warmup-steps", "1",
            "--threads", "1", "--quiet", *extra]
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_train_writes_a_log_and_loadable_models_then_resumes(tmp_path: Path, folder: Path, capsys):
    out = tmp_path / "run"
    code, output = _train(out, folder, capsys, "--steps", "4")
    assert code == 0, output
    assert "done: step 4" in output
    model = load_model_file(out / "final.pt")
    assert model.config.arch == "band_unet" and model.provenance["steps"] == 4
    assert model.provenance["train_config"]["warmup_steps"] == 1
    code, output = _train(out, folder, capsys, "--steps", "6", "--resume")
    assert code == 0, output
    assert load_model_file(out / "final.pt").provenance["steps"] == 6
    code, output = _train(out, folder, capsys, "--resume")  # no --steps: the run's own schedule, already done
    assert code == 0, output
    assert load_model_file(out / "final.pt").provenance["train_config"]["steps"] == 6
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert rows and all(float(r["loss"]) == float(r["loss"]) for r in rows if r["loss"])  # finite, logged


@pytest.mark.parametrize("focus, message", [("toms", "expected STEM=PROBABILITY"), ("toms=lots", "expected STEM=PROBABILITY")])
def test_malformed_focus_is_one_clear_line(tmp_path: Path, folder: Path, capsys, focus: str, message: str):
    code, output = _train(tmp_path / "bad", folder, capsys, "--steps", "1", "--focus", focus)
    assert code != 0
    assert message in output and "Traceback" not in output and len(output.strip().splitlines()) == 1


def test_snapshots_average_into_a_loadable_model(tmp_path: Path, folder: Path, capsys):
    out = tmp_path / "run"
    code, output = _train(out, folder, capsys, "--steps", "4", "--snapshot-every", "2")
    assert code == 0, output
    snapshots = sorted((out / "snapshots").glob("*.pt"))
    assert [p.name for p in snapshots] == ["step000002.pt", "step000004.pt"]
    averaged = tmp_path / "avg.pt"
    assert main(["average", str(averaged), *map(str, snapshots), str(out / "last.pt")]) == 0
    model = load_model_file(averaged)
    assert model.provenance["averaged_steps"] == [2, 4, 4]
    a, b = (load_model_file(p).state_dict() for p in snapshots)
    key = next(k for k, v in a.items() if v.is_floating_point() and not torch.equal(v, b[k]))
    expected = (a[key].float() * 1 + b[key].float() * 2) / 3  # last.pt holds step 4 again
    torch.testing.assert_close(model.state_dict()[key].float(), expected, atol=2e-3, rtol=2e-3)


def test_augment_params_override_the_papers_settings():
    from larsnet.commands.train import _augmentation
    from larsnet.data.dataset import Augmentation

    aug = _augmentation(False, ("p_example=0.8", "eq_peak=0.7", "gain_db=-9,0"))
    assert aug == Augmentation(p_example=0.8, eq_peak=0.7, gain_db=(-9.0, 0.0))
    assert _augmentation(True, ()).p_example == 0.0
    assert _augmentation(False, ()) == Augmentation()
    aug = _augmentation(False, ("hats_from_cymbals=0.4", "hats_from_cymbals_fade_ms=30,60"))
    assert aug == Augmentation(hats_from_cymbals=0.4, hats_from_cymbals_fade_ms=(30.0, 60.0))


@pytest.mark.parametrize("param, message", [
    ("pitch=0.5", "NAME one of p_example"),
    ("pitch_shift", "expected NAME=VALUE"),
    ("gain_db=-9", "gain_db takes two numbers LO,HI"),
    ("eq=much", "eq takes a number"),
    ("eq=1.5", "augmentation probability eq must be in"),
])
def test_malformed_augment_param_is_one_clear_line(tmp_path: Path, folder: Path, capsys, param: str, message: str):
    code, output = _train(tmp_path / "bad", folder, capsys, "--steps", "1", "--augment-param", param)
    assert code != 0 and message in output
    assert "Traceback" not in output


def test_augment_param_is_refused_for_audio_from_disk(tmp_path: Path, folder: Path, capsys):
    code, output = _train(tmp_path / "bad", folder, capsys, "--steps", "1", "--augment-param", "eq=0.5")
    assert code != 0 and "--augment-param applies to --data gmd" in output


def test_loss_leak_weight_reaches_the_run(tmp_path: Path, folder: Path, capsys):
    code, output = _train(tmp_path / "leak", folder, capsys, "--steps", "1", "--loss-leak", "3")
    assert code == 0, output
    assert load_model_file(tmp_path / "leak" / "final.pt").provenance["train_config"]["weight_leak"] == 3.0


def test_ema_run_saves_the_moving_average(tmp_path: Path, folder: Path, capsys):
    code, output = _train(tmp_path / "run", folder, capsys, "--steps", "3", "--ema", "0.99")
    assert code == 0, output
    model = load_model_file(tmp_path / "run" / "final.pt")
    assert model.provenance["train_config"]["ema_decay"] == 0.99
    assert model.provenance["weights"] == "moving average, decay 0.99"


def test_ema_out_of_range_is_one_clear_line(tmp_path: Path, folder: Path, capsys):
    code, output = _train(tmp_path / "bad", folder, capsys, "--steps", "1", "--ema", "1.5")
    assert code != 0
    assert "--ema 1.5" in output and "Traceback" not in output and len(output.strip().splitlines()) == 1


def test_loss_spatial_reaches_the_run_and_bad_values_are_one_line(tmp_path: Path, folder: Path, capsys):
    code, output = _train(tmp_path / "spatial", folder, capsys, "--steps", "1", "--loss-spatial", "0.5",
                          "--spatial-rounds", "1")
    assert code == 0, output
    config = load_model_file(tmp_path / "spatial" / "final.pt").provenance["train_config"]
    assert config["weight_spatial"] == 0.5 and config["spatial_rounds"] == 1
    code, output = _train(tmp_path / "bad", folder, capsys, "--steps", "1", "--loss-spatial", "0.5",
                          "--spatial-rounds", "0")
    assert code != 0 and "--spatial-rounds" in output and len(output.strip().splitlines()) == 1
