"""What kind of hit each onset is, and how hard: velocity, open/closed hi-hat,
crash/ride, high/mid/floor tom.

Every decision works on one stem at a time, from features measured right after each
onset (up to the next onset of the same stem, so a quick follow-up hit does not
blur the one before it):

- **velocity**: the sample peak of the stem in the first 40 ms, in dBFS, mapped through
  a per-stem :class:`VelocityCalibration` (fitted on renders of GMD validation
  performances, where the true velocities are known);
- **hi-hat**: a closed hat dies within a few tens of milliseconds, an open one rings:
  the decay rate of the level above 5 kHz (dB per second) and the spectral centroid
  (an open hat is darker than a closed one of the same kit);
- **cymbals**: a crash is darker (lower spectral centroid) than a ride;
- **toms**: the strongest partial between 40 and 600 Hz of each hit, clustered by pitch
  (more than :data:`TOM_GAP_SEMITONES` apart is another drum); up to three clusters
  become high, mid and floor tom.

Absolute decay rates and centroids of hats differ from kit to kit, so a hat is judged
against the other hats of the same track (:class:`HihatRule`); crash vs ride uses a fixed
centroid (:data:`CRASH_CENTROID_HZ`). Measured on GMD validation renders (matched
onsets, four kits): open/closed right for about 91% of hats, crash/ride for 97% of
cymbal hits (most of which are rides).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from larsnet.transcription.onsets import Spectrogram

PEAK_WINDOW_S = (-0.005, 0.04)
DECAY_WINDOW_S = 0.15
HIGH_HZ = 5000.0
TOM_GAP_SEMITONES = 1.5
TOM_MIN_SHARE = 0.1
TOM_RANGE_HZ = (40.0, 600.0)


@dataclass(frozen=True)
class VelocityCalibration:
    """``velocity = 127 * 10 ** ((peak_dbfs - db_at_127) / (20 * slope))``, clipped to 1..127.

    ``db_at_127``: the stem's sample peak (dBFS) of a velocity-127 hit; ``slope``: dB of
    peak per dB of velocity (samplers scale gain by ``(v/127) ** 0.5..1`` and switch to
    softer recordings below; fitted slopes are 1.4-2).
    """

    db_at_127: float
    slope: float = 1.0

    def velocity(self, peak_dbfs: np.ndarray) -> np.ndarray:
        v = 127.0 * 10.0 ** ((np.asarray(peak_dbfs, dtype=np.float64) - self.db_at_127) / (20.0 * self.slope))
        return np.clip(np.rint(v), 1, 127).astype(np.int64)


@dataclass(frozen=True)
class HihatRule:
    """Open vs closed hi-hat, relative to the track's own hats (most hi-hat hits are closed).

    Each hit's score is how far its spectral centroid lies below the median of the
    track's hats, in units of ``centroid_octaves``, plus how far its decay rate lies below
    their median, in units of ``decay_db_per_s``; a score below ``-threshold`` is open.
    Tuned on renders of GMD validation performances through held-out and seen kits.
    """

    centroid_octaves: float = 0.1
    decay_db_per_s: float = 100.0
    threshold: float = 2.0


CRASH_CENTROID_HZ = 3500.0
"""A cymbal hit whose spectral centroid lies below this is a crash, else a ride."""


def peak_dbfs(mono: np.ndarray, sample_rate: int, onset_s: np.ndarray) -> np.ndarray:
    """``(K,)`` sample peak in dBFS of ``mono`` around each onset (:data:`PEAK_WINDOW_S`)."""
    out = np.full(len(onset_s), -120.0)
    a, b = PEAK_WINDOW_S
    for i, t in enumerate(onset_s):
        lo, hi = max(0, int((t + a) * sample_rate)), min(len(mono), int((t + b) * sample_rate))
        if hi > lo:
            out[i] = 20.0 * np.log10(float(np.abs(mono[lo:hi]).max()) + 1e-9)
    return out


def decay_features(spec: Spectrogram, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decay rate (dB/s) above :data:`HIGH_HZ` and spectral centroid (Hz) of each onset.

    The rate is measured from the level peak within 30 ms of the onset to the last
    frame before the next onset, at most :data:`DECAY_WINDOW_S` later; a hit followed
    within 40 ms gets NaN (too short to tell). The centroid is over the 50 ms from the peak.
    """
    high = spec.level_db(spec.frequencies >= HIGH_HZ)
    span = int(round(DECAY_WINDOW_S * spec.frame_rate))
    rates = np.full(len(frames), np.nan)
    centroids = np.full(len(frames), np.nan)
    for i, f in enumerate(frames):
        nxt = int(frames[i + 1]) if i + 1 < len(frames) else spec.n_frames
        pk = int(f) + int(np.argmax(high[f: min(f + 4, spec.n_frames)])) if f < spec.n_frames else int(f)
        end = min(nxt - 1, pk + span, spec.n_frames - 1)
        if end - pk >= 4:
            rates[i] = (high[pk] - high[end]) * spec.frame_rate / (end - pk)
        seg = spec.bands[pk: pk + 5].sum(axis=0)
        if seg.sum() > 0:
            centroids[i] = float((seg * spec.frequencies).sum() / seg.sum())
    return rates, centroids


