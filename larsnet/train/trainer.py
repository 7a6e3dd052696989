"""The training loop: seeded, resumable, logged, interruptible.

Inputs are plain iterables so that the on-the-fly renderer, a StemGMD folder or a test
generator all plug in the same way:

* ``batches`` yields ``(mixture[B, C, L], stems[B, S, C, L])`` float tensors;
* ``validation`` is a list of ``(mixture[C, L], stems[S, C, L])`` numpy clips scored by
  nSDR with the same :class:`~larsnet.separator.Separator` users run.

Files written to ``out_dir``: ``last.pt`` (training state: weights, optimizer, step,
RNG; weights-only loadable), ``best.pt`` and ``final.pt`` (model files in our format,
see :mod:`larsnet.checkpoint`), ``log.csv`` (one row per log interval and per
validation). Ctrl-C stops after the current step and writes ``last.pt``.
"""
from __future__ import annotations

import copy
import csv
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from larsnet.checkpoint import save_model
from larsnet.errors import CheckpointError
from larsnet.model import ModelConfig, SeparationModel, build_model
from larsnet.separator import Separator
from larsnet.spatial_options import FULL_BAND_HZ, spatial_kwargs
from larsnet.stft import Stft
from larsnet.train.losses import (BandProjection, band_nsdr_loss, masked_l1, spatial_nsdr, spectral_leak,
                                  spectral_nsdr)

TRAIN_STATE_FORMAT = "larsnet-train-state"
"""``format`` of ``last.pt``: weights, optimizer, step and RNG of a run (not a model file)."""

PRESENT_DB = -60.0
"""A stem counts as present in an example above this RMS (dBFS), as in the evaluation."""


DEFAULT_ARCH_PARAMS: dict[str, dict[str, Any]] = {"band_unet": {"width": 24, "depth": 4}, "larsnet": {}}
"""Architecture settings a run gets when none are given: our default model's size for
``band_unet``; the paper's (width 16, 49 M parameters) for ``larsnet``."""


@dataclass
class TrainConfig:
    """Every setting of a run; stored in ``last.pt`` so a resumed run cannot drift.

    ``arch_params`` None means :data:`DEFAULT_ARCH_PARAMS` of ``arch``.
    """

    arch: str = "band_unet"
    arch_params: dict[str, Any] | None = None
    steps: int = 10_000
    lr: float = 1e-3
    lr_final: float = 1e-4
    warmup_steps: int = 200
    weight_l1: float = 1.0
    weight_nsdr: float = 0.0
    weight_leak: float = 1.0
    weight_spatial: float = 0.0
    """Weight of the nSDR of the stems after the multichannel Wiener filter (added to the band
    loss, so the masks stay good without the filter too); see :func:`larsnet.train.losses.spatial_nsdr`.
    Validation then separates with the filter (``spatial_rounds`` rounds over every bin), so ``best.pt``
    is chosen by it."""
    spatial_rounds: int = 3
    grad_clip: float = 5.0
    seed: int = 0
    log_every: int = 25
    eval_every: int = 500
    checkpoint_every: int = 200
    snapshot_every: int = 0
    """Also keep the model every this many steps in ``snapshots/`` (0: never), for
    ``larsnet average`` (weight averaging of late checkpoints)."""
    max_minutes: float | None = None
    ema_decay: float = 0.0
    """Keep an exponential moving average of the weights (and BatchNorm statistics) with
    this decay per step, 0 for none. With it on, validation, ``best.pt`` and ``final.pt``
    use the average: single checkpoints of our models swing by up to 1.5 dB of validation
    nSDR from one to the next (the toms stem flips), and the average smooths the swing
    without a second run."""
    license: str = "GPL-3.0-or-later"
    notes: str = ""

    def __post_init__(self) -> None:
        if self.arch_params is None:
            self.arch_params = dict(DEFAULT_ARCH_PARAMS.get(self.arch, {}))


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay from ``lr`` to ``lr_final`` over ``steps``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps))
    return config.lr_final + 0.5 * (config.lr - config.lr_final) * (1 + math.cos(math.pi * progress))


def _rms_db(x: torch.Tensor) -> torch.Tensor:
    """RMS in dBFS over all but the first two axes: ``[B, S, ...] -> [B, S]``."""
    return 10 * torch.log10(x.square().flatten(2).mean(-1) + 1e-12)


def model_from_train_state(state: dict[str, Any]) -> SeparationModel:
    """The model held in a loaded training state (``last.pt``), in train mode."""
    model = build_model(ModelConfig.from_dict(state["model_config"]))
    model.load_state_dict(state["model_state"])
    return model


