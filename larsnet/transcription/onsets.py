"""Onset detection on one isolated drum stem: log-band spectral flux and peak picking.

The front end follows SuperFlux (Böck & Widmer, DAFx 2013), sized for drum stems:

1. mono = the mean of the channels; a Hann-windowed STFT every 10 ms
   (``hop = sample_rate / 100``, window :attr:`StemSettings.n_fft`);
2. magnitudes summed into log-spaced bands (:data:`BANDS_PER_OCTAVE` per octave from
   :data:`F_MIN_HZ` to :data:`F_MAX_HZ`), divided by the stem's loudest band value,
   then ``log10(1 + log_scale * x)``: the compression is relative to the stem's own
   peak, so a quiet recording gives the same onsets as a loud one;
3. the onset detection function (ODF) of frame ``t`` is the weighted sum over bands of
   the half-wave rectified rise of the band against the maximum of its neighbouring
   bands ``lag`` frames earlier (the maximum over frequency keeps a tom's pitch glide
   or a ringing cymbal from looking like a new hit). The weights are the stem's
   (:attr:`StemSettings.band_hz`: a kick listens to the lows, a hi-hat to the highs),
   so bleed outside the stem's range weighs little when the stems come from a model;
4. onsets are local maxima of the ODF (within ``max_before_s``/``max_after_s``) that
   rise ``delta`` above the moving mean of the ODF over ``[-avg_before_s,
   +avg_after_s]``, exceed ``relative_floor`` times the stem's strongest onset and
   ``absolute_floor``, and lie at least ``min_ioi_s`` from a stronger onset.

Shapes: audio ``(channels, frames)`` float; spectrogram ``(T, B)``; ODF ``(T,)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sp_fft
from scipy import ndimage

FRAME_RATE = 100.0
"""Spectrogram and ODF frames per second (10 ms hop)."""

BANDS_PER_OCTAVE = 12
F_MIN_HZ = 30.0
F_MAX_HZ = 16_000.0
SILENCE_DB = -70.0
"""A stem whose loudest band never exceeds this (dB re a full-scale sine) has no onsets."""


@dataclass(frozen=True)
class StemSettings:
    """How onsets of one stem are found (see the module docstring for each step).

    ``band_hz``: the frequency range that counts fully; bands outside weigh
    ``outside_weight``. ``relative_floor`` is the main sensitivity knob: onsets whose
    ODF peak is below this fraction of the stem's strongest are dropped (raise it
    against bleed and ghost notes, lower it to catch soft hits).
    """

    band_hz: tuple[float, float]
    outside_weight: float = 0.1
    n_fft: int = 2048
    log_scale: float = 30.0
    lag: int = 2
    max_bands: int = 3
    delta: float = 0.0
    relative_floor: float = 0.0
    absolute_floor: float = 0.0
    min_ioi_s: float = 0.02
    avg_before_s: float = 0.05
    avg_after_s: float = 0.07
    max_before_s: float = 0.03
    max_after_s: float = 0.03
    latency_s: float = 0.0
    """Subtracted from detected onset times (the systematic lag of the ODF peak)."""


@dataclass(frozen=True)
class Spectrogram:
    """``bands[T, B]``: magnitudes per frame and log-spaced band (a full-scale sine = 1).

    ``frequencies[B]``: the centre of each band in Hz; frame ``t`` is centred at
    ``t * hop / sample_rate`` seconds of the audio.
    """

    bands: np.ndarray
    frequencies: np.ndarray
    hop: int
    sample_rate: int
    n_fft: int

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    @property
    def n_frames(self) -> int:
        return int(self.bands.shape[0])

    def frame_of(self, time_s: float) -> int:
        return int(round(time_s * self.frame_rate))

    def level_db(self, mask: np.ndarray | None = None) -> np.ndarray:
        """``(T,)`` level in dB (re a full-scale sine) of the bands in ``mask`` (default: all)."""
        bands = self.bands if mask is None else self.bands[:, mask]
        return 20.0 * np.log10(bands.sum(axis=1) + 1e-9)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """``(channels, frames)`` or ``(frames,)`` -> float32 ``(frames,)``: the channel mean."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        return x
    if x.ndim != 2:
        raise ValueError(f"audio must be shaped (channels, frames), got {x.shape}")
    return x.mean(axis=0)


