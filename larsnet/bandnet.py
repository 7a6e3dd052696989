"""BandUNet: one shared U-Net over frequency *bands*, our architecture for CPU budgets.

LarsNet spends most of its FLOPs on five full-resolution U-Nets over 2048 bins. Drums
differ most in the low end (kick, toms and snare bodies overlap below ~700 Hz) and are
broadband noise above, so this model keeps the lowest ``full_res_bins`` bins as they are
and pools the rest into geometrically widening bands, runs one U-Net on the pooled
log-magnitude, and predicts every stem's mask at once (``len(stems) * channels`` output
maps), interpolated back to all bins. It is ~40x cheaper than LarsNet per second of
audio, which is what makes training and 50x-real-time inference possible on a 2-core CPU.

``shares=True`` divides the stems' sigmoid masks by their sum in every band, so the
masks are each stem's share of the mixture and always add up to one: the model is
trained on exactly what the alpha-Wiener filter (alpha 1) gives at inference, and the
stems sum back to the mixture with or without the filter. Linear interpolation to
bins keeps the sum at one, and keeps the trainer's band-resolution loss exact.

Shapes: ``masks(mag[B, C, 2048, T]) -> [B, S, C, 2048, T]``, T a multiple of 2**depth.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from larsnet.model import ModelConfig, SeparationModel, register_architecture

DEFAULT_PARAMS = {"width": 32, "depth": 4, "bands": 256, "full_res_bins": 64, "shares": False}


def band_edges(n_bins: int, bands: int, full_res_bins: int) -> np.ndarray:
    """``bands + 1`` increasing bin edges: single bins up to ``full_res_bins``, then widths
    growing geometrically so that the bands exactly tile the remaining bins."""
    rest_bands = bands - full_res_bins
    rest_bins = n_bins - full_res_bins
    if rest_bands <= 0 or rest_bins < rest_bands:
        raise ValueError(f"cannot split {n_bins} bins into {bands} bands with {full_res_bins} full-resolution bins")
    ideal = np.geomspace(1.0, rest_bins / rest_bands * 2.0, rest_bands)
    ideal *= rest_bins / ideal.sum()
    widths = np.maximum(1, np.floor(ideal)).astype(int)
    # hand the remaining bins to the bands that lost most to rounding (largest remainder)
    short = rest_bins - widths.sum()
    order = np.argsort(-(ideal - widths))
    for i in range(abs(short)):
        widths[order[i % rest_bands]] += 1 if short > 0 else 0
    if widths.sum() != rest_bins:
        widths[-1] += rest_bins - widths.sum()
    widths = np.sort(widths)
    return np.concatenate([np.arange(full_res_bins + 1), full_res_bins + np.cumsum(widths)])


class _Down(nn.Module):
    """Strided 5x5 conv halving bands and frames, then a residual 3x3 conv."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.down = nn.Sequential(nn.Conv2d(cin, cout, 5, stride=2, padding=2), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))
        self.refine = nn.Sequential(nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x)
        return x + self.refine(x)