def ema_decay(decay: float, step: int) -> float:
    """The decay used after ``step`` updates: ``decay``, lowered early in a run so the
    average is not dominated by its starting weights (the usual ``(1 + n) / (10 + n)``)."""
    return min(decay, (1 + step) / (10 + step))


class WeightAverage:
    """An exponential moving average of a model's parameters and floating-point buffers.

    BatchNorm running statistics are averaged like the weights, so the averaged model is
    consistent with itself; integer buffers (batch counters) are copied."""

    def __init__(self, model: SeparationModel):
        self.model = copy.deepcopy(model).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: SeparationModel, decay: float) -> None:
        current = model.state_dict()
        for name, average in self.model.state_dict().items():
            value = current[name].detach()
            if average.is_floating_point():
                average.mul_(decay).add_(value, alpha=1.0 - decay)
            else:
                average.copy_(value)


class Trainer:
    """Owns a model, its optimizer and the run folder."""

    def __init__(
        self,
        config: TrainConfig,
        out_dir: str | Path,
        *,
        model: SeparationModel | None = None,
        device: str = "cpu",
        stems: Sequence[str] | None = None,
        provenance: dict[str, Any] | None = None,
    ):
        if model is not None:  # a given model (--init) decides the architecture the run records
            config = replace(config, arch=model.config.arch, arch_params=dict(model.config.arch_params))
        self.config = config
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.device = torch.device(device)
        torch.manual_seed(config.seed)
        if model is None:
            model_config = ModelConfig(arch=config.arch, arch_params=dict(config.arch_params),
                                       **({"stems": tuple(stems)} if stems else {}))
            model = build_model(model_config)
        self.model = model.to(self.device)
        self.stft = Stft(model.config.n_fft, model.config.hop_length, model.config.win_length)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.step = 0
        self.audio_seconds = 0.0
        self.train_seconds = 0.0
        self.best_score = -math.inf
        self.provenance = dict(provenance or {})
        self._log_fields: list[str] | None = None
        if not 0.0 <= config.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {config.ema_decay}")
        self.ema = WeightAverage(self.model) if config.ema_decay else None

    @property
    def shipped_model(self) -> SeparationModel:
        """The weights a checkpoint holds and validation scores: the moving average when on."""
        return self.ema.model if self.ema is not None else self.model

    # --- checkpoints --------------------------------------------------------------
    def save_state(self) -> Path:
        state = {
            "format": TRAIN_STATE_FORMAT,
            "config": asdict(self.config),
            "model_config": self.model.config.to_dict(),
            "model_state": self.model.state_dict(),
            "optimizer_state": self.optimizer.state_dict(),
            "step": self.step,
            "audio_seconds": self.audio_seconds,
            "train_seconds": self.train_seconds,
            "best_score": self.best_score,
            "torch_rng": torch.get_rng_state(),
            "provenance": self.provenance,
        }
        if self.ema is not None:
            state["ema_state"] = self.ema.model.state_dict()
        path = self.out_dir / "last.pt"
        tmp = path.with_name(".last.pt.tmp")
        torch.save(state, tmp)
        tmp.replace(path)
        return path

    @classmethod
    def resume(cls, out_dir: str | Path, device: str = "cpu", **overrides: Any) -> "Trainer":
        """Continue a run from ``out_dir/last.pt``; ``overrides`` may extend ``steps`` etc."""
        path = Path(out_dir) / "last.pt"
        if not path.exists():
            raise CheckpointError(path, "no training state to resume; start a run without --resume first")
        state = torch.load(path, map_location="cpu", weights_only=True)
        config = TrainConfig(**{**state["config"], **overrides})
        model = model_from_train_state(state)
        trainer = cls(config, out_dir, model=model, device=device, provenance=state.get("provenance"))
        trainer.optimizer.load_state_dict(state["optimizer_state"])
        trainer.step = state["step"]
        trainer.audio_seconds = state["audio_seconds"]
        trainer.train_seconds = state["train_seconds"]
        trainer.best_score = state["best_score"]
        torch.set_rng_state(state["torch_rng"])
        if trainer.ema is not None and "ema_state" in state:  # else it starts from the weights now
            trainer.ema.model.load_state_dict(state["ema_state"])
        return trainer

    def save_model(self, name: str, **extra: Any) -> Path:
        provenance = {
            **self.provenance,
            "steps": self.step,
            "audio_hours_seen": round(self.audio_seconds / 3600, 3),
            "train_minutes": round(self.train_seconds / 60, 2),
            "train_config": asdict(self.config),
            "device": str(self.device),
            "torch_threads": torch.get_num_threads(),
            **({"weights": f"moving average, decay {self.config.ema_decay}"} if self.ema is not None else {}),
            **extra,
        }
        return save_model(self.shipped_model, self.out_dir / name, license=self.config.license,
                          provenance=provenance, half=True)

    # --- one optimisation step ----------------------------------------------------
    def loss(self, mixture: torch.Tensor, stems: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """``mixture[B, C, L]``, ``stems[B, S, C, L]`` -> (loss, parts for the log)."""
        config = self.config
        if not config.weight_l1 and hasattr(self.model, "band_masks"):
            return self._band_loss(stems)
        n_bins = self.model.config.n_bins
        with torch.no_grad():  # targets and inputs need no gradients: keep them out of the graph
            stem_spec = self.stft.forward(stems)[..., :n_bins, :]  # (B, S, C, F, T)
            frames = stem_spec.shape[-1] // self.model.time_multiple * self.model.time_multiple
            stem_spec = stem_spec[..., :frames]
            mix_spec = stem_spec.sum(dim=1)  # the STFT is linear: the mixture's spectrogram
            mix_mag = mix_spec.abs()  # (B, C, F, T)
        masks = self.model.masks(mix_mag)  # (B, S, C, F, T)
        parts: dict[str, float] = {}
        total = torch.zeros((), device=mixture.device)
        if config.weight_l1:
            with torch.no_grad():
                stem_mag = stem_spec.abs()
            l1 = masked_l1(masks * mix_mag[:, None], stem_mag)
            total = total + config.weight_l1 * l1
            parts["l1"] = float(l1.detach())
        if config.weight_nsdr:
            with torch.no_grad():
                present = _rms_db(stems) > PRESENT_DB
                target_power = stem_spec.abs().square().flatten(2).mean(-1)  # (B, S)
                cross = (stem_spec * mix_spec.conj()[:, None]).real
                mix_power = mix_mag.square()
            score = spectral_nsdr(masks, target_power, cross, mix_power, present)
            leak = spectral_leak(masks, mix_power, present)
            # dB/10 keeps it near the L1 scale; the leak term as in the band loss
            total = total - config.weight_nsdr * score / 10.0 + config.weight_leak * leak
            parts["nsdr_db"] = float(score.detach())
            parts["leak"] = float(leak.detach())
        if config.weight_spatial:
            total = total + self._spatial_term(masks * mix_mag[:, None], stem_spec, mix_spec,
                                               _rms_db(stems) > PRESENT_DB, parts)
        with torch.no_grad():  # watch for collapse: mean mask per stem
            for i, stem in enumerate(self.model.stems):
                parts[f"mask_{stem}"] = float(masks[:, i].mean())
        return total, parts

    def _spatial_term(self, estimates: torch.Tensor, stem_spec: torch.Tensor, mix_spec: torch.Tensor,
                      present: torch.Tensor, parts: dict[str, float]) -> torch.Tensor:
        """The loss term through the spatial filter (to add; the nSDR as dB/10, like the band loss),
        logged in ``parts``."""
        spatial = spatial_nsdr(estimates, stem_spec, mix_spec, present, self.config.spatial_rounds)
        parts["spatial_nsdr_db"] = float(spatial.detach())
        return -self.config.weight_spatial * spatial / 10.0

    def _band_loss(self, stems: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """nSDR + leak loss evaluated exactly at band resolution (models with ``band_masks``)."""
        model = self.model
        n_bins = model.config.n_bins
        with torch.no_grad():
            stem_spec = self.stft.forward(stems)[..., :n_bins, :]  # (B, S, C, F, T)
            frames = stem_spec.shape[-1] // model.time_multiple * model.time_multiple
            stem_spec = stem_spec[..., :frames]
            mix_spec = stem_spec.sum(dim=1)  # (B, C, F, T)
            mix_mag = mix_spec.abs()
            mix_power = mix_mag.square()
            projection = BandProjection(model.lower, model.weight, model.edges.numel() - 1)
            cross = projection.linear((stem_spec * mix_spec.conj()[:, None]).real)  # (B, S, C, K, T)
            mix_a, mix_d = projection.quadratic(mix_power)  # (B, C, K, T)
            target_energy = stem_spec.abs().square().flatten(2).sum(-1)  # (B, S)
            mix_energy = mix_power.flatten(1).sum(-1)  # (B,)
            present = _rms_db(stems) > PRESENT_DB
        band = model.band_masks(mix_mag)  # (B, S, C, K, T)
        loss, score, leak = band_nsdr_loss(band, target_energy, cross, mix_a, mix_d, mix_energy, present,
                                           absent_weight=self.config.weight_leak)
        parts = {"nsdr_db": float(score.detach()), "leak": float(leak.detach())}
        if self.config.weight_spatial:
            loss = loss + self._spatial_term(model.unpool(band) * mix_mag[:, None], stem_spec, mix_spec, present, parts)
        with torch.no_grad():
            for i, stem in enumerate(model.stems):
                parts[f"mask_{stem}"] = float(band[:, i].mean())
        return loss, parts

    def train_step(self, mixture: torch.Tensor, stems: torch.Tensor) -> dict[str, float]:
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.config, self.step)
        mixture, stems = mixture.to(self.device), stems.to(self.device)
        use_amp = self.device.type == "cuda"
        with torch.autocast(self.device.type, enabled=use_amp, dtype=torch.bfloat16 if use_amp else None):
            loss, parts = self.loss(mixture, stems)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.step += 1
        if self.ema is not None:
            self.ema.update(self.model, ema_decay(self.config.ema_decay, self.step))
        self.audio_seconds += mixture.shape[0] * mixture.shape[-1] / self.model.config.sample_rate
        parts["loss"] = float(loss.detach())
        return parts

    # --- validation ---------------------------------------------------------------
    def validate(self, clips: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
        """Mean nSDR per stem over clips where the stem is present (the paper's protocol)."""
        from larsnet.evaluation.metrics import nsdr, present  # evaluation owns the metric

        model = self.shipped_model
        model.eval()
        separator = Separator(model, device=self.device)
        scores: dict[str, list[float]] = {stem: [] for stem in self.model.stems}
        # A run trained through the filter is chosen by what the filter gives, over every bin as in its loss.
        spatial = spatial_kwargs(self.config.spatial_rounds if self.config.weight_spatial else 0, FULL_BAND_HZ)
        for mixture, stems in clips:
            estimates = separator.separate(mixture, **spatial)
            for i, stem in enumerate(model.stems):
                if present(stems[i]):
                    scores[stem].append(nsdr(stems[i], estimates[stem]))
        result = {f"val_{stem}": float(np.mean(v)) if v else float("nan") for stem, v in scores.items()}
        values = [v for v in result.values() if not math.isnan(v)]
        result["val_mean"] = float(np.mean(values)) if values else float("nan")
        return result

    # --- the loop -----------------------------------------------------------------
    def fit(
        self,
        batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
        validation: Sequence[tuple[np.ndarray, np.ndarray]] = (),
        *,
        progress: Callable[[int, dict[str, float]], None] | None = None,
    ) -> dict[str, float]:
        """Train until ``config.steps`` (or ``max_minutes``); return the last log row."""
        config = self.config
        started = time.monotonic()
        window: list[dict[str, float]] = []
        row: dict[str, float] = {}
        iterator = iter(batches)
        try:
            while self.step < config.steps:
                if config.max_minutes is not None and (time.monotonic() - started) / 60 >= config.max_minutes:
                    break
                tick = time.monotonic()
                mixture, stems = next(iterator)
                window.append(self.train_step(torch.as_tensor(mixture), torch.as_tensor(stems)))
                self.train_seconds += time.monotonic() - tick
                if self.step % config.log_every == 0 or self.step == config.steps:
                    row = self._log(window, {})
                    window = []
                    if progress:
                        progress(self.step, row)
                if validation and (self.step % config.eval_every == 0 or self.step == config.steps):
                    scores = self.validate(validation)
                    row = self._log([], scores)
                    if scores["val_mean"] > self.best_score:
                        self.best_score = scores["val_mean"]
                        self.save_model("best.pt", validation=scores)
                    if progress:
                        progress(self.step, row)
                if self.step % config.checkpoint_every == 0:
                    self.save_state()
                if config.snapshot_every and self.step % config.snapshot_every == 0:
                    (self.out_dir / "snapshots").mkdir(exist_ok=True)
                    self.save_model(f"snapshots/step{self.step:06d}.pt")
        except KeyboardInterrupt:
            self.save_state()
            self.save_model("final.pt", interrupted=True)
            raise
        self.save_state()
        self.save_model("final.pt")
        return row

    def _log(self, window: list[dict[str, float]], scores: dict[str, float]) -> dict[str, float]:
        row: dict[str, float] = {
            "step": self.step,
            "minutes": round(self.train_seconds / 60, 3),
            "audio_hours": round(self.audio_seconds / 3600, 4),
            "lr": learning_rate(self.config, max(self.step - 1, 0)),
        }
        if window:
            for key in window[0]:
                row[key] = float(np.mean([w[key] for w in window]))
        row.update(scores)
        path = self.out_dir / "log.csv"
        fields = ["step", "minutes", "audio_hours", "lr", "loss", "l1", "nsdr_db", "leak"]
        fields += ["spatial_nsdr_db"] if self.config.weight_spatial else []  # old runs' logs keep their columns
        fields += [f"mask_{s}" for s in self.model.stems] + [f"val_{s}" for s in self.model.stems] + ["val_mean"]
        new = not path.exists()
        with path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)
        return row
