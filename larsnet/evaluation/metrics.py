"""The numbers of the paper's evaluation: nSDR, stem presence, and the oracle mask.

Audio follows the project convention, float ``(channels, frames)`` arrays at 44.1 kHz;
every metric here is computed in float64 whatever the input dtype, so two runs over
the same arrays give the same numbers to the last digit.

nSDR (LarsNet paper; spec "Evaluation protocol")::

    nSDR(s, s_hat) = 10 * log10((mean(s ** 2) + 1e-7) / (mean((s - s_hat) ** 2) + 1e-7))

with the means over both channels and all samples. Silence as the estimate scores
exactly 0 dB; ``s_hat = g * s`` scores ``-20 * log10(|1 - g|)`` (6.02 dB for g = 0.5)
up to the 1e-7 floor, which matters only for very quiet stems.

Presence (training notes): a stem is present in a clip when its RMS over both
channels and all samples exceeds -60 dBFS, where 0 dBFS is an RMS of 1.0 (a
full-scale square wave).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from larsnet.stft import Stft

EPSILON = 1e-7
"""The floor added to both powers of the nSDR ratio, as in the paper."""

PRESENCE_THRESHOLD_DB = -60.0
"""Default presence threshold: stem RMS above this many dBFS."""

ORACLE_FLOOR = 1e-12
"""Added to the summed stem magnitudes of the oracle mask: only guards 0 / 0."""


def _check_pair(reference: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    if ref.shape != est.shape:
        raise ValueError(f"reference and estimate must have the same shape, got {ref.shape} and {est.shape}")
    if ref.size == 0:
        raise ValueError("cannot score empty audio (0 samples)")
    return ref, est


def nsdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """nSDR in dB of ``estimate`` against ``reference`` (same shape, e.g. ``(2, L)``).

    ``10 * log10((mean(s^2) + 1e-7) / (mean((s - s_hat)^2) + 1e-7))``, the means over
    every element (both channels, all samples).
    """
    ref, est = _check_pair(reference, estimate)
    signal = float(np.mean(ref**2))
    error = float(np.mean((ref - est) ** 2))
    return 10.0 * float(np.log10((signal + EPSILON) / (error + EPSILON)))


def rms_db(audio: np.ndarray) -> float:
    """RMS over all elements in dBFS (RMS 1.0 = 0 dBFS); ``-inf`` for digital silence."""
    array = np.asarray(audio, dtype=np.float64)
    if array.size == 0:
        raise ValueError("cannot measure empty audio (0 samples)")
    power = float(np.mean(array**2))
    return 10.0 * float(np.log10(power)) if power > 0 else float("-inf")


def present(stem_audio: np.ndarray, threshold_db: float = PRESENCE_THRESHOLD_DB) -> bool:
    """Whether a reference stem counts in the averages: RMS strictly above ``threshold_db`` dBFS."""
    return rms_db(stem_audio) > threshold_db


Stack = Mapping[str, np.ndarray] | Sequence[np.ndarray] | np.ndarray
"""Several signals of one shape: ``{name: (C, L)}`` or ``(N, C, L)``."""


def _as_stack(stems: Stack, order: Sequence[str] | None) -> np.ndarray:
    """``{stem: (C, L)}`` (in ``order``) or ``(S, C, L)`` -> float64 ``(S, C, L)``."""
    if isinstance(stems, Mapping):
        names = list(order) if order is not None else list(stems)
        return np.stack([np.asarray(stems[name], dtype=np.float64) for name in names])
    return np.asarray(stems, dtype=np.float64)


def oracle_irm(
    mixture: np.ndarray,
    stems: Mapping[str, np.ndarray] | Sequence[np.ndarray] | np.ndarray,
    *,
    stft: Stft | None = None,
    order: Sequence[str] | None = None,
) -> np.ndarray:
    """Oracle ideal-ratio-mask estimates: ``mixture[C, L]``, ``stems[S, C, L]`` -> ``[S, C, L]``.

    The ceiling of a magnitude-mask model with mixture phase, computed with the
    model's own front end (:class:`larsnet.stft.Stft`, n_fft 4096, hop 1024, the
    same end padding and centring) on every channel separately:

    - ``X = STFT(mixture)``, ``S_j = STFT(stem_j)`` (complex, all ``n_fft/2 + 1`` bins);
    - ``IRM_j = |S_j| / (sum_k |S_k| + 1e-12)`` per channel, bin and frame: the
      amplitude (not power) ratio mask, in [0, 1], summing to 1 wherever any stem
      has energy (0 for every stem where none has);
    - ``estimate_j = iSTFT(IRM_j * X, length=L)``, i.e. the mask applies to the
      mixture magnitude and the estimate keeps the mixture phase, exactly as the
      model's masks do.

    The mask uses the true stems, so it also applies when the mixture is not exactly
    their sum (a clipped or dithered mixture file). Unlike the model, the Nyquist bin
    is masked too rather than zeroed; its energy in drum audio is negligible.
    ``stems`` may be a mapping, then taken in ``order`` (default: its own order).
    """
    stft = stft or Stft()
    mix = np.asarray(mixture, dtype=np.float64)
    stack = _as_stack(stems, order)
    if stack.ndim != 3 or stack.shape[1:] != mix.shape:
        raise ValueError(f"stems must be shaped (S, *mixture.shape) = (S, {mix.shape}), got {stack.shape}")
    length = mix.shape[-1]
    with torch.no_grad():
        mix_spec = stft.forward(stft.pad_end(torch.from_numpy(mix)))  # (C, F, T) complex128
        stem_mags = stft.forward(stft.pad_end(torch.from_numpy(stack))).abs()  # (S, C, F, T)
        masks = stem_mags / (stem_mags.sum(dim=0, keepdim=True) + ORACLE_FLOOR)  # (S, C, F, T)
        estimates = stft.inverse(masks * mix_spec, length)  # (S, C, L); mask broadcast over stems
    return estimates.numpy()


def energy_transfer(
    mixture: np.ndarray,
    stems: Mapping[str, np.ndarray] | Sequence[np.ndarray] | np.ndarray,
    estimates: Mapping[str, np.ndarray] | Sequence[np.ndarray] | np.ndarray,
    *,
    stft: Stft | None = None,
    order: Sequence[str] | None = None,
) -> np.ndarray:
    """``T[i, j]``: the share of true stem ``i``'s energy that reaches estimate ``j``.

    nSDR says how far an estimate is off, not where the missing energy went. Reading
    each estimate as a magnitude mask on the mixture, ``M_j = min(|E_j| / |X|, 1)`` per
    channel, bin and frame (the model's STFT), ``T[i, j] = sum M_j^2 |S_i|^2 / sum |S_i|^2``.
    The diagonal is what a stem keeps; ``T[kick, toms] = 0.06`` means the toms stem took
    6 % of the kick. A row sums to 1 only where each bin goes whole to one estimate:
    a bin split in half gives each estimate a quarter of its energy. Exact for mask models with mixture phase (ours, LarsNet, the
    oracle), an approximation for other estimators. Rows of silent stems are NaN.
    ``mixture[C, L]``, ``stems`` and ``estimates`` ``[S, C, L]`` (or mappings, taken in ``order``).
    """
    refs, ests = _as_stack(stems, order), _as_stack(estimates, order)
    if refs.shape != ests.shape:
        raise ValueError(f"stems and estimates must be shaped (S, *mixture.shape), got {refs.shape} and {ests.shape}")
    return _transfer(mixture, refs, ests, stft or Stft())


def piece_transfer(mixture: np.ndarray, pieces: Stack, estimates: Stack, *, stft: Stft | None = None,
                   order: Sequence[str] | None = None) -> np.ndarray:
    """:func:`energy_transfer` with finer rows: ``T[p, j]``, the share of drum *piece*
    ``p``'s energy (e.g. the open hi-hat alone) in estimate ``j``. A stem's row mixes
    its pieces; these rows tell which one goes astray (an open hat heard as a cymbal,
    a floor tom as the kick). ``pieces[P, C, L]`` (or a mapping), ``estimates[S, C, L]``
    (or a mapping taken in ``order``)."""
    refs = _as_stack(pieces, None)
    ests = _as_stack(estimates, order)
    return _transfer(mixture, refs, ests, stft or Stft())


def _transfer(mixture: np.ndarray, refs: np.ndarray, ests: np.ndarray, stft: Stft) -> np.ndarray:
    """``refs[R, C, L]``, ``ests[S, C, L]`` -> ``(R, S)`` energy shares (see :func:`energy_transfer`)."""
    mix = np.asarray(mixture, dtype=np.float64)
    if refs.ndim != 3 or ests.ndim != 3 or refs.shape[1:] != mix.shape or ests.shape[1:] != mix.shape:
        raise ValueError(f"references and estimates must be shaped (N, *mixture.shape) = (N, {mix.shape}), "
                         f"got {refs.shape} and {ests.shape}")
    with torch.no_grad():
        def spec(x: np.ndarray) -> torch.Tensor:
            return stft.forward(stft.pad_end(torch.from_numpy(x)))

        mix_mag = spec(mix).abs()
        masks = (spec(ests).abs() / (mix_mag + ORACLE_FLOOR)).clamp(max=1.0)
        stem_power = spec(refs).abs().square()
        moved = torch.einsum("icft,jcft->ij", stem_power, masks.square()).numpy()
        energy = stem_power.flatten(1).sum(-1).numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(energy[:, None] > 0, moved / energy[:, None], np.nan)
