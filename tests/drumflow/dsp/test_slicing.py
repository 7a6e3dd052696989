"""Cutting, velocities, near-duplicate removal and normalisation of one-shots."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from drumflow.dsp.onsets import onset_settings
from drumflow.dsp.slicing import (
    SLICE_DEFAULTS,
    Hit,
    SliceSettings,
    cut_hits,
    dedupe,
    dominant_hz,
    fingerprint,
    loudness_lufs,
    normalize_hit,
    slice_settings,
    slice_stem,
    with_velocities,
)
from larsnet.stems import STEMS
from tests.drumflow.drums import SAMPLE_RATE, match, onsets_of, synthetic_stems

SR = SAMPLE_RATE


def _tone(seconds: float, freq: float, decay_s: float, amplitude: float = 0.8, noise: float = 0.0,
          seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    body = np.sin(2 * np.pi * freq * t) + noise * np.random.default_rng(seed).standard_normal(t.size)
    return (amplitude * body * np.exp(-t / decay_s)).astype(np.float32)


def _stem(frames: int, hits: list[tuple[float, np.ndarray]]) -> np.ndarray:
    x = np.zeros(frames, dtype=np.float32)
    for t, burst in hits:
        i = int(round(t * SR))
        x[i:i + burst.size] += burst[:frames - i]
    return np.stack([x, 0.9 * x])


def _ms(ms: float) -> int:
    return int(round(ms * SR / 1000))


def test_slices_have_pre_roll_fades_and_end_before_the_next_hit() -> None:
    audio = _stem(SR, [(0.1, _tone(0.5, 150, 0.1)), (0.3, _tone(0.5, 150, 0.1))])
    settings = SliceSettings(pre_roll_ms=5, fade_out_ms=10, tail_db=-60, max_length_ms=1000)
    first, second = cut_hits(audio, SR, [_ms(100), _ms(300)], settings)
    assert (first.start, first.onset) == (_ms(95), _ms(100))
    assert first.start + first.audio.shape[1] <= _ms(300)  # never two hits in one sample
    assert first.truncated and not second.truncated  # the second rang out below tail_db
    for hit in (first, second):
        assert hit.audio.shape[0] == 2 and hit.audio.dtype == np.float32
        assert abs(hit.audio[0, 0]) < 1e-3 and abs(hit.audio[0, -1]) < 1e-3  # faded in and out
        head = hit.onset - hit.start
        np.testing.assert_array_equal(hit.audio[:, head:head + 100], audio[:, hit.onset:hit.onset + 100])


def test_tail_is_trimmed_below_tail_db_but_not_below_min_length() -> None:
    audio = _stem(SR, [(0.1, _tone(0.8, 200, 0.05))])  # -8.7 dB per 50 ms
    long_tail = cut_hits(audio, SR, [_ms(100)], SliceSettings(tail_db=-60, fade_out_ms=0))[0]
    short_tail = cut_hits(audio, SR, [_ms(100)], SliceSettings(tail_db=-20, fade_out_ms=0))[0]
    assert long_tail.audio.shape[1] > short_tail.audio.shape[1]
    assert short_tail.duration_s == pytest.approx(0.005 + 0.05 * 20 / 8.69, abs=0.01)
    floor = cut_hits(audio, SR, [_ms(100)], SliceSettings(tail_db=-3, min_length_ms=200))[0]
    assert floor.audio.shape[1] == _ms(5) + _ms(200)
    capped = cut_hits(audio, SR, [_ms(100)], SliceSettings(tail_db=-90, max_length_ms=100))[0]
    assert capped.audio.shape[1] == _ms(5) + _ms(100) and capped.truncated


def test_velocity_follows_attack_level_relative_to_the_loudest_hit() -> None:
    hits = [(0.1, _tone(0.2, 300, 0.05, 0.8)), (0.4, _tone(0.2, 300, 0.05, 0.2)), (0.7, _tone(0.2, 300, 0.05, 0.05))]
    audio = _stem(SR, hits)
    cut = with_velocities(cut_hits(audio, SR, [_ms(100), _ms(400), _ms(700)]))
    # amplitude ratios 1, 1/4, 1/16 -> 127 * sqrt(ratio): SFZ's default curve inverted
    assert [h.velocity for h in cut] == pytest.approx([127, 64, 32], abs=1)


def _hit(audio: np.ndarray, onset: int = 100, isolation_db: float = 60.0, velocity: int = 100,
         truncated: bool = False) -> Hit:
    stereo = np.stack([audio, audio]).astype(np.float32)
    return Hit(onset, 0, stereo, SR, truncated, isolation_db, float(np.sqrt(np.mean(audio ** 2))), velocity)


def test_dedupe_keeps_the_best_hit_of_each_cluster() -> None:
    rng = np.random.default_rng(0)
    kick = np.concatenate([np.zeros(100), _tone(0.3, 60, 0.1)])
    snare = np.concatenate([np.zeros(100), _tone(0.3, 190, 0.06, noise=0.8)])
    hits = [
        _hit(kick, isolation_db=40, velocity=110),
        _hit(kick + 1e-3 * rng.standard_normal(kick.size), isolation_db=70, velocity=112),  # cleanest kick
        _hit(kick, isolation_db=80, velocity=108, truncated=True),  # cleaner, but cut off: counts 12 dB less
        _hit(snare, isolation_db=50, velocity=100),
        _hit(snare, isolation_db=50, velocity=40),  # same sound, much softer: a velocity layer, kept
    ]
    hits = [replace(h, onset=100 + 1000 * i, start=1000 * i) for i, h in enumerate(hits)]
    kept = dedupe(hits, threshold=0.96, velocity_tolerance=12)
    assert [h.onset for h in kept] == [1100, 3100, 4100]  # onset order
    assert kept[0].duplicates == (100, 2100)
    assert dedupe(hits, None, 12) == hits
    assert len(dedupe(hits, 0.96, velocity_tolerance=127)) == 2  # velocity ignored: one kick, one snare


def test_fingerprint_is_level_independent_and_tells_drums_apart() -> None:
    kick = np.concatenate([np.zeros(100), _tone(0.3, 60, 0.1)])
    tom = np.concatenate([np.zeros(100), _tone(0.3, 140, 0.2)])
    a, b, c = fingerprint(_hit(kick)), fingerprint(_hit(0.1 * kick)), fingerprint(_hit(tom))
    assert np.linalg.norm(a) == pytest.approx(1.0)
    assert float(a @ b) == pytest.approx(1.0, abs=1e-6)
    assert float(a @ c) < 0.9


def test_dedupe_on_a_rendered_loop_keeps_one_per_repeated_sample() -> None:
    """The generated kit's closed hat has 2 velocity layers x 2 round-robin samples."""
    stems = synthetic_stems()
    result = slice_stem(stems["hihat"], SR, "hihat", onset_settings("hihat"), slice_settings("hihat"))
    assert result.detected == len(onsets_of("hihat"))
    assert 2 <= len(result.hits) <= 6 < result.detected
    assert len(result.hits) + result.duplicates == result.detected
    assert any("near-duplicate" in n for n in result.notes)


