"""Drum stems -> notes: onsets per stem, then velocity and the kind of each hit.

    >>> from larsnet.transcription import transcribe, write_midi
    >>> notes = transcribe(separator.separate(mix), 44_100)      # {stem: (2, N)} -> [Note]
    >>> write_midi(notes, "drums.mid")

Each of the five LarsNet stems is transcribed on its own (:func:`transcribe_stem`):
:mod:`~larsnet.transcription.onsets` finds the onsets with the stem's
:class:`~larsnet.transcription.onsets.StemSettings`, and
:mod:`~larsnet.transcription.classify` gives each a velocity and a piece (open or
closed hat, crash or ride, which tom). Given several stems, :func:`transcribe` also
drops onsets that are another stem's bleed (stems separated by a model carry traces of
the other drums). The defaults were tuned on renders of the Groove MIDI Dataset's
*validation* performances through the held-out kits (never the test split);
``larsnet evaluate-transcription`` measures them.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from larsnet.errors import OptionError
from larsnet.stems import STEMS
from larsnet.transcription import classify
from larsnet.transcription.bleed import (
    RECORDED_BLEED_DB, BleedSpec, Gates, bleed_gates, check_stem, default_bleed_db, not_bleed)
from larsnet.transcription.classify import CRASH_CENTROID_HZ, HihatRule, VelocityCalibration
from larsnet.transcription.notes import Note, note
from larsnet.transcription.onsets import (
    Spectrogram, StemSettings, band_matrix, band_weights, detect_onsets, spectrogram, to_mono)
from larsnet.transcription.quantize import quantize as quantize_notes

DEFAULT_STEM_SETTINGS: dict[str, StemSettings] = {
    "kick": StemSettings(band_hz=(30.0, 200.0), n_fft=2048, log_scale=30.0, delta=0.5, latency_s=0.006),
    "snare": StemSettings(band_hz=(150.0, 8000.0), n_fft=2048, log_scale=10.0, relative_floor=0.03,
                          latency_s=0.007),
    "toms": StemSettings(band_hz=(60.0, 1000.0), n_fft=2048, log_scale=30.0, delta=0.3, latency_s=0.003),
    "hihat": StemSettings(band_hz=(2000.0, 16000.0), outside_weight=0.3, n_fft=1024, log_scale=30.0, delta=0.3,
                          latency_s=0.008),
    "cymbals": StemSettings(band_hz=(2000.0, 16000.0), n_fft=1024, log_scale=100.0, delta=0.3, latency_s=0.006),
}
"""Onset detection per stem, tuned on renders of GMD validation performances (held-out kits), for
clean stems; separated stems change :data:`SEPARATED_ONSET_CHANGES`. ``latency_s`` is the median
lag of the ODF peak behind the MIDI onset there and on seen kits."""

DEFAULT_VELOCITY: dict[str, VelocityCalibration] = {
    "kick": VelocityCalibration(db_at_127=0.7, slope=1.40),
    "snare": VelocityCalibration(db_at_127=-1.3, slope=1.36),
    "toms": VelocityCalibration(db_at_127=-1.9, slope=1.43),
    "hihat": VelocityCalibration(db_at_127=-6.7, slope=1.54),
    "cymbals": VelocityCalibration(db_at_127=1.7, slope=2.02),
}
"""Sample peak -> velocity per stem, fitted on the same renders (log velocity vs peak dBFS)."""


SEPARATED_ONSET_CHANGES: dict[str, dict[str, float]] = {"cymbals": {"delta": 0.6}}
"""Onset settings that differ for stems separated by a model (over :data:`DEFAULT_STEM_SETTINGS`,
which serve clean stems). A separated cymbal stem carries the hats' wash, whose small rises pass a
``delta`` of 0.3. On renders of GMD validation performances through the held-out kits, separated by
run 7, two sets of 40 clips (seeds 0 and 1), with one cymbal gate against every other stem
(F-measure on seed 0 / seed 1):

============  ===========  ===========  ===========
delta         gate -3 dB   gate -4.5    gate -6
============  ===========  ===========  ===========
0.3           0.591/0.659  .            0.615/0.653
0.5           0.675/0.715  0.713/0.722  0.699/0.708
0.6           0.698/0.722  0.739/0.726  0.724/0.710
0.7           0.689/0.699  0.732/0.705  .
============  ===========  ===========  ===========

