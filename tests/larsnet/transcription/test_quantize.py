"""Tempo estimation and grid snapping (optional quantisation)."""
from __future__ import annotations

import numpy as np
import pytest

from larsnet.errors import OptionError
from larsnet.transcription import Note, estimate_tempo, quantize, transcribe
from larsnet.transcription.quantize import grid_phase

from .conftest import BPM, Rendered


def jittered_grid(bpm: float, steps: int, jitter_s: float = 0.012, offset_s: float = 0.3, seed: int = 0) -> list[Note]:
    """Eighth notes (kick on the beat, hat between) with timing jitter."""
    rng = np.random.default_rng(seed)
    step = 60.0 / bpm / 2
    return [Note(offset_s + i * step + float(rng.uniform(-jitter_s, jitter_s)), 36 if i % 2 == 0 else 42,
                 100 if i % 2 == 0 else 60, "kick" if i % 2 == 0 else "hihat") for i in range(steps)]


@pytest.mark.parametrize("bpm", [84.0, 97.0, 120.0, 143.0, 174.0])
def test_tempo_of_jittered_eighths(bpm: float) -> None:
    notes = jittered_grid(bpm, 64)
    assert estimate_tempo([n.time_s for n in notes], [n.velocity for n in notes]) == pytest.approx(bpm, abs=1.0)


def test_slow_eighths_may_read_as_fast_quarters() -> None:
    """Octave ambiguity: at 72 bpm the eighths are as regular as quarters at 144 bpm, and
    the prior (centred on 120 bpm) prefers 144; the grid of 16ths still fits the notes."""
    notes = jittered_grid(72.0, 64)
    assert estimate_tempo([n.time_s for n in notes]) == pytest.approx(144.0, abs=2.0)


def test_too_few_onsets_have_no_tempo() -> None:
    assert estimate_tempo([0.0, 0.5, 1.0]) is None
    notes = jittered_grid(100.0, 3)
    assert quantize(notes) == (sorted(notes), None)


def test_snapping_to_a_given_grid_that_starts_at_zero() -> None:
    notes = jittered_grid(100.0, 32, offset_s=0.33)
    snapped, bpm = quantize(notes, bpm=100.0, subdivision=4)
    assert bpm == 100.0 and len(snapped) == len(notes)
    step = 60.0 / 100.0 / 4
    steps = np.array([n.time_s for n in snapped]) / step
    assert np.allclose(steps, np.rint(steps), atol=1e-4)
    assert np.abs(steps - np.array([n.time_s for n in sorted(notes)]) / step).max() <= 0.5
    assert [n.pitch for n in snapped] == [n.pitch for n in sorted(notes)]
    shifted, _ = quantize(notes, bpm=100.0, phase_s=0.03)
    assert np.allclose(((np.array([n.time_s for n in shifted]) - 0.03) / step) % 1.0, 0.0, atol=1e-4)


def test_grid_phase_of_jittered_onsets() -> None:
    times = [n.time_s for n in jittered_grid(100.0, 64, offset_s=0.33)]
    assert grid_phase(times, 0.15) == pytest.approx(0.03, abs=0.004)


def test_snapping_with_an_estimated_tempo_and_merging() -> None:
    notes = jittered_grid(120.0, 32, jitter_s=0.005) + [Note(0.3 + 0.004, 36, 30, "kick")]  # a double on the grid
    snapped, bpm = quantize(notes)
    assert bpm == pytest.approx(120.0, abs=1.0)
    assert len(snapped) == 32
    first = [n for n in snapped if n.pitch == 36][0]
    assert first.velocity == 100  # the louder of the two


def test_quantized_transcription_lies_on_sixteenths(rendered: Rendered) -> None:
    notes = transcribe(rendered.stems, 44_100, quantize=True, bpm=BPM)
    step = 60.0 / BPM / 4
    times = np.array([n.time_s for n in notes])
    steps = (times[times > 0] - times[-1]) / step  # a grid line just before 0 is moved to 0
    assert np.allclose(steps, np.rint(steps), atol=1e-4)
    assert abs(times[0]) < 0.01  # the groove starts on a grid line at 0
    estimated = transcribe(rendered.stems, 44_100, quantize=True)
    assert len(estimated) >= len(notes) - 2


def test_bad_grid_is_refused() -> None:
    with pytest.raises(OptionError, match="subdivision must be >= 1"):
        quantize([], subdivision=0)
    with pytest.raises(OptionError, match="bpm must be > 0"):
        quantize([], bpm=-5)
