"""Training losses on spectrograms.

``masked_l1`` is the paper's loss: L1 between mask * |X| and |S| per stem. On this
CPU it tends to let sparse stems (toms, hi-hat, cymbals) collapse to silent masks,
because silence is nearly free under L1 most of the time (training-notes.md).
``spectral_nsdr`` is the evaluation metric itself, computed on complex spectrograms
(the STFT with a periodic Hann window at 75 % overlap is a tight frame, so this is the
waveform nSDR up to a constant factor inside the log): silence scores exactly 0 dB
on it, so any stem that is present pays for being muted.
"""
from __future__ import annotations

import torch

from larsnet.wiener import form_spatial_stems, spatial_covariances, spatial_weights


def masked_l1(est_mag: torch.Tensor, target_mag: torch.Tensor) -> torch.Tensor:
    """Mean absolute error; both ``[B, S, C, F, T]``."""
    return (est_mag - target_mag).abs().mean()


def spectral_nsdr(
    masks: torch.Tensor,
    target_power: torch.Tensor,
    cross: torch.Tensor,
    mix_power: torch.Tensor,
    present: torch.Tensor,
    eps: float = 1e-7,
) -> torch.Tensor:
    """Mean nSDR (dB) of ``masks * X`` against the stems, over present (example, stem) pairs.

    Written without complex tensors in the graph: with ``S`` a stem's spectrogram and
    ``X`` the mixture's, ``|S - m X|^2 = |S|^2 - 2 m Re(S X*) + m^2 |X|^2``, so only the
    real ``masks[B, S, C, F, T]`` carry gradients and the rest is precomputed once:
    ``target_power[B, S]`` = mean |S|^2, ``cross[B, S, C, F, T]`` = Re(S X*),
    ``mix_power[B, C, F, T]`` = |X|^2. ``present[B, S]`` selects the pairs where the stem
    is audible, as the paper's protocol averages only over those. Returns a scalar to
    *maximise*.
    """
    count = masks[0, 0].numel()
    error = target_power - (2 * (masks * cross) - masks.square() * mix_power[:, None]).flatten(2).sum(-1) / count
    score = 10 * torch.log10((target_power + eps) / (error.clamp_min(0) + eps))
    weight = present.to(score.dtype)
    return (score * weight).sum() / weight.sum().clamp_min(1.0)