On clean stems a larger ``delta`` costs 0.02 and misses a soft crash, so recorded stems keep 0.3.
The gates were then fitted per pair (:data:`~larsnet.transcription.bleed.BLEED_DB`)."""

SOURCES = ("separated", "recorded")
"""Where stems come from, which decides the tuned settings (:meth:`TranscriptionSettings.for_source`):
separated by a model from a mix, or recorded (or rendered) one drum at a time."""


def separated_stem_settings() -> dict[str, StemSettings]:
    """:data:`DEFAULT_STEM_SETTINGS` with :data:`SEPARATED_ONSET_CHANGES` applied."""
    return {stem: dataclasses.replace(s, **SEPARATED_ONSET_CHANGES.get(stem, {}))
            for stem, s in DEFAULT_STEM_SETTINGS.items()}


@dataclass(frozen=True)
class TranscriptionSettings:
    """Everything :func:`transcribe` can be told; the defaults are the ones tuned for stems separated
    by a model (what users transcribe); :meth:`for_source` gives those for recorded stems."""

    stems: Mapping[str, StemSettings] = field(default_factory=separated_stem_settings)
    velocity: Mapping[str, VelocityCalibration] = field(default_factory=lambda: dict(DEFAULT_VELOCITY))
    hihat: HihatRule = HihatRule()
    crash_centroid_hz: float = CRASH_CENTROID_HZ
    bleed_db: BleedSpec = field(default_factory=default_bleed_db)
    """With several stems: drop an onset of a stem when another stem rises this many dB more in its
    bands (:mod:`~larsnet.transcription.bleed`). One number for every pair, or stem -> dB or
    stem -> {other stem: dB} over :data:`~larsnet.transcription.bleed.BLEED_DB`;
    :data:`~larsnet.transcription.bleed.RECORDED_BLEED_DB` for stems that were never mixed; None
    keeps every onset."""

    @classmethod
    def for_source(cls, source: str) -> "TranscriptionSettings":
        """The tuned settings for stems from ``source`` (one of :data:`SOURCES`): ``separated`` by a
        model (the defaults), or ``recorded`` one drum at a time (clean onset settings, a loose gate)."""
        if source == "separated":
            return cls()
        if source == "recorded":
            return cls(stems=dict(DEFAULT_STEM_SETTINGS), bleed_db=RECORDED_BLEED_DB)
        raise OptionError(f"unknown stem source {source!r}; give {' or '.join(SOURCES)}")

    def with_thresholds(self, thresholds: Mapping[str, float]) -> "TranscriptionSettings":
        """A copy with the ``relative_floor`` of some stems replaced (stem -> fraction 0..1)."""
        stems = dict(self.stems)
        for stem, value in thresholds.items():
            check_stem(stem)
            if not 0.0 <= float(value) <= 1.0:
                raise OptionError(f"threshold of {stem} must be in [0, 1] (a fraction of the stem's strongest onset), "
                                  f"got {value}")
            stems[stem] = dataclasses.replace(stems[stem], relative_floor=float(value))
        return dataclasses.replace(self, stems=stems)


def _check_audio(stem: str, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    x = np.asarray(audio)
    if x.ndim not in (1, 2) or (x.ndim == 2 and x.shape[0] > 8):
        raise OptionError(f"stem {stem}: audio must be shaped (channels, frames), got {x.shape}")
    if not np.isfinite(x).all():
        raise OptionError(f"stem {stem}: audio holds NaN or infinite samples")
    if not sample_rate > 0:
        raise OptionError(f"sample rate must be > 0 Hz, got {sample_rate}")
    return x


@dataclass(frozen=True)
class _Onsets:
    """One stem's onsets before classification: frames of ``spec``, and the spectrogram."""

    stem: str
    audio: np.ndarray
    spec: Spectrogram
    frames: np.ndarray


def _detect(audio: np.ndarray, sample_rate: int, stem: str, settings: TranscriptionSettings) -> _Onsets:
    x = _check_audio(stem, audio, sample_rate)
    spec = spectrogram(x, sample_rate, n_fft=settings.stems[stem].n_fft)
    frames, _ = detect_onsets(spec, settings.stems[stem])
    return _Onsets(stem, x, spec, frames)


