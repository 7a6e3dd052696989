"""Onsets in one drum stem: bleed gate, onset function, peak picking, backtracking.

Why each step:

- **Gate first** (:func:`gate`). A separated stem carries bleed: the kick's thump in
  the toms stem, the hi-hat under the snare. An onset function reacts to *change*, not
  to level, so a bleed transient 35 dB down would become a one-shot. The gate silences
  (with short ramps) what never comes near the stem's own hits, before anything else
  looks at the audio.
- **Onset function** (:func:`onset_strength`). Spectral flux, the summed rise of band
  levels (dB) over their recent maximum, also sees hits that barely raise the overall
  level (a tom under a ringing one, a ride on a crash's wash). The rise of the frame
  energy (``"energy"``) is the simpler alternative for clean, isolated stems.
- **Peak picking** (:func:`pick_peaks`) against a local mean, with a per-stem minimum
  gap: a crash's wash makes many small flux peaks that are not hits, while 32nd-note
  hats need a short gap.
- **Backtracking** (:func:`backtrack`). The flux peaks when the 23 ms analysis window
  is full of the attack, a few ms late or early. A slice must start just *before* the
  attack, so each peak is moved to where the short-term energy leaves its preceding
  minimum.

Audio is float32 ``(channels, frames)``; detection runs on the channel mean. Onsets are
sample indices (int64).

Limits, measured on kits rendered by :mod:`larsnet.data.sampler`: every onset within
10 ms (mostly within 2 ms) as long as a hit rises a few dB above what rings before it.
A soft hit on the loud tail of the same drum (a ghost note 100 ms after an accent, a
closed hat choking a louder open one) can be missed: nothing rises.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Method = Literal["flux", "energy"]

FLUX_RANGE_DB = 40.0
"""Band levels (and frame energies) are floored this far below the stem's loudest. The
bleed gate leaves digital silence between hits, from which every hit would otherwise
rise by 100 dB or more, dwarfing a hit that lands on a ringing one (a tom fill, a
ghost note after an accent) once the function is normalised to its maximum."""

FLUX_MEMORY = 3
"""Frames (17 ms at 44.1 kHz) whose maximum a band must exceed to count as rising."""

FLUX_BANDS = 64
FLUX_MIN_BINS = 3
FLUX_FMIN_HZ = 30.0

BACKTRACK_WINDOW_MS = 10.0
"""Energy window for backtracking. It ends at each point, so the energy starts to rise
exactly at the onset whatever its length; 10 ms averages out a low drum's half periods
and a noise tail's fluctuations, which would otherwise look like earlier minima."""

BACKTRACK_STEP = 32
"""Backtracking resolution in samples (0.7 ms at 44.1 kHz)."""

BACKTRACK_RISE_DB = -10.0
BACKTRACK_ABOVE_FLOOR_DB = 3.0
BACKTRACK_QUIET_DB = -40.0
"""Where the attack starts: the last point before the attack peak whose energy is still
*either* within 10 % (-10 dB) of the rise above the preceding minimum, *or* at most
3 dB above that minimum, whichever is lower. The first rule finds the foot of an attack
over silence or a faint tail; the second keeps it within a millisecond or two when the
previous hit still rings loudly (toms beating against each other make a floor that
ripples by several dB, and a rise-only rule then jumps back a whole beat period). A
minimum below -40 dB of the attack counts as -40 dB, so a gate opening on the noise
floor just before the hit is not mistaken for the rise."""


