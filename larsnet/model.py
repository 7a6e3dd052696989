"""Separation models: configuration, the architecture registry and LarsNet itself.

A model maps the network-visible mixture magnitude to one mask per stem. It knows
nothing about waveforms, chunking or Wiener filtering (see :mod:`larsnet.separator`),
so the official five-U-Net LarsNet and our own architectures share everything else.
Architectures are looked up by *name* in :data:`ARCHITECTURES` when a checkpoint is
loaded, never unpickled.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from larsnet.stems import SAMPLE_RATE, STEMS
from larsnet.unet import TIME_MULTIPLE, UNet


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model and feed it: stored in every checkpoint."""

    arch: str = "larsnet"
    stems: tuple[str, ...] = STEMS
    sample_rate: int = SAMPLE_RATE
    n_fft: int = 4096
    hop_length: int = 1024
    win_length: int = 4096
    n_bins: int = 2048
    audio_channels: int = 2
    arch_params: dict[str, Any] = field(default_factory=lambda: {"width": 16})

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stems"] = list(self.stems)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config fields: {sorted(unknown)}")
        values = dict(data)
        if "stems" in values:
            values["stems"] = tuple(values["stems"])
        if "arch_params" in values:
            values["arch_params"] = dict(values["arch_params"])
        return cls(**values)


class SeparationModel(nn.Module):
    """Interface every architecture implements.

    ``masks(mag[B, C, n_bins, T]) -> masks[B, S, C, n_bins, T]`` in [0, 1], with T a
    multiple of ``time_multiple``.
    """

    config: ModelConfig
    time_multiple: int = 1

    @property
    def stems(self) -> tuple[str, ...]:
        return self.config.stems

    @property
    def masks_sum_to_one(self) -> bool:
        """True when the stems' masks always add up to one (share masks): alpha-Wiener
        with alpha 1 then changes nothing, and the separator skips it."""
        return False

    @property
    def band_interpolation(self) -> torch.Tensor | None:
        """``(bands, n_bins)`` matrix that maps :meth:`band_masks` to bin masks, for
        models that predict masks at band resolution; None for bin-resolution models.
        With it the separator applies band masks block by block instead of forming
        the (large) bin masks first."""
        return None

    def masks(self, mag: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError


class LarsNet(SeparationModel):
    """The published model: one independent U-Net per stem (``unets[stem]``)."""

    time_multiple = TIME_MULTIPLE

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config or ModelConfig()
        width = int(self.config.arch_params.get("width", 16))
        self.unets = nn.ModuleDict(
            {
                stem: UNet(self.config.n_bins, self.config.audio_channels, width)
                for stem in self.config.stems
            }
        )

    def masks(self, mag: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.unets[stem](mag) for stem in self.config.stems], dim=1)


ARCHITECTURES: dict[str, Callable[[ModelConfig], SeparationModel]] = {"larsnet": LarsNet}
"""Architecture name -> constructor; checkpoints name their architecture here."""


def register_architecture(name: str, factory: Callable[[ModelConfig], SeparationModel]) -> None:
    """Make ``name`` loadable from checkpoints (used by our own architectures)."""
    ARCHITECTURES[name] = factory


def build_model(config: ModelConfig) -> SeparationModel:
    """Instantiate the architecture a config names (random weights)."""
    import larsnet.bandnet  # noqa: F401  (registers our own architectures)
    import larsnet.band_ensemble  # noqa: F401

    try:
        factory = ARCHITECTURES[config.arch]
    except KeyError:
        raise ValueError(
            f"unknown architecture {config.arch!r}; known: {', '.join(sorted(ARCHITECTURES))}"
        ) from None
    return factory(config)