def test_normalize_peak_loudness_and_off() -> None:
    hit = _hit(np.concatenate([np.zeros(100), _tone(0.3, 200, 0.05, 0.1)]))
    peak = normalize_hit(hit, SliceSettings(normalize="peak", peak_dbfs=-1.0))
    assert 20 * np.log10(peak.peak) == pytest.approx(-1.0, abs=1e-3)
    assert peak.gain_db == pytest.approx(-1.0 - 20 * np.log10(hit.peak), abs=1e-3)
    loud = normalize_hit(hit, SliceSettings(normalize="loudness", loudness_lufs=-30.0, peak_dbfs=-1.0))
    assert loudness_lufs(loud.audio, SR) == pytest.approx(-30.0, abs=0.1)
    capped = normalize_hit(hit, SliceSettings(normalize="loudness", loudness_lufs=0.0, peak_dbfs=-6.0))
    assert 20 * np.log10(capped.peak) == pytest.approx(-6.0, abs=1e-3)  # the ceiling wins
    assert normalize_hit(hit, SliceSettings(normalize="off")) is hit
    assert loudness_lufs(np.zeros((2, 1000), np.float32), SR) == float("-inf")


def test_dominant_hz_finds_a_toms_pitch() -> None:
    assert dominant_hz(_hit(np.concatenate([np.zeros(100), _tone(0.3, 110, 0.2)]))) == pytest.approx(110, abs=4)


@pytest.mark.parametrize("stem", STEMS)
def test_slice_stem_on_a_rendered_groove(stem: str) -> None:
    result = slice_stem(synthetic_stems()[stem], SR, stem, onset_settings(stem),
                        replace(slice_settings(stem), dedupe=None))
    missed, extra, worst = match([h.onset_s for h in result.hits], onsets_of(stem))
    assert (missed, extra) == ([], []) and worst <= 0.010
    for hit in result.hits:
        assert 20 * np.log10(hit.peak) == pytest.approx(-1.0, abs=0.01)  # peak-normalised by default
        assert 1 <= hit.velocity <= 127
    assert max(h.velocity for h in result.hits) == 127


def test_silent_stem_gives_no_hits_and_a_note() -> None:
    for audio in (np.zeros((2, SR), np.float32), np.full((2, SR), 1e-5, np.float32)):
        result = slice_stem(audio, SR, "toms", onset_settings("toms"), slice_settings("toms"))
        assert result.hits == [] and result.detected == 0
        assert len(result.notes) == 1 and "toms: silent" in result.notes[0]


def test_slice_settings_defaults_and_validation() -> None:
    assert set(SLICE_DEFAULTS) == set(STEMS)
    assert slice_settings("cymbals").max_length_ms > slice_settings("hihat").max_length_ms
    with pytest.raises(ValueError, match="min_length_ms .* is longer than max_length_ms"):
        SliceSettings(min_length_ms=500, max_length_ms=100)
    with pytest.raises(ValueError, match="normalize must be"):
        SliceSettings(normalize="rms")  # type: ignore[arg-type]
