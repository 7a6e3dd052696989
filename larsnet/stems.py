"""Names shared by every part of larsnet: the five stems, the nine pieces, the rate.

StemGMD renders nine isolated pieces; LarsNet separates five stems, each a group of
pieces. Keeping both vocabularies and the grouping here means the sampler, the
datasets, the model and the evaluation can never disagree on an order.
"""
from __future__ import annotations

SAMPLE_RATE = 44_100
"""LarsNet works at 44.1 kHz only; everything else is resampled on the way in."""

STEMS: tuple[str, ...] = ("kick", "snare", "toms", "hihat", "cymbals")
"""Output stems, in the order of the official model and of every tensor axis we use."""

PIECES: tuple[str, ...] = (
    "kick",
    "snare",
    "hi_tom",
    "mid_tom",
    "floor_tom",
    "hihat_closed",
    "hihat_open",
    "crash",
    "ride",
)
"""The nine StemGMD pieces (kick; snare; high, low-mid, high-floor tom; closed, open
hi-hat; crash; ride)."""

STEM_OF_PIECE: dict[str, str] = {
    "kick": "kick",
    "snare": "snare",
    "hi_tom": "toms",
    "mid_tom": "toms",
    "floor_tom": "toms",
    "hihat_closed": "hihat",
    "hihat_open": "hihat",
    "crash": "cymbals",
    "ride": "cymbals",
}

PIECES_OF_STEM: dict[str, tuple[str, ...]] = {
    stem: tuple(p for p in PIECES if STEM_OF_PIECE[p] == stem) for stem in STEMS
}

GMD_PITCH_TO_PIECE: dict[int, str] = {
    **{p: "kick" for p in (35, 36)},
    **{p: "snare" for p in (37, 38, 40)},
    **{p: "hi_tom" for p in (48, 50)},
    **{p: "mid_tom" for p in (45, 47)},
    **{p: "floor_tom" for p in (43, 58)},
    **{p: "hihat_open" for p in (26, 46)},
    **{p: "hihat_closed" for p in (22, 42, 44)},
    **{p: "crash" for p in (49, 52, 55, 57)},
    **{p: "ride" for p in (51, 53, 59)},
}
"""Groove MIDI Dataset pitch mapping, as in the LarsNet paper (StemGMD)."""

HELD_OUT_KITS: tuple[str, ...] = ("ForzeeStereo", "AVL Red Zeppelin 4pc")
"""Never trained on: the unseen-kit validation and test set."""