def spectral_leak(masks: torch.Tensor, mix_power: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Mean share of the mixture's energy that ``masks * X`` puts into absent stems.

    nSDR is undefined for a silent stem, so without this term nothing stops an absent
    stem's mask from taking energy that, after the Wiener filter, the present stems
    lose. ``masks[B, S, C, F, T]``, ``mix_power[B, C, F, T]`` = |X|^2, ``present[B, S]``.
    The same quantity as the leak term of :func:`band_nsdr_loss`, at bin resolution.
    """
    energy = (masks.square() * mix_power[:, None]).flatten(2).sum(-1)  # (B, S)
    share = energy / mix_power.flatten(1).sum(-1)[:, None].clamp_min(1e-12)
    absent = 1 - present.to(share.dtype)
    return (share * absent).sum() / absent.sum().clamp_min(1.0)


class BandProjection:
    """Exact band-resolution forms of the bin sums the nSDR loss needs.

    For a model whose bin masks interpolate band masks linearly,
    ``m_f = (1 - w_f) b[l_f] + w_f b[l_f + 1]``, every term of ``|S - m X|^2`` summed over
    bins is linear or quadratic in ``b``: ``sum_f m_f P_f = sum_k b_k C_k`` and
    ``sum_f m_f^2 Q_f = sum_k b_k^2 A_k + sum_k b_k b_{k+1} D_k``. Projecting ``P`` and
    ``Q`` once (no gradients) lets the loss and its backward run on ``bands`` instead of
    2048 bins: the same numbers, several times cheaper.
    """

    def __init__(self, lower: torch.Tensor, weight: torch.Tensor, bands: int):
        self.lower = lower
        self.weight = weight
        self.bands = bands

    def _scatter(self, values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        shape = list(values.shape)
        shape[-2] = self.bands
        return values.new_zeros(shape).index_add_(-2, index, values)

    def linear(self, p: torch.Tensor) -> torch.Tensor:
        """``P[..., F, T] -> C[..., bands, T]``."""
        w = self.weight[:, None]
        return self._scatter((1 - w) * p, self.lower) + self._scatter(w * p, self.lower + 1)

    def quadratic(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``Q[..., F, T] -> (A[..., bands, T], D[..., bands, T])``; D pairs band k with k+1."""
        w = self.weight[:, None]
        a = self._scatter((1 - w).square() * q, self.lower) + self._scatter(w.square() * q, self.lower + 1)
        d = self._scatter(2 * w * (1 - w) * q, self.lower)
        return a, d


def band_energy(b: torch.Tensor, a: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """``sum_f m_f^2 Q_f`` from band masks ``b[..., K, T]`` and the projections of ``Q``."""
    return (b.square() * a).flatten(-2).sum(-1) + (b[..., :-1, :] * b[..., 1:, :] * d[..., :-1, :]).flatten(-2).sum(-1)


def band_nsdr_loss(
    b: torch.Tensor,
    target_energy: torch.Tensor,
    cross: torch.Tensor,
    mix_a: torch.Tensor,
    mix_d: torch.Tensor,
    mix_energy: torch.Tensor,
    present: torch.Tensor,
    absent_weight: float = 1.0,
    eps: float = 1e-7,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """nSDR over present stems and leaked energy over absent ones, at band resolution.

    ``b[B, S, C, K, T]`` band masks; ``target_energy[B, S]`` = sum |S|^2;
    ``cross[B, S, C, K, T]`` = projected Re(S X*); ``mix_a``, ``mix_d[B, C, K, T]`` =
    projected |X|^2; ``mix_energy[B]`` = sum |X|^2; ``present[B, S]``. Returns
    (loss to minimise, mean nSDR in dB over present pairs, mean leaked energy share over
    absent pairs). The leak term is what keeps a silent stem silent: nSDR alone is
    undefined where a stem has no energy.
    """
    linear = (b * cross).flatten(2).sum(-1)  # (B, S)
    quadratic = band_energy(b, mix_a[:, None], mix_d[:, None]).sum(-1)  # (B, S, C) -> (B, S)
    error = (target_energy - 2 * linear + quadratic).clamp_min(0)
    n = float(b.shape[2] * b.shape[-1])  # normalise like a mean so eps keeps its meaning
    score = 10 * torch.log10((target_energy / n + eps) / (error / n + eps))
    present_w = present.to(score.dtype)
    absent_w = 1 - present_w
    nsdr = (score * present_w).sum() / present_w.sum().clamp_min(1.0)
    leak = ((quadratic / mix_energy[:, None].clamp_min(1e-12)) * absent_w).sum() / absent_w.sum().clamp_min(1.0)
    return -nsdr / 10.0 + absent_weight * leak, nsdr, leak


def spatial_nsdr(
    estimates: torch.Tensor,
    stem_spec: torch.Tensor,
    mix_spec: torch.Tensor,
    present: torch.Tensor,
    rounds: int,
    eps: float = 1e-7,
) -> torch.Tensor:
    """Mean nSDR (dB) of the stems the multichannel Wiener filter forms from ``estimates``.

    ``estimates[B, S, 2, F, T]`` the model's magnitudes (bin masks * |X|), ``stem_spec`` the true
    stems' spectra ``[B, S, 2, F, T]`` and ``mix_spec[B, 2, F, T]`` their sum, ``present[B, S]``.
    Why: with the filter on (the example graphs), the stems come from ``v_j R_j C^-1 x``, not from
    the masks; a mask that is best alone need not be the best weight there. The covariances are
    estimated as at inference (``rounds`` rounds, :func:`larsnet.wiener.spatial_covariances`) and
    held fixed; the gradient flows through the weights ``v_j``. Returns a scalar to *maximise*.
    """
    with torch.no_grad():
        parts = [spatial_covariances(estimates[b].detach(), mix_spec[b], rounds) for b in range(estimates.shape[0])]
        covariances = tuple(torch.stack([c[k] for c in parts]) for k in range(3))  # (B, F, S) each
    power = spatial_weights(estimates.permute(0, 3, 1, 2, 4), channel_dim=3)  # (B, F, S, T)
    left, right = form_spatial_stems(power, covariances, mix_spec[:, 0], mix_spec[:, 1])  # type: ignore[arg-type]
    target = stem_spec.permute(0, 3, 1, 2, 4)  # (B, F, S, 2, T)
    error = ((target[..., 0, :] - left).abs().square() + (target[..., 1, :] - right).abs().square()).sum(dim=(1, 3))
    energy = target.abs().square().sum(dim=(1, 3, 4))  # (B, S)
    n = float(stem_spec[0, 0].numel())
    score = 10 * torch.log10((energy / n + eps) / (error / n + eps))
    weight = present.to(score.dtype)
    return (score * weight).sum() / weight.sum().clamp_min(1.0)
