"""The LarsNet U-Net, with the exact module names of the published checkpoints.

One of these per stem. Attribute names (``input_norm``, ``enc1.conv``, ``enc1.bn``,
``dec1.conv_trans``, ``mask_layer.0`` ...) are the state-dict keys of the authors'
``pretrained_<stem>_unet.pth`` files, so those load strictly and unchanged.
``width`` scales every channel count; 16 is the published model (9,828,680 parameters).
"""
from __future__ import annotations

import torch
from torch import nn

DEPTH = 6
"""Six stride-2 levels: time and frequency sizes must be multiples of 2**6."""

TIME_MULTIPLE = 2**DEPTH


class EncoderBlock(nn.Module):
    """Conv 5x5 stride 2 -> BN -> LeakyReLU(0.2); also hands back the raw conv output.

    The raw (pre-BN) output feeds the skip connection: that is how the published
    model was trained, so we keep it even though it is unusual.
    """

    def __init__(self, in_channels: int, out_channels: int, leaky_slope: float = 0.2):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=5, stride=2, padding=2)
        self.bn = nn.BatchNorm2d(out_channels)
        self.activation = nn.LeakyReLU(leaky_slope)
        nn.init.kaiming_uniform_(self.conv.weight, a=leaky_slope, nonlinearity="leaky_relu")
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw = self.conv(x)
        return self.activation(self.bn(raw)), raw


class DecoderBlock(nn.Module):
    """ConvTranspose 5x5 stride 2 (doubles both sizes) -> ReLU -> BN -> Dropout."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0):
        super().__init__()
        self.conv_trans = nn.ConvTranspose2d(
            in_channels, out_channels, kernel_size=5, stride=2, padding=2, output_padding=1
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.activation = nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.bn(self.activation(self.conv_trans(x))))


class UNet(nn.Module):
    """Magnitude in, sigmoid mask out, for one stem.

    Shapes: ``mag[B, C, F, T] -> mask[B, C, F, T]`` with C = ``audio_channels`` (2),
    F = ``n_bins`` (2048: the Nyquist bin is left out) and T a multiple of 64.
    """

    def __init__(self, n_bins: int = 2048, audio_channels: int = 2, width: int = 16):
        super().__init__()
        if n_bins % TIME_MULTIPLE:
            raise ValueError(f"n_bins must be a multiple of {TIME_MULTIPLE}, got {n_bins}")
        self.n_bins = n_bins
        self.audio_channels = audio_channels
        self.width = width
        channels = [audio_channels] + [width * 2**k for k in range(DEPTH)]  # 2,16,...,512
        # Frequency bins act as BN channels: one learned scale per bin.
        self.input_norm = nn.BatchNorm2d(n_bins)
        for k in range(DEPTH):
            setattr(self, f"enc{k + 1}", EncoderBlock(channels[k], channels[k + 1]))
        # dec1 takes the bottleneck; the others take [skip, previous] concatenated.
        for k in range(DEPTH):
            out_ch = channels[DEPTH - 1 - k]
            in_ch = channels[DEPTH] if k == 0 else 2 * channels[DEPTH - k]
            setattr(self, f"dec{k + 1}", DecoderBlock(in_ch, out_ch, dropout=0.5 if k < 3 else 0.0))
        self.mask_layer = nn.Sequential(
            nn.Conv2d(audio_channels, audio_channels, kernel_size=4, dilation=2, padding=3),
            nn.Sigmoid(),
        )
        nn.init.kaiming_uniform_(self.mask_layer[0].weight)
        nn.init.zeros_(self.mask_layer[0].bias)

    def forward(self, mag: torch.Tensor) -> torch.Tensor:
        x = self.input_norm(mag.transpose(1, 2)).transpose(1, 2)  # BN over F: (B,F,C,T) and back
        skips = []
        for k in range(DEPTH):
            x, raw = getattr(self, f"enc{k + 1}")(x)
            skips.append(raw)
        x = skips.pop()  # enc6's raw conv output is the bottleneck (its BN is unused)
        x = self.dec1(x)
        for k in range(1, DEPTH):
            x = getattr(self, f"dec{k + 1}")(torch.cat([skips.pop(), x], dim=1))
        return self.mask_layer(x)
