"""Drum audio rendered from MIDI written in the test, so every onset is known exactly."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from larsnet.data.midi import Performance, read_drum_midi
from larsnet.data.sampler import render
from larsnet.data.synthetic import make_synthetic_kit
from larsnet.stems import STEMS

from tests.larsnet.data.builders import write_midi

BPM = 110.0


def groove(bars: int = 4) -> list[tuple[float, int, int]]:
    """(beat, GM pitch, velocity): kick 1 and 3, snare 2 and 4 with a ghost note, closed hats
    on the eighths with an open hat on the last one, a crash on bar 1, and in the last bar
    a ride instead of hats plus a tom fill high -> mid -> floor."""
    notes = []
    for bar in range(bars):
        b = 4.0 * bar
        notes += [(b, 36, 110), (b + 2.0, 36, 100), (b + 2.5, 36, 70)]
        notes += [(b + 1.0, 38, 105), (b + 3.0, 38, 115), (b + 1.75, 38, 35)]
        if bar < bars - 1:
            notes += [(b + 0.5 * i, 42, 70 + 10 * (i % 2)) for i in range(7)] + [(b + 3.5, 46, 90)]
        else:
            notes += [(b + 0.5 * i, 51, 80) for i in range(4)]
            notes += [(b + 2.0, 48, 100), (b + 2.25, 48, 95), (b + 2.5, 45, 100), (b + 2.75, 45, 95),
                      (b + 3.0, 43, 110), (b + 3.5, 43, 105)]
    notes.append((0.0, 49, 120))
    return notes


@dataclass(frozen=True)
class Rendered:
    performance: Performance
    stems: dict[str, np.ndarray]  # stem -> (2, N) float32

    def onsets(self, stem: str) -> list[float]:
        from larsnet.stems import STEM_OF_PIECE

        return sorted({round(h.time_s, 6) for h in self.performance.hits if STEM_OF_PIECE[h.piece] == stem})


def render_midi(path: Path, notes: list[tuple[float, int, int]], bpm: float = BPM, seed: int = 0) -> Rendered:
    performance = read_drum_midi(write_midi(path, notes, bpm=bpm))
    out = render(performance, make_synthetic_kit("Test", seed=seed), tail_s=1.0)
    return Rendered(performance, out.stems())


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Four bars of :func:`groove` at 110 bpm through a generated kit (~9 s)."""
    return render_midi(tmp_path_factory.mktemp("groove") / "groove.mid", groove())


@pytest.fixture(scope="session")
def stem_names() -> tuple[str, ...]:
    return STEMS
