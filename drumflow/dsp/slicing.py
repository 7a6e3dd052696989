"""Cut one-shots out of a stem at its onsets; measure, deduplicate and normalise them.

One stem becomes a list of :class:`Hit` in four steps (:func:`slice_stem` runs them):

1. :func:`cut_hits`: each slice starts ``pre_roll_ms`` before its onset (the attack is
   never cut, and a fade-in over the pre-roll only touches what precedes it), ends
   before the next onset (never two hits in one sample), no later than
   ``max_length_ms``, and earlier where its tail has fallen ``tail_db`` below its own
   peak; but never shorter than ``min_length_ms`` if the next hit leaves room. A short
   fade-out avoids a click where the tail is cut.
2. :func:`with_velocities`: a velocity 1..127 per hit from its attack energy relative to
   the stem's loudest hit, inverting the SFZ default velocity curve (amplitude
   proportional to (velocity/127)^2), so a one-shot played back at its estimated
   velocity sounds at the level it was played.
3. :func:`dedupe`: a loop repeats the same hit many times; a pack wants each sound once.
   Hits whose short log-spectral fingerprints are nearly parallel (cosine similarity)
   *and* whose velocities are close are one cluster, and only its best hit is kept:
   the most isolated (loudest against what precedes it), preferring hits whose tail
   was not cut by the next one. Velocity is part of the test so that a soft and a hard
   hit of one drum both survive (a kit needs both for its velocity layers).
4. :func:`normalize_hit`: peak or loudness (a K-weighted level over the whole one-shot,
   via pyloudnorm) normalisation, per hit; the loudness target never pushes the peak
   above ``peak_dbfs``.

Audio is float32 ``(channels, frames)`` throughout; sample positions are ints.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, Sequence

import numpy as np

from drumflow.dsp.onsets import OnsetSettings, detect_onsets, gate

Normalize = Literal["peak", "loudness", "off"]

ATTACK_MS = 30.0
"""Velocity and isolation look at this much of each hit after its onset."""

FINGERPRINT_MS = 100.0
FINGERPRINT_BANDS = 40
FINGERPRINT_RANGE_DB = 50.0
"""Fingerprint band energies are floored this far below the loudest: bands a hit hardly
touches all look alike instead of dominating the comparison with noise."""

DEDUPE_THRESHOLD = 0.96
"""Default cosine similarity for near-duplicates. Measured on GMRockKit's one-shots
(Debian hydrogen-drumkits): different instruments of one stem at the same velocity
reach at most 0.955 (snare vs. rimshot), repeats of one sample are 1.0, and hits of one
drum at neighbouring velocities mostly 0.93-0.99 (velocity then decides)."""
TRUNCATION_PENALTY_DB = 12.0
"""In a cluster of duplicates, a hit whose tail the next hit cut off counts as this much
less isolated: a complete decay is worth more than a few dB of cleanliness."""

SILENCE_DBFS = -70.0
"""A stem whose peak stays below this is treated as silent (no hits, a note)."""


@dataclass(frozen=True)
class SliceSettings:
    """How one stem's hits are cut and finished (see :data:`SLICE_DEFAULTS`).

    ``dedupe``: cosine similarity above which two hits are near-duplicates (None: keep
    every hit); ``dedupe_velocity``: hits further apart in velocity never are.
    """

    pre_roll_ms: float = 5.0
    tail_db: float = -50.0
    min_length_ms: float = 50.0
    max_length_ms: float = 1500.0
    fade_out_ms: float = 10.0
    normalize: Normalize = "peak"
    peak_dbfs: float = -1.0
    loudness_lufs: float = -16.0
    dedupe: float | None = DEDUPE_THRESHOLD
    dedupe_velocity: int = 12

    def __post_init__(self) -> None:
        if self.normalize not in ("peak", "loudness", "off"):
            raise ValueError(f"normalize must be 'peak', 'loudness' or 'off', got {self.normalize!r}")
        if self.min_length_ms > self.max_length_ms:
            raise ValueError(f"min_length_ms ({self.min_length_ms}) is longer than "
                             f"max_length_ms ({self.max_length_ms})")
        if min(self.pre_roll_ms, self.min_length_ms, self.fade_out_ms) < 0 or self.max_length_ms <= 0:
            raise ValueError("slice lengths must be positive")


SLICE_DEFAULTS: dict[str, SliceSettings] = {
    "kick": SliceSettings(max_length_ms=1000.0),
    "snare": SliceSettings(max_length_ms=1000.0),
    "toms": SliceSettings(max_length_ms=1500.0),
    "hihat": SliceSettings(max_length_ms=800.0),  # an open hat rings; a closed one is trimmed by tail_db
    "cymbals": SliceSettings(max_length_ms=4000.0, min_length_ms=100.0, tail_db=-45.0),
}
"""Per-stem defaults; any other name gets ``SliceSettings()``."""


def slice_settings(stem: str | None, **overrides: object) -> SliceSettings:
    """The stem's defaults with ``overrides`` applied (None values are left out)."""
    base = SLICE_DEFAULTS.get(stem or "", SliceSettings())
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True, eq=False)
class Hit:
    """One one-shot cut from a stem.

    ``onset``/``start`` are sample positions in the stem (``start = onset - pre-roll``);
    ``audio`` the faded slice (normalised once :func:`normalize_hit` ran, by
    ``gain_db``). ``truncated``: the next hit, ``max_length_ms`` or the end of the stem
    cut the slice before its tail fell to ``tail_db``. ``isolation_db``: the attack's
    level over what precedes the onset. ``duplicates``: onsets of the near-duplicates
    this hit stands for.
    """

    onset: int
    start: int
    audio: np.ndarray
    sample_rate: int
    truncated: bool
    isolation_db: float
    attack_rms: float
    velocity: int = 0
    gain_db: float = 0.0
    duplicates: tuple[int, ...] = ()

    @property
    def onset_s(self) -> float:
        return self.onset / self.sample_rate

    @property
    def duration_s(self) -> float:
        return self.audio.shape[1] / self.sample_rate

    @property
    def peak(self) -> float:
        return float(np.abs(self.audio).max()) if self.audio.size else 0.0

    @property
    def quality(self) -> float:
        """How good a representative of its cluster this hit is (higher is better)."""
        return self.isolation_db - (TRUNCATION_PENALTY_DB if self.truncated else 0.0)


