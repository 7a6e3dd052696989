"""Drum stems with known onsets, rendered by larsnet's sampler (for the slicing tests).

:data:`GROOVE` is two bars at 120 bpm that exercise every stem: accented 8th-note hats
with an open hat, kicks and snares with a ghost note, a three-tom fill, crashes and a
ride figure on top of a ringing crash. It stays inside the documented limits of onset
detection (no soft hit on the loud tail of the same drum), so every onset must be found.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from larsnet.data.kit import MappedKit
from larsnet.data.midi import Hit, Performance
from larsnet.stems import SAMPLE_RATE, STEM_OF_PIECE, STEMS

GROOVE: tuple[tuple[float, str, int], ...] = (
    # hats: 8ths, accented on the beat; an open hat, then rest until a loud closed one
    *((0.25 * i, "hihat_closed", 110 if i % 2 == 0 else 70) for i in range(7)),
    (1.75, "hihat_open", 100),
    *((2.25 + 0.25 * i, "hihat_closed", 120 if i % 2 == 0 else 75) for i in range(6)),
    # kick and snare, with a ghost note well after the previous snare
    (0.0, "kick", 120), (0.375, "kick", 90), (1.0, "kick", 127), (2.0, "kick", 100), (3.0, "kick", 110),
    (0.5, "snare", 115), (1.125, "snare", 45), (1.5, "snare", 127), (3.5, "snare", 100),
    # a fill over three toms, high to low
    (2.5, "hi_tom", 110), (2.625, "mid_tom", 105), (2.75, "floor_tom", 115), (2.875, "floor_tom", 100),
    # crash, a ride figure on the crash's tail, crash again
    (0.0, "crash", 120), (2.0, "ride", 90), (2.5, "ride", 120), (3.0, "crash", 127),
)


def performance(hits=GROOVE) -> Performance:
    hs = sorted((Hit(t, p, v, 0) for t, p, v in hits), key=lambda h: h.time_s)
    return Performance(hits=hs, duration_s=hs[-1].time_s + 0.1)


def onsets_of(stem: str, hits=GROOVE) -> list[float]:
    """True onset times (s) of one stem, sorted, one per time."""
    return sorted({t for t, p, _ in hits if STEM_OF_PIECE[p] == stem})


def render_stems(kit: MappedKit, hits=GROOVE, tail_s: float = 1.0) -> dict[str, np.ndarray]:
    """stem -> float32 (2, frames) at 44.1 kHz."""
    from larsnet.data.sampler import render

    return render(performance(hits), kit, tail_s=tail_s).stems()


@lru_cache(maxsize=2)
def synthetic_stems(seed: int = 3) -> dict[str, np.ndarray]:
    """:data:`GROOVE` through larsnet's generated kit (all nine pieces); cached, read-only."""
    from larsnet.data.synthetic import make_synthetic_kit

    stems = render_stems(make_synthetic_kit(seed=seed))
    for a in stems.values():
        a.flags.writeable = False
    return stems


def match(found_s: list[float], true_s: list[float], tolerance_s: float = 0.010) -> tuple[list, list, float]:
    """(missed true onsets, extra found onsets, worst error of the matched ones) - one-to-one."""
    missed, errors, extra = [], [], list(found_s)
    for t in true_s:
        close = [f for f in extra if abs(f - t) <= tolerance_s]
        if not close:
            missed.append(t)
            continue
        best = min(close, key=lambda f: abs(f - t))
        errors.append(abs(best - t))
        extra.remove(best)
    return missed, extra, max(errors, default=0.0)


__all__ = ["GROOVE", "SAMPLE_RATE", "STEMS", "match", "onsets_of", "performance", "render_stems", "synthetic_stems"]
