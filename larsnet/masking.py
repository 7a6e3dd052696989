"""Masks times the mixture spectrogram: the step between a model's masks and the iSTFT.

Both functions write ``mask * X`` (the estimate with the mixture's phase, without an
atan2, sine and cosine per bin) into a real-pair buffer laid out like ``torch.stft``'s
output, time-major ``(S, C, T, F', 2)``, and return it as a complex ``(S, C, F', T)``
view ready for :meth:`larsnet.stft.Stft.inverse`. Bins the masks do not cover (the
Nyquist bin LarsNet does not model) are zero. Passing ``out`` lets a caller reuse one
buffer for every chunk of a file (see :mod:`larsnet.scratch`).
"""
from __future__ import annotations

import torch


def masked_shape(stems: int, spec: torch.Tensor) -> tuple[int, ...]:
    """Shape of the real-pair output for ``stems`` stems of ``spec[C, F', T]``."""
    channels, bins, frames = spec.shape
    return (stems, channels, frames, bins, 2)


def _prepare(out: torch.Tensor | None, shape: tuple[int, ...], bins: int, like: torch.Tensor) -> torch.Tensor:
    if out is None:
        out = torch.empty(shape, dtype=like.dtype, device=like.device)
    elif tuple(out.shape) != shape:
        raise ValueError(f"output buffer is shaped {tuple(out.shape)}, expected {shape}")
    out[..., bins:, :].zero_()
    return out


def _pairs(spec: torch.Tensor) -> torch.Tensor:
    """``spec[C, F', T]`` complex -> real pairs ``(C, T, F', 2)`` (a view for stft output)."""
    return torch.view_as_real(spec.transpose(-1, -2))


def apply_masks(spec: torch.Tensor, masks: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``spec[C, F', T]`` complex, ``masks[S, C, F, T]`` real (F <= F') -> ``mask * spec[S, C, F', T]``.

    The product is written in one pass, time-major, as real pairs: a real-times-complex
    product in the other layout cost more than the network.
    """
    stems, _, bins, _ = masks.shape
    out = _prepare(out, masked_shape(stems, spec), bins, masks)
    target = out[..., :bins, :].transpose(-2, -3)  # (S, C, F, T, 2) view into out
    torch.mul(torch.view_as_real(spec[:, :bins]), masks[..., None], out=target)
    return torch.view_as_complex(out).transpose(-1, -2)


class BandMaskApplier:
    """Band masks -> bins -> times the spectrogram, without forming the bin masks.

    A band model's bin masks are ``band_masks @ interpolation`` (``interpolation``:
    bands x bins, linear interpolation between band centres, two non-zeros per bin).
    As one dense product that is ~10 GFLOP per 23.8 s chunk, almost all multiplying
    zeros, and an 84 MB mask tensor that is read once. Here the bins are cut into
    blocks of ``block_bins``; each block only needs the few bands around it, so its
    masks come from a small product (columns doubled so they arrive as real pairs,
    matching the spectrum's layout) and are multiplied into the output at once,
    while they are still in cache. Same result as :func:`apply_masks` of the
    interpolated masks, to float rounding.
    """

    def __init__(self, interpolation: torch.Tensor, block_bins: int = 64):
        self.bands, self.bins = interpolation.shape
        self.blocks: list[tuple[int, int, int, int, torch.Tensor]] = []
        for f0 in range(0, self.bins, block_bins):
            f1 = min(self.bins, f0 + block_bins)
            used = torch.nonzero(interpolation[:, f0:f1].abs().sum(dim=1)).flatten()
            lo, hi = (int(used.min()), int(used.max()) + 1) if used.numel() else (0, 1)
            pairs = interpolation[lo:hi, f0:f1].repeat_interleave(2, dim=1).contiguous()  # (hi - lo, 2 nb)
            self.blocks.append((f0, f1, lo, hi, pairs))

    def __call__(self, spec: torch.Tensor, band_masks: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """``spec[C, F', T]`` complex, ``band_masks[S, C, K, T]`` -> ``mask * spec[S, C, F', T]``
        (the arguments of :func:`apply_masks`)."""
        stems, channels, bands, frames = band_masks.shape
        if bands != self.bands:
            raise ValueError(f"expected {self.bands} bands, got {bands}")
        out = _prepare(out, masked_shape(stems, spec), self.bins, band_masks)
        time_major = band_masks.transpose(-1, -2).contiguous()  # (S, C, T, K): bands contiguous
        flat_spec = _pairs(spec).reshape(channels, frames, -1)  # (C, T, 2 F')
        flat_out = out.view(stems, channels, frames, -1)  # (S, C, T, 2 F')
        for f0, f1, lo, hi, pairs in self.blocks:
            block = torch.matmul(time_major[..., lo:hi], pairs)  # (S, C, T, 2 nb) masks, doubled
            torch.mul(flat_spec[..., 2 * f0 : 2 * f1], block, out=flat_out[..., 2 * f0 : 2 * f1])
        return torch.view_as_complex(out).transpose(-1, -2)

    def to(self, device: torch.device) -> "BandMaskApplier":
        self.blocks = [(f0, f1, lo, hi, pairs.to(device)) for f0, f1, lo, hi, pairs in self.blocks]
        return self
