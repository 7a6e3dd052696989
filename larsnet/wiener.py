"""The alpha-Wiener post-filter of LarsNet.

Each stem's masked magnitude raised to ``alpha`` becomes a share of the mixture
magnitude, so the five estimates sum back to the mixture (up to the 1e-7 floor).
"""
from __future__ import annotations

import torch

EPSILON = 1e-7


def alpha_wiener(stem_mags: torch.Tensor, mix_mag: torch.Tensor, alpha: float) -> torch.Tensor:
    """``stem_mags[S, ...]`` (mask * |X| per stem), ``mix_mag[...]`` -> ``stem_mags[S, ...]``.

    P_j = stem_j ** alpha; W_j = P_j / (sum_k P_k + 1e-7); out_j = W_j * |X|.
    """
    return wiener_shares(stem_mags, alpha) * mix_mag


def wiener_shares(stem_mags: torch.Tensor, alpha: float) -> torch.Tensor:
    """``W_j = P_j / (sum_k P_k + 1e-7)``: each stem's share of the mixture per bin.

    Multiplying the complex mixture spectrogram by ``W_j`` gives the same stem as
    ``polar(W_j * |X|, angle(X))`` without computing the angle, its cosine and sine
    per bin, which cost more than the network itself for a small model.
    """
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    power = stem_mags if alpha == 1 else stem_mags**alpha
    return power / (power.sum(dim=0, keepdim=True) + EPSILON)