def open_hihats(rates: np.ndarray, centroids: np.ndarray, rule: HihatRule = HihatRule()) -> np.ndarray:
    """``(K,)`` bool: which hi-hat hits are open (see :class:`HihatRule`); unmeasured hits are closed."""
    if len(rates) == 0:
        return np.zeros(0, dtype=bool)
    rate = np.clip(rates, -50.0, 400.0)  # NaN stays NaN
    octaves = np.log2(np.where(centroids > 0, centroids, np.nan))
    if not np.isfinite(rate).any() or not np.isfinite(octaves).any():
        return np.zeros(len(rates), dtype=bool)
    score = ((octaves - np.nanmedian(octaves)) / rule.centroid_octaves
             + (rate - np.nanmedian(rate)) / rule.decay_db_per_s)
    return np.where(np.isfinite(score), score < -rule.threshold, False)


def crashes(centroids: np.ndarray, threshold_hz: float = CRASH_CENTROID_HZ) -> np.ndarray:
    """``(K,)`` bool: which cymbal hits are crashes (darker than ``threshold_hz``); the rest are rides."""
    return np.where(np.isfinite(centroids), centroids < threshold_hz, False)


def tom_pitches(mono: np.ndarray, sample_rate: int, onset_s: np.ndarray) -> np.ndarray:
    """``(K,)`` strongest partial (Hz) in :data:`TOM_RANGE_HZ` of each hit, NaN if under 30 ms long.

    The spectrum is taken from 10 to 150 ms after the onset (the stick noise is over,
    the shell rings), cut at the next onset.
    """
    out = np.full(len(onset_s), np.nan)
    n_fft = 16384
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    band = (freqs >= TOM_RANGE_HZ[0]) & (freqs <= TOM_RANGE_HZ[1])
    for i, t in enumerate(onset_s):
        start = int((t + 0.01) * sample_rate)
        stop = int((t + 0.15) * sample_rate)
        if i + 1 < len(onset_s):
            stop = min(stop, int(onset_s[i + 1] * sample_rate))
        seg = mono[max(0, start): min(len(mono), stop)]
        if len(seg) < 0.03 * sample_rate:
            continue
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), n_fft))
        out[i] = float(freqs[band][np.argmax(spec[band])])
    return out


def tom_classes(pitches_hz: np.ndarray) -> np.ndarray:
    """``(K,)`` pieces (``hi_tom``, ``mid_tom``, ``floor_tom``) from the pitch of each tom hit.

    Pitches are clustered on a semitone scale: a gap over :data:`TOM_GAP_SEMITONES`
    between sorted pitches starts a new drum (at most three, cut at the widest gaps);
    a cluster with fewer than :data:`TOM_MIN_SHARE` of the hits (a mismeasured
    partial) joins the nearest larger one. Three clusters: high, mid, floor. Two: the
    higher is the high tom, the lower the floor tom if 5 or more semitones below,
    else the mid tom. One (a track with one tom), or a hit whose pitch was not
    measured: by absolute pitch (from 140 Hz high, from 105 Hz mid, else floor).
    """
    out = np.array([_tom_by_pitch(p) for p in pitches_hz], dtype=object)
    known = np.flatnonzero(np.isfinite(pitches_hz))
    if len(known) < 2:
        return out
    semis = 12.0 * np.log2(pitches_hz[known] / 440.0)
    order = np.argsort(semis)
    gaps = np.diff(semis[order])
    cuts = sorted(np.flatnonzero(gaps > TOM_GAP_SEMITONES), key=lambda g: -gaps[g])[:2]
    cluster = np.zeros(len(known), dtype=int)
    for c in cuts:
        cluster[order[c + 1:]] += 1
    sizes = np.bincount(cluster, minlength=len(cuts) + 1)
    big = np.flatnonzero(sizes >= max(2, TOM_MIN_SHARE * len(known)))
    if len(big) == 0:
        return out
    centres = np.array([np.median(semis[cluster == c]) for c in big])
    cluster = np.argmin(np.abs(semis[:, None] - centres[None, :]), axis=1)  # 0 = lowest kept cluster
    if len(big) == 1:
        return out  # one drum: by absolute pitch
    if len(big) == 3:
        names = ["floor_tom", "mid_tom", "hi_tom"]
    elif centres[1] - centres[0] >= 5.0:
        names = ["floor_tom", "hi_tom"]
    else:
        names = ["mid_tom", "hi_tom"]
    out[known] = [names[c] for c in cluster]
    return out


def _tom_by_pitch(hz: float) -> str:
    if not np.isfinite(hz):
        return "mid_tom"
    return "hi_tom" if hz >= 140.0 else "mid_tom" if hz >= 105.0 else "floor_tom"