@dataclass(frozen=True)
class OnsetSettings:
    """How onsets are found in one stem (see :data:`ONSET_DEFAULTS` per stem).

    ``threshold``: how far (a fraction of the onset function's maximum) a peak must rise
    above the local mean. ``min_gap_ms``: closer onsets are one hit. ``gate_db``: the
    bleed gate, relative to the stem's peak (None: no gate). ``backtrack_ms``: how far
    before the flux peak the attack may begin.
    """

    method: Method = "flux"
    threshold: float = 0.05
    min_gap_ms: float = 50.0
    gate_db: float | None = -36.0
    backtrack_ms: float = 30.0

    def __post_init__(self) -> None:
        if self.method not in ("flux", "energy"):
            raise ValueError(f"onset method must be 'flux' or 'energy', got {self.method!r}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"onset threshold must be in 0..1, got {self.threshold}")
        if self.min_gap_ms <= 0 or self.backtrack_ms < 0:
            raise ValueError("min_gap_ms must be > 0 and backtrack_ms >= 0")


ONSET_DEFAULTS: dict[str, OnsetSettings] = {
    # the kick rarely repeats faster than 16ths at 200 bpm (75 ms); its stem is clean
    "kick": OnsetSettings(threshold=0.06, min_gap_ms=60.0, gate_db=-30.0),
    # snare: ghost notes are quiet, so a lower gate; flams closer than 40 ms are one hit
    "snare": OnsetSettings(threshold=0.05, min_gap_ms=40.0, gate_db=-36.0),
    # separated toms carry the most bleed (kick and snare resonate in their band)
    "toms": OnsetSettings(threshold=0.06, min_gap_ms=60.0, gate_db=-26.0),
    # hats: fast figures (32nds at 180 bpm = 42 ms), soft hits matter
    "hihat": OnsetSettings(threshold=0.04, min_gap_ms=35.0, gate_db=-36.0),
    # cymbals: the wash keeps making small flux peaks; crashes are rarely close together
    "cymbals": OnsetSettings(threshold=0.08, min_gap_ms=90.0, gate_db=-30.0),
}
"""Sensible defaults for LarsNet's five stems; any other name gets ``OnsetSettings()``."""


def onset_settings(stem: str | None, **overrides: object) -> OnsetSettings:
    """The stem's defaults with ``overrides`` applied (None values are left out)."""
    base = ONSET_DEFAULTS.get(stem or "", OnsetSettings())
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def _mono(audio: np.ndarray) -> np.ndarray:
    a = np.asarray(audio, dtype=np.float32)
    return a if a.ndim == 1 else a.mean(axis=0)


def _window_sums(values: np.ndarray, before: int, after: int) -> np.ndarray:
    """``out[i] = sum(values[i - before : i + after + 1])`` (clipped at the edges)."""
    c = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    n = values.shape[0]
    i = np.arange(n)
    return c[np.minimum(n, i + after + 1)] - c[np.maximum(0, i - before)]


def gate(audio: np.ndarray, sample_rate: int, threshold_db: float | None, *,
         hold_ms: float = 40.0, ramp_ms: float = 2.0) -> np.ndarray:
    """Silence what stays below ``threshold_db`` relative to the stem's peak (bleed).

    The gate opens ``ramp_ms`` before the level crosses the threshold (so the attack
    passes untouched) and stays open ``hold_ms`` after it falls below (so a low drum's
    zero crossings do not chop its decay); the open/closed mask is smoothed over
    ``ramp_ms`` into a gain, so there are no clicks. Returns a new float32 array shaped
    like ``audio``; silence and ``threshold_db=None`` come back unchanged (copied).
    """
    x = np.array(audio, dtype=np.float32, copy=True)
    if threshold_db is None or x.size == 0:
        return x
    level = np.abs(x).max(axis=0) if x.ndim == 2 else np.abs(x)
    peak = float(level.max())
    if peak <= 0.0:
        return x
    above = (level >= peak * 10.0 ** (threshold_db / 20.0)).astype(np.float64)
    ramp = max(1, int(round(ramp_ms * 1e-3 * sample_rate)))
    hold = int(round(hold_ms * 1e-3 * sample_rate))
    is_open = (_window_sums(above, hold, ramp) > 0).astype(np.float64)  # open if loud within [i-hold, i+ramp]
    gain = _window_sums(is_open, ramp // 2, ramp - 1 - ramp // 2) / ramp
    return (x * gain.astype(np.float32)).astype(np.float32)


def frame_sizes(sample_rate: int) -> tuple[int, int]:
    """(n_fft, hop): a ~23 ms window (1024 at 44.1 kHz) and a quarter of it as hop."""
    n_fft = int(2 ** round(np.log2(max(64.0, sample_rate * 0.0232))))
    return n_fft, n_fft // 4


def band_matrix(n_fft: int, sample_rate: int, n_bands: int = 0, min_bins: int = 0) -> np.ndarray:
    """``(bins, bands)`` 0/1 matrix summing FFT magnitudes into log-spaced bands.

    A single bin of a noise-like tail (snare wires, hats, cymbal wash) jumps by several
    dB from frame to frame; a sum over several bins hardly moves, so the flux of a
    ringing noise stays low and a soft hit on top of it still stands out. Log spacing
    would make the low bands narrower than a bin, so neighbouring bands are merged until
    each holds at least ``min_bins`` bins (:data:`FLUX_MIN_BINS`).
    """
    n_bands = n_bands or FLUX_BANDS
    min_bins = min_bins or FLUX_MIN_BINS
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = np.geomspace(FLUX_FMIN_HZ, sample_rate / 2, n_bands + 1)
    index = np.clip(np.searchsorted(edges, freqs, side="right") - 1, 0, n_bands - 1)
    merged = np.empty_like(index)
    group, count = 0, 0
    for band in range(n_bands):  # bins are in frequency order, so bands are contiguous runs
        members = index == band
        if not members.any():
            continue
        if count >= min_bins:
            group, count = group + 1, 0
        merged[members] = group
        count += int(members.sum())
    if count < min_bins and group > 0:  # a short last group joins its neighbour
        merged[merged == group] = group - 1
        group -= 1
    return (merged[:, None] == np.arange(group + 1)[None, :]).astype(np.float64)


def onset_strength(audio: np.ndarray, sample_rate: int, method: Method = "flux") -> tuple[np.ndarray, int]:
    """Onset function of ``audio`` and its hop in samples.

    Frame ``t`` is centred on sample ``t * hop`` (the signal is zero-padded by half a
    window, and the frame before the first counts as silence, so a hit at sample 0
    still rises). ``flux``: band magnitudes (:func:`band_matrix`) in dB, floored
    :data:`FLUX_RANGE_DB` below the loudest, rises summed over bands; ``energy``: the
    frame energy in dB, floored alike. Returns float64 ``(frames,)``, zero for silence.
    """
    x = _mono(audio).astype(np.float64)
    n_fft, hop = frame_sizes(sample_rate)
    n_frames = 1 + x.shape[0] // hop
    if not x.size or not np.any(x):
        return np.zeros(n_frames), hop
    padded = np.concatenate([np.zeros(n_fft // 2), x, np.zeros(n_fft)])
    frames = sliding_window_view(padded, n_fft)[::hop][:n_frames]  # (n_frames, n_fft) view, no copy
    window = np.hanning(n_fft)
    bands = band_matrix(n_fft, sample_rate)
    width = bands.shape[1] if method == "flux" else 1
    level = np.empty((n_frames, width))  # band magnitudes, or frame energies
    block = 2048  # frames per FFT batch: bounded memory on long tracks
    for start in range(0, n_frames, block):
        chunk = frames[start:start + block] * window  # (frames, n_fft)
        if method == "flux":
            level[start:start + chunk.shape[0]] = np.abs(np.fft.rfft(chunk, axis=1)) @ bands
        else:
            level[start:start + chunk.shape[0], 0] = np.mean(chunk * chunk, axis=1)
    db = (20.0 if method == "flux" else 10.0) * np.log10(np.maximum(level, 1e-300))
    floor = db.max() - FLUX_RANGE_DB
    db = np.maximum(db, floor)
    # rise over the maximum of the previous FLUX_MEMORY frames (SuperFlux's idea):
    # a low drum's band levels ripple with its phase in the window, and a noise tail's
    # from frame to frame; neither rises above its own recent maximum, a new hit does
    padded_db = np.concatenate([np.full((FLUX_MEMORY, width), floor), db])  # (FLUX_MEMORY + n_frames, width)
    recent = sliding_window_view(padded_db[:-1], FLUX_MEMORY, axis=0).max(axis=-1)  # (n_frames, width)
    return np.maximum(db - recent, 0.0).sum(axis=1), hop


def pick_peaks(env: np.ndarray, hop_s: float, *, threshold: float, min_gap_s: float,
               mean_before_s: float = 0.1, mean_after_s: float = 0.03) -> np.ndarray:
    """Frame indices of onset peaks.

    A frame is a peak if it is the maximum within ``min_gap_s / 2`` either side, rises
    ``threshold`` (a fraction of the function's maximum) above the mean of the
    surrounding ``mean_before_s`` / ``mean_after_s``, and comes at least ``min_gap_s``
    after the previous peak.
    """
    if env.size == 0 or float(env.max()) <= 0.0:
        return np.zeros(0, dtype=np.int64)
    o = env / float(env.max())
    half = max(1, int(round(min_gap_s / 2 / hop_s)))
    from scipy.ndimage import maximum_filter1d

    local_max = maximum_filter1d(o, size=2 * half + 1, mode="constant")
    before, after = max(1, int(round(mean_before_s / hop_s))), max(1, int(round(mean_after_s / hop_s)))
    counts = _window_sums(np.ones_like(o), before, after)
    local_mean = _window_sums(o, before, after) / counts
    candidates = np.nonzero((o >= local_max) & (o >= local_mean + threshold) & (o > 0))[0]
    gap = max(1, int(round(min_gap_s / hop_s)))
    peaks: list[int] = []
    for c in candidates:
        if not peaks or c - peaks[-1] >= gap:
            peaks.append(int(c))
    return np.asarray(peaks, dtype=np.int64)


def backtrack(audio: np.ndarray, lo: int, hi: int, *, window: int, step: int = BACKTRACK_STEP) -> int | None:
    """Where the attack inside ``[lo, hi)`` leaves its preceding energy minimum.

    The short-term energy ``e`` (a window of ``window`` samples *ending* at each point,
    so it starts to rise exactly at the onset) is compared with its running minimum;
    the largest rise is the attack (decaying tails of earlier hits only fall, so they
    never look like one), and where it first reaches 90 % of its height, the attack peak.
    The onset is the last point before that whose energy is still close to the minimum
    of the ``2 * window`` before it (see :data:`BACKTRACK_RISE_DB`): a drum's attack is
    that short, and dips of a noisy tail further back are not its start. ``audio`` is
    mono or ``(channels, frames)``; None if nothing rises.
    """
    x = _mono(audio)
    lo, hi = max(0, lo), min(x.shape[0], hi)
    if hi - lo < 2 * step:
        return None
    first = max(0, lo - window)
    seg = x[first:hi].astype(np.float64)
    c = np.concatenate([[0.0], np.cumsum(seg * seg)])
    points = np.arange(lo, hi, step)
    e = (c[points - first] - c[np.maximum(points - window, first) - first]) / window
    rise = e - np.minimum.accumulate(e)
    k_max = int(np.argmax(rise))
    if rise[k_max] <= 0.0:
        return None
    k_peak = int(np.argmax(rise >= 0.9 * rise[k_max]))  # a noisy plateau's maximum falls anywhere on it
    peak = float(e[k_max])
    # the floor just before this attack (a noise tail's dips further back do not count)
    floor = float(e[max(0, k_peak - 2 * window // step):k_peak + 1].min())
    above_floor = max(floor, peak * 10.0 ** (BACKTRACK_QUIET_DB / 10.0))
    level = min(floor + 10.0 ** (BACKTRACK_RISE_DB / 10.0) * (peak - floor),
                above_floor * 10.0 ** (BACKTRACK_ABOVE_FLOOR_DB / 10.0))
    quiet = np.nonzero(e[:k_peak + 1] <= level)[0]
    return int(points[quiet[-1]]) if quiet.size else int(points[0])


def detect_onsets(audio: np.ndarray, sample_rate: int, settings: OnsetSettings = OnsetSettings()) -> np.ndarray:
    """Onset sample indices of ``audio`` (already gated: see :func:`gate`), sorted.

    Peaks of the onset function are backtracked to the start of their attack; two
    onsets closer than half ``min_gap_ms`` after backtracking are one hit (the later is
    dropped), so the result never holds duplicates.
    """
    env, hop = onset_strength(audio, sample_rate, settings.method)
    n_fft, _ = frame_sizes(sample_rate)
    peaks = pick_peaks(env, hop / sample_rate, threshold=settings.threshold, min_gap_s=settings.min_gap_ms * 1e-3)
    # pre-emphasis (+6 dB/octave): the stick's broadband attack of a new hit stands out
    # against the low, tonal ring of the previous one, which it can even cancel at first
    mono = np.diff(_mono(audio), prepend=np.float32(0.0))
    window = max(1, int(round(BACKTRACK_WINDOW_MS * 1e-3 * sample_rate)))
    guard = int(round(settings.min_gap_ms * 0.5e-3 * sample_rate))
    reach = int(round(settings.backtrack_ms * 1e-3 * sample_rate))
    onsets: list[int] = []
    for i, p in enumerate(peaks):
        centre = int(p) * hop
        lo = centre - n_fft // 2 - reach
        if onsets:
            lo = max(lo, onsets[-1] + guard)
        hi = centre + n_fft // 2 + 2 * window
        if i + 1 < len(peaks):
            hi = min(hi, int(peaks[i + 1]) * hop - n_fft // 2)
        onset = backtrack(mono, lo, max(hi, centre + 1), window=window)
        if onset is None or onset > centre + 3 * n_fft // 8:
            # the flux peak itself is within a few ms of the onset (measured on rendered
            # kits: onset - centre in -4..+8 ms); an energy minimum later than that is a
            # new hit in anti-phase with a ringing one, which first *lowers* the energy
            onset = min(max(centre, lo, 0), max(0, mono.shape[0] - 1))
        if onsets and onset - onsets[-1] < guard:
            continue
        onsets.append(onset)
    return np.asarray(onsets, dtype=np.int64)