def _ms(ms: float, sample_rate: int) -> int:
    return int(round(ms * 1e-3 * sample_rate))


def _half_cosine(n: int) -> np.ndarray:
    """0 -> 1 over ``n`` samples (raised cosine), float32."""
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)


def _db(x: float, floor: float = -200.0) -> float:
    return 20.0 * float(np.log10(x)) if x > 0 else floor


def cut_hits(audio: np.ndarray, sample_rate: int, onsets: Sequence[int], settings: SliceSettings = SliceSettings()
             ) -> list[Hit]:
    """Slices of ``audio`` at ``onsets`` (sorted sample positions); see the module docstring.

    Hits with no signal after their onset (a gate closed on them) are left out.
    """
    x = np.asarray(audio, dtype=np.float32)
    frames = x.shape[1]
    pre = _ms(settings.pre_roll_ms, sample_rate)
    guard = min(pre, _ms(1.0, sample_rate))  # backtracked onsets may be a hair late
    attack = max(1, _ms(ATTACK_MS, sample_rate))
    hits: list[Hit] = []
    onsets = [int(o) for o in onsets]
    for i, onset in enumerate(onsets):
        start = max(0, onset - pre)
        limit = min(frames, onset + _ms(settings.max_length_ms, sample_rate))
        if i + 1 < len(onsets):
            limit = min(limit, max(onset + 1, onsets[i + 1] - guard))
        seg = x[:, start:limit]
        level = np.abs(seg).max(axis=0)
        head = onset - start
        hit_peak = float(level[head:].max()) if level.shape[0] > head else 0.0
        if hit_peak <= 0.0:
            continue
        loud = np.nonzero(level >= hit_peak * 10.0 ** (settings.tail_db / 20.0))[0]
        last = int(loud[-1]) + 1
        truncated = last >= level.shape[0] - 1
        end = min(level.shape[0], max(last, head + _ms(settings.min_length_ms, sample_rate)))
        piece = seg[:, :end].copy()
        if head > 0:  # fade in over the pre-roll only: the attack is untouched
            piece[:, :head] *= _half_cosine(head)
        fade = min(_ms(settings.fade_out_ms, sample_rate), (end - head) // 2)
        if fade > 0:
            piece[:, end - fade:] *= _half_cosine(fade)[::-1]
        attack_rms = float(np.sqrt(np.mean(x[:, onset:min(onset + attack, limit)] ** 2)))
        before = x[:, max(0, onset - attack):onset]
        before_rms = float(np.sqrt(np.mean(before ** 2))) if before.size else 0.0
        isolation = min(120.0, _db(hit_peak) - _db(before_rms, floor=-120.0 + _db(hit_peak)))
        hits.append(Hit(onset, start, piece, sample_rate, truncated, isolation, attack_rms))
    return hits


def with_velocities(hits: Sequence[Hit], reference_rms: float | None = None) -> list[Hit]:
    """Hits with ``velocity`` set: ``127 * sqrt(attack_rms / loudest)``, clipped to 1..127.

    ``reference_rms`` is the loudest hit's attack level (default: the loudest of ``hits``).
    """
    ref = reference_rms if reference_rms is not None else max((h.attack_rms for h in hits), default=0.0)
    out = []
    for h in hits:
        v = 127.0 * np.sqrt(h.attack_rms / ref) if ref > 0 else 127.0
        out.append(replace(h, velocity=int(np.clip(round(v), 1, 127))))
    return out


def fingerprint(hit: Hit) -> np.ndarray:
    """Unit vector describing the first :data:`FINGERPRINT_MS` of a hit's sound.

    Log energies in :data:`FINGERPRINT_BANDS` log-spaced bands (40 Hz to 16 kHz) of a
    few 23 ms frames, after normalising the hit to its peak, floored
    :data:`FINGERPRINT_RANGE_DB` below the loudest band, centred and scaled to unit
    length: the shape of the spectrum and its early decay, not the level.
    """
    sr = hit.sample_rate
    mono = hit.audio.mean(axis=0)[hit.onset - hit.start:]
    n = _ms(FINGERPRINT_MS, sr)
    body = np.zeros(n, dtype=np.float64)
    body[:min(n, mono.shape[0])] = mono[:n]
    peak = float(np.abs(body).max())
    if peak > 0:
        body /= peak
    n_fft = 1024 if sr <= 50_000 else 2048
    hop = n_fft // 2
    padded = np.concatenate([body, np.zeros(n_fft)])
    starts = range(0, n, hop)
    frames = np.stack([padded[s:s + n_fft] for s in starts]) * np.hanning(n_fft)  # (frames, n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # (frames, bins)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    edges = np.geomspace(40.0, min(16_000.0, sr / 2), FINGERPRINT_BANDS + 1)
    band = np.clip(np.searchsorted(edges, freqs) - 1, -1, FINGERPRINT_BANDS)
    bands = np.stack([power[:, band == b].sum(axis=1) for b in range(FINGERPRINT_BANDS)], axis=1)
    vec = 10.0 * np.log10(bands + 1e-12)
    vec = np.maximum(vec, vec.max() - FINGERPRINT_RANGE_DB).ravel()
    vec -= vec.mean()
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


def dedupe(hits: Sequence[Hit], threshold: float | None, velocity_tolerance: int) -> list[Hit]:
    """Keep the best hit of each cluster of near-duplicates; returned in onset order.

    Greedy, best first (:attr:`Hit.quality`): a hit joins the most similar kept hit whose
    fingerprint has cosine similarity >= ``threshold`` and whose velocity is within
    ``velocity_tolerance``; otherwise it is kept. Kept hits list their duplicates'
    onsets. ``threshold=None`` keeps everything.
    """
    if threshold is None or len(hits) < 2:
        return list(hits)
    prints = [fingerprint(h) for h in hits]
    order = sorted(range(len(hits)), key=lambda i: (-hits[i].quality, hits[i].onset))
    kept: list[int] = []
    members: dict[int, list[int]] = {}
    for i in order:
        best, best_sim = None, threshold
        for k in kept:
            if abs(hits[i].velocity - hits[k].velocity) > velocity_tolerance:
                continue
            sim = float(prints[i] @ prints[k])
            if sim >= best_sim:
                best, best_sim = k, sim
        if best is None:
            kept.append(i)
            members[i] = []
        else:
            members[best].append(i)
    return [replace(hits[k], duplicates=tuple(sorted(hits[m].onset for m in members[k]))) for k in sorted(kept)]


def loudness_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """K-weighted level of a whole one-shot in LUFS (ITU-R BS.1770 weighting, one block).

    Integrated loudness needs 400 ms blocks, longer than most one-shots; measuring the
    whole slice as one block keeps the same weighting and scale. -inf for silence.
    """
    import pyloudnorm

    x = np.asarray(audio, dtype=np.float64)
    n = x.shape[1]
    if n < 2 or not np.any(x):
        return float("-inf")
    meter = pyloudnorm.Meter(sample_rate, block_size=(n - 1) / sample_rate)
    with np.errstate(divide="ignore"):
        value = float(meter.integrated_loudness(x.T))
    return value if np.isfinite(value) else float("-inf")


def normalize_hit(hit: Hit, settings: SliceSettings) -> Hit:
    """The hit at ``peak_dbfs`` or ``loudness_lufs`` (capped at ``peak_dbfs``); ``gain_db`` says by how much."""
    if settings.normalize == "off" or hit.peak <= 0.0:
        return hit
    peak_db = _db(hit.peak)
    if settings.normalize == "peak":
        gain_db = settings.peak_dbfs - peak_db
    else:
        level = loudness_lufs(hit.audio, hit.sample_rate)
        gain_db = settings.loudness_lufs - level if np.isfinite(level) else 0.0
        gain_db = min(gain_db, settings.peak_dbfs - peak_db)
    gain = np.float32(10.0 ** (gain_db / 20.0))
    return replace(hit, audio=hit.audio * gain, gain_db=hit.gain_db + gain_db)


def dominant_hz(hit: Hit, fmin: float = 40.0, fmax: float = 1000.0) -> float:
    """Strongest frequency between ``fmin`` and ``fmax`` in the first 200 ms: a tom's pitch."""
    sr = hit.sample_rate
    mono = hit.audio.mean(axis=0)[hit.onset - hit.start:][:_ms(200.0, sr)].astype(np.float64)
    if mono.size == 0 or not np.any(mono):
        return 0.0
    n = 1 << int(np.ceil(np.log2(max(mono.size, sr // 4))))  # zero-padded: ~4 Hz bins or finer
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size), n))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    band = (freqs >= fmin) & (freqs <= fmax)
    return float(freqs[band][np.argmax(spectrum[band])]) if band.any() else 0.0


@dataclass
class StemSlices:
    """What :func:`slice_stem` made of one stem: kept hits (onset order) and what happened."""

    stem: str
    sample_rate: int
    hits: list[Hit] = field(default_factory=list)
    detected: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return sum(len(h.duplicates) for h in self.hits)


def slice_stem(audio: np.ndarray, sample_rate: int, stem: str, onsets: OnsetSettings, settings: SliceSettings
               ) -> StemSlices:
    """Gate, detect, cut, estimate velocities, deduplicate and normalise one stem.

    A silent stem (peak below :data:`SILENCE_DBFS`) or one without onsets gives no hits
    and a note saying why, never an error.
    """
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    out = StemSlices(stem, sample_rate)
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak <= 10.0 ** (SILENCE_DBFS / 20.0):
        level = f"peak {_db(peak):.0f} dBFS" if peak > 0 else "digital silence"
        out.notes.append(f"{stem}: silent ({level}, below {SILENCE_DBFS:.0f} dBFS); no one-shots")
        return out
    gated = gate(x, sample_rate, onsets.gate_db)
    found = detect_onsets(gated, sample_rate, onsets)
    out.detected = len(found)
    hits = with_velocities(cut_hits(gated, sample_rate, found, settings))
    if not hits:
        out.notes.append(f"{stem}: no onsets found (threshold {onsets.threshold}, gate "
                         f"{'off' if onsets.gate_db is None else f'{onsets.gate_db:g} dB'}); no one-shots")
        return out
    kept = dedupe(hits, settings.dedupe, settings.dedupe_velocity)
    out.hits = [normalize_hit(h, settings) for h in kept]
    if len(kept) < len(hits):
        out.notes.append(f"{stem}: {len(hits) - len(kept)} near-duplicate hit(s) dropped, {len(kept)} kept")
    return out