def _classify(found: _Onsets, sample_rate: int, settings: TranscriptionSettings) -> list[Note]:
    """Velocity and piece of every onset of one stem."""
    stem, frames, spec = found.stem, found.frames, found.spec
    if len(frames) == 0:
        return []
    times = np.maximum(frames / spec.frame_rate - settings.stems[stem].latency_s, 0.0)
    mono = to_mono(found.audio)
    velocities = settings.velocity[stem].velocity(classify.peak_dbfs(mono, sample_rate, times))
    if stem in ("kick", "snare"):
        pieces = np.full(len(times), stem, dtype=object)
    elif stem == "toms":
        pieces = classify.tom_classes(classify.tom_pitches(mono, sample_rate, times))
    else:
        rates, centroids = classify.decay_features(spec, frames)
        if stem == "hihat":
            pieces = np.where(classify.open_hihats(rates, centroids, settings.hihat), "hihat_open", "hihat_closed")
        else:
            pieces = np.where(classify.crashes(centroids, settings.crash_centroid_hz), "crash", "ride")
    return [note(t, p, v) for t, p, v in zip(times, pieces, velocities)]


def _drop_bleed(found: Mapping[str, _Onsets], sample_rate: int, gates: Gates,
                stem_settings: Mapping[str, StemSettings]) -> dict[str, _Onsets]:
    """Drop onsets that are another stem's hit leaking into this one (:mod:`~larsnet.transcription.bleed`),
    comparing every stem's power in each stem's own bands (weighted as that stem weighs them)."""
    if len(found) < 2:
        return dict(found)
    n = min(f.audio.shape[-1] for f in found.values())
    power = {s: (f.spec.bands if f.spec.n_fft == 2048 and f.audio.shape[-1] == n else
                 spectrogram(f.audio[..., :n], sample_rate, n_fft=2048).bands) ** 2 for s, f in found.items()}
    frequencies = band_matrix(sample_rate, 2048)[1]
    out = {}
    for s, f in found.items():
        if len(f.frames) == 0:
            out[s] = f
            continue
        weights = band_weights(frequencies, stem_settings[s])
        keep = not_bleed(s, f.frames, {x: p @ weights for x, p in power.items()}, gates)
        out[s] = dataclasses.replace(f, frames=f.frames[keep])
    return out


def transcribe_stem(audio: np.ndarray, sample_rate: int, stem: str,
                    settings: TranscriptionSettings | None = None) -> list[Note]:
    """The notes of one stem (``audio``: ``(channels, frames)`` or ``(frames,)``), sorted by time.

    Alone, a stem cannot tell its own hits from another drum's bleed; :func:`transcribe`
    with all the stems can (``settings.bleed_db``).
    """
    check_stem(stem)
    settings = settings or TranscriptionSettings()
    return _classify(_detect(audio, sample_rate, stem, settings), sample_rate, settings)


def transcribe(
    stems: Mapping[str, np.ndarray],
    sample_rate: int,
    *,
    settings: TranscriptionSettings | None = None,
    thresholds: Mapping[str, float] | None = None,
    quantize: bool = False,
    bpm: float | None = None,
    subdivision: int = 4,
) -> list[Note]:
    """Notes of every stem in ``stems`` (stem name -> ``(channels, frames)``), sorted by time.

    Any subset of :data:`larsnet.stems.STEMS` may be given (a missing kick simply gives
    no kick notes); all at ``sample_rate``. With several stems, onsets that are another
    stem's bleed are dropped (``settings.bleed_db``, :func:`_drop_bleed`).
    ``thresholds``: stem -> ``relative_floor`` (0..1) overriding the settings.
    ``quantize``: snap to a grid of ``subdivision`` steps per beat at ``bpm`` (estimated
    from the onsets when None; see :func:`larsnet.transcription.quantize.quantize`); off
    by default.
    """
    settings = settings or TranscriptionSettings()
    if thresholds:
        settings = settings.with_thresholds(thresholds)
    for stem in stems:
        check_stem(stem)
    found = {stem: _detect(stems[stem], sample_rate, stem, settings) for stem in STEMS if stem in stems}
    gates = bleed_gates(settings.bleed_db)
    if gates is not None:
        found = _drop_bleed(found, sample_rate, gates, settings.stems)
    notes = sorted(n for f in found.values() for n in _classify(f, sample_rate, settings))
    if quantize:
        notes, _ = quantize_notes(notes, bpm=bpm, subdivision=subdivision)
    return notes