class _Up(nn.Module):
    """Transposed 5x5 conv doubling both sizes, merged with the skip by a 3x3 conv."""

    def __init__(self, cin: int, cskip: int, cout: int):
        super().__init__()
        self.up = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, 5, stride=2, padding=2, output_padding=1), nn.BatchNorm2d(cout), nn.ReLU()
        )
        self.merge = nn.Sequential(nn.Conv2d(cout + cskip, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.merge(torch.cat([skip, self.up(x)], dim=1))


class BandUNet(SeparationModel):
    """One U-Net on pooled log-magnitude bands predicting all stems' masks."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        params = {**DEFAULT_PARAMS, **config.arch_params}
        width, depth = int(params["width"]), int(params["depth"])
        bands, full_res = int(params["bands"]), int(params["full_res_bins"])
        if bands % 2**depth:
            raise ValueError(f"bands must be a multiple of 2**depth = {2**depth}")
        self.time_multiple = 2**depth
        self.shares = bool(params["shares"])
        self.n_stems = len(config.stems)
        channels = config.audio_channels
        edges = band_edges(config.n_bins, bands, full_res)
        self.register_buffer("edges", torch.as_tensor(edges, dtype=torch.long), persistent=False)
        # Linear interpolation from band centres back to bins: lower band index and weight.
        centres = (edges[:-1] + edges[1:] - 1) / 2.0
        position = np.interp(np.arange(config.n_bins), centres, np.arange(bands))
        lower = np.clip(np.floor(position).astype(int), 0, bands - 2)
        self.register_buffer("lower", torch.as_tensor(lower), persistent=False)
        self.register_buffer("weight", torch.as_tensor(position - lower, dtype=torch.float32), persistent=False)
        interpolation = torch.zeros(bands, config.n_bins)
        columns = torch.arange(config.n_bins)
        interpolation[self.lower, columns] = 1 - self.weight
        interpolation[self.lower + 1, columns] += self.weight
        self.register_buffer("interpolation", interpolation, persistent=False)
        self.input_norm = nn.BatchNorm2d(bands)
        sizes = [channels] + [width * 2**k for k in range(depth)]
        self.encoders = nn.ModuleList(_Down(sizes[k], sizes[k + 1]) for k in range(depth))
        self.bottleneck = nn.Sequential(nn.Conv2d(sizes[-1], sizes[-1], 3, padding=1), nn.BatchNorm2d(sizes[-1]), nn.LeakyReLU(0.2))
        ups = []
        for k in range(depth - 1, 0, -1):
            ups.append(_Up(sizes[k + 1], sizes[k], sizes[k]))
        self.decoders = nn.ModuleList(ups)
        self.head = nn.ConvTranspose2d(sizes[1], self.n_stems * channels, 5, stride=2, padding=2, output_padding=1)
        self.refine = nn.Conv2d(self.n_stems * channels + channels, self.n_stems * channels, 3, padding=1)

    def pool(self, mag: torch.Tensor) -> torch.Tensor:
        """``mag[B, C, F, T] -> band means[B, C, bands, T]`` via a cumulative sum (O(F)).

        The sum runs along a contiguous axis of bins: the separator's spectra are time-major
        already (as ``torch.stft`` lays them out), and other layouts are copied to it first. On a
        23.8 s chunk the pooling took 29 ms with the sum down a strided axis, 5 ms along the
        bins' own."""
        bins_last = mag.transpose(-1, -2)  # (B, C, T, F): a view with bins contiguous when time-major
        if bins_last.stride(-1) != 1:
            bins_last = bins_last.contiguous()
        csum = torch.nn.functional.pad(bins_last.cumsum(dim=-1), (1, 0))  # (B, C, T, F + 1)
        sums = csum[..., self.edges[1:]] - csum[..., self.edges[:-1]]
        widths = (self.edges[1:] - self.edges[:-1]).to(mag.dtype)
        return (sums / widths).transpose(-1, -2).contiguous()

    def unpool(self, bands: torch.Tensor) -> torch.Tensor:
        """``[..., bands, T] -> [..., F, T]`` by linear interpolation between band centres.

        Computed as a product with the (bands x F) interpolation matrix on the
        time-major view: BLAS does it faster than two gathers, and the result is stored
        time-major (bins contiguous), the layout of ``torch.stft``'s output, so that
        multiplying it with the spectrogram runs at memory speed instead of striding.
        """
        return torch.matmul(bands.transpose(-1, -2), self.interpolation).transpose(-1, -2)

    @property
    def masks_sum_to_one(self) -> bool:
        return self.shares

    @property
    def band_interpolation(self) -> torch.Tensor:
        return self.interpolation

    def masks(self, mag: torch.Tensor) -> torch.Tensor:
        return self.unpool(self.band_masks(mag))

    def band_masks(self, mag: torch.Tensor) -> torch.Tensor:
        """``mag[B, C, F, T] -> band masks[B, S, C, bands, T]`` (before interpolation to bins).

        The bin masks are a fixed linear map of these, which lets the trainer evaluate
        its loss at band resolution exactly (see :mod:`larsnet.train.losses`).
        """
        batch, channels, _, frames = mag.shape
        features = torch.log(self.pool(mag) + 1e-5)  # (B, C, bands, T)
        x = self.input_norm(features.transpose(1, 2)).transpose(1, 2)  # BN per band
        skips = []
        for encoder in self.encoders:
            skips.append(x)
            x = encoder(x)
        x = self.bottleneck(x)
        for decoder in self.decoders:
            x = decoder(x, skips.pop())
        logits = self.head(x)  # (B, S*C, bands, T)
        # last look at the normalised input features (the first skip) at band resolution
        logits = self.refine(torch.cat([logits, skips.pop()], dim=1))
        # sigmoid at band resolution, then interpolate: 8x cheaper than at bin resolution
        masks = torch.sigmoid(logits).reshape(batch, self.n_stems, channels, -1, frames)
        if self.shares:
            masks = masks / (masks.sum(dim=1, keepdim=True) + 1e-6)
        return masks


register_architecture("band_unet", BandUNet)