def band_matrix(sample_rate: int, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """0/1 matrix ``(n_fft // 2 + 1, B)`` summing FFT bins into log-spaced bands, and band centres in Hz.

    Band edges are ``F_MIN_HZ * 2 ** (k / BANDS_PER_OCTAVE)`` rounded to bins; edges that
    round to the same bin are merged, so no band is empty.
    """
    bin_hz = sample_rate / n_fft
    top = min(F_MAX_HZ, sample_rate / 2)
    n_edges = int(np.floor(BANDS_PER_OCTAVE * np.log2(top / F_MIN_HZ))) + 1
    edges_hz = F_MIN_HZ * 2.0 ** (np.arange(n_edges) / BANDS_PER_OCTAVE)
    n_bins = n_fft // 2 + 1
    edges = np.unique(np.round(edges_hz / bin_hz).astype(int))
    edges = edges[edges < n_bins]
    matrix = np.zeros((n_bins, max(0, len(edges) - 1)), dtype=np.float32)
    for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        matrix[lo:hi, b] = 1.0
    centres = np.sqrt(np.maximum(edges[:-1], 0.5) * edges[1:]) * bin_hz
    return matrix, centres


def spectrogram(audio: np.ndarray, sample_rate: int, *, n_fft: int = 2048, frame_rate: float = FRAME_RATE,
                block_frames: int = 2048) -> Spectrogram:
    """Band magnitudes of ``audio`` (``(channels, frames)`` or mono), one frame per hop, centred."""
    x = to_mono(audio)
    hop = max(1, int(round(sample_rate / frame_rate)))
    n_frames = int(np.ceil(len(x) / hop))
    matrix, centres = band_matrix(sample_rate, n_fft)
    window = np.hanning(n_fft).astype(np.float32) * np.float32(2.0 / np.hanning(n_fft).sum())  # full-scale sine -> 1
    padded = np.pad(x, (n_fft // 2, n_fft // 2 + hop))
    views = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]  # (>= n_frames, n_fft), no copy
    out = np.zeros((n_frames, matrix.shape[1]), dtype=np.float32)
    for t0 in range(0, n_frames, block_frames):  # bounded memory for long tracks
        t1 = min(n_frames, t0 + block_frames)
        spectrum = sp_fft.rfft(views[t0:t1] * window, axis=1)  # (t, n_fft // 2 + 1) complex64
        out[t0:t1] = np.abs(spectrum) @ matrix
    return Spectrogram(out, centres, hop, sample_rate, n_fft)


def band_weights(frequencies: np.ndarray, settings: StemSettings) -> np.ndarray:
    """``(B,)`` weights: 1 inside ``settings.band_hz``, ``outside_weight`` elsewhere; summing to 1."""
    lo, hi = settings.band_hz
    w = np.where((frequencies >= lo) & (frequencies <= hi), 1.0, settings.outside_weight)
    total = w.sum()
    return (w / total if total > 0 else w).astype(np.float32)


def is_silent(spec: Spectrogram) -> bool:
    return spec.bands.size == 0 or 20.0 * np.log10(float(spec.bands.max()) + 1e-12) < SILENCE_DB


def onset_function(spec: Spectrogram, settings: StemSettings) -> np.ndarray:
    """The ODF ``(T,)`` of a stem: weighted, half-wave rectified log-band rise, x10 (see module docstring)."""
    if is_silent(spec):
        return np.zeros(spec.n_frames, dtype=np.float32)
    logs = np.log10(1.0 + settings.log_scale * (spec.bands / float(spec.bands.max())))  # (T, B)
    ref = ndimage.maximum_filter1d(logs, size=settings.max_bands, axis=1, mode="nearest")
    lag = settings.lag
    rise = np.empty_like(logs)
    rise[lag:] = logs[lag:] - ref[:-lag]
    rise[:lag] = logs[:lag]  # against silence before the start
    np.maximum(rise, 0.0, out=rise)
    return (10.0 * (rise @ band_weights(spec.frequencies, settings))).astype(np.float32)


def pick_peaks(odf: np.ndarray, frame_rate: float, settings: StemSettings) -> np.ndarray:
    """Frames of the onsets in ``odf`` (sorted int64), see :class:`StemSettings`."""
    if len(odf) == 0 or float(odf.max()) <= 0.0:
        return np.zeros(0, dtype=np.int64)
    frames = lambda seconds: max(0, int(round(seconds * frame_rate)))  # noqa: E731
    local_max = _window(odf, frames(settings.max_before_s), frames(settings.max_after_s), "max")
    moving_mean = _window(odf, frames(settings.avg_before_s), frames(settings.avg_after_s), "mean")
    floor = max(settings.absolute_floor, settings.relative_floor * float(odf.max()))
    candidates = np.flatnonzero((odf >= local_max) & (odf >= moving_mean + settings.delta) & (odf > floor))
    return _enforce_min_ioi(candidates, odf, frames(settings.min_ioi_s))


def detect_onsets(spec: Spectrogram, settings: StemSettings) -> tuple[np.ndarray, np.ndarray]:
    """Onset frames ``(K,)`` and their ODF strengths ``(K,)`` of one stem's spectrogram."""
    odf = onset_function(spec, settings)
    frames = pick_peaks(odf, spec.frame_rate, settings)
    return frames, odf[frames]


def _window(x: np.ndarray, before: int, after: int, kind: str) -> np.ndarray:
    """Max or mean of ``x[t - before : t + after + 1]`` for every ``t`` (zeros beyond the ends)."""
    padded = np.concatenate([np.zeros(before, x.dtype), x, np.zeros(after, x.dtype)])
    width = before + after + 1
    if kind == "max":
        return np.lib.stride_tricks.sliding_window_view(padded, width).max(axis=1)
    sums = np.concatenate([[0.0], np.cumsum(padded, dtype=np.float64)])
    return ((sums[width:] - sums[:-width]) / width).astype(x.dtype)


def _enforce_min_ioi(frames: np.ndarray, odf: np.ndarray, min_frames: int) -> np.ndarray:
    """Keep the strongest onsets first; drop any closer than ``min_frames`` to a kept one."""
    if len(frames) < 2 or min_frames <= 1:
        return frames
    order = frames[np.argsort(-odf[frames], kind="stable")]
    kept: list[int] = []
    taken = np.zeros(len(odf) + min_frames, dtype=bool)
    for f in order:
        if not taken[max(0, f - min_frames + 1): f + min_frames].any():
            kept.append(int(f))
            taken[f] = True
    return np.sort(np.asarray(kept, dtype=np.int64))
