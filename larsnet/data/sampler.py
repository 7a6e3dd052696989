"""Render a drum :class:`~larsnet.data.midi.Performance` through a mapped kit into
nine isolated stereo piece stems and their mixture.

Speed is the design constraint: the training datasets render on the fly and must never
be the bottleneck, and ``larsnet synth`` renders hundreds of hours. So the per-hit
work is one scaled slice-add of a one-shot into a preallocated buffer; everything
else (velocity layers, round robin, chokes, which hits overlap a segment) is computed
with numpy over all hits at once. There is no per-sample Python.

Exactness is the other constraint: the mixture is the sum of the nine stems in
:data:`larsnet.stems.PIECES` order, and rendering a segment gives exactly the same
samples as slicing the full render, because every hit is planned over the whole
performance (round robin counters, random draws, chokes) and then added in time order.
"""
from __future__ import annotations

import math
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable, Literal, Mapping

import numpy as np
import soxr

from larsnet.data.kit import Instrument, MappedKit
from larsnet.data.midi import Performance
from larsnet.errors import OptionError
from larsnet.stems import PIECES, PIECES_OF_STEM, SAMPLE_RATE, STEMS

RoundRobin = Literal["cycle", "random"]

CHOKE_FADE_S = 0.008
"""An open hi-hat stops within 8 ms of the next closed or pedal hit: a real hat closes
in a few milliseconds, and a fade (rather than a cut) avoids a click."""

CHOKES: dict[str, tuple[str, ...]] = {"hihat_open": ("hihat_closed",)}
"""Piece -> pieces whose next hit silences it. GMD maps the pedal hi-hat (44) to the
closed hi-hat, so closing the hat with the foot chokes the open hat too."""

SINGLE_LAYER_EXPONENT = 1.0
"""Velocity -> gain exponent for a one-layer instrument: linear, as Hydrogen does; the
whole dynamic range has to come from the gain."""

MULTI_LAYER_EXPONENT = 0.5
"""A multi-layer instrument already carries most of its dynamics in the recordings of
its layers, so the gain curve on top is gentler to avoid counting velocity twice."""

_PIECE_INDEX = {piece: i for i, piece in enumerate(PIECES)}
_SHIFT_CACHE_SIZE = 512


@dataclass
class RenderedStems:
    """The result of :func:`render`.

    ``pieces``: all nine pieces of :data:`PIECES`, each float32 (2, N) (silent if the
    kit lacks the piece or the performance never plays it); ``mix``: float32 (2, N),
    exactly ``sum(pieces[p] for p in PIECES)`` in that order. ``start_s`` is where the
    rendered span starts in the performance.
    """

    pieces: dict[str, np.ndarray]
    mix: np.ndarray
    sample_rate: int = SAMPLE_RATE
    start_s: float = 0.0

    @property
    def n_samples(self) -> int:
        return int(self.mix.shape[-1])

    def stems(self) -> dict[str, np.ndarray]:
        """The five LarsNet stems (see :func:`group_pieces`)."""
        return group_pieces(self.pieces)


def group_pieces(pieces: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sum the nine pieces into the five stems of :data:`STEMS`.

    ``pieces``: piece -> (2, N); absent pieces count as silence. Returns stem ->
    float32 (2, N), summed in :data:`PIECES` order so results are reproducible.
    """
    shape = next(iter(pieces.values())).shape
    out: dict[str, np.ndarray] = {}
    for stem in STEMS:
        acc = np.zeros(shape, dtype=np.float32)
        for piece in PIECES_OF_STEM[stem]:
            if piece in pieces:
                acc += pieces[piece]
        out[stem] = acc
    return out


def full_length(performance: Performance, tail_s: float, sample_rate: int = SAMPLE_RATE) -> int:
    """Samples in a full render: the performance plus ``tail_s`` for ringing hits."""
    return int(math.ceil((performance.duration_s + tail_s) * sample_rate))


def render(
    performance: Performance,
    mapped_kit: MappedKit,
    *,
    seed: int = 0,
    gains: Mapping[str, float] | None = None,
    pans: Mapping[str, float] | None = None,
    tail_s: float = 2.0,
    start_s: float = 0.0,
    duration_s: float | None = None,
    round_robin: RoundRobin = "cycle",
    velocity_exponent: float | None = None,
) -> RenderedStems:
    """Render ``performance`` with ``mapped_kit`` into nine piece stems and their mix.

    - Velocity layers: each hit plays the layer covering its velocity
      (:meth:`Instrument.layer_for`), scaled by ``(velocity/127) ** exponent``
      (:data:`SINGLE_LAYER_EXPONENT` / :data:`MULTI_LAYER_EXPONENT` unless
      ``velocity_exponent`` is given).
    - Round robin: ``"cycle"`` plays the k-th hit of a layer on sample ``k mod n``;
      ``"random"`` draws each hit's sample from ``seed``.
    - Chokes: an open hi-hat is faded out over :data:`CHOKE_FADE_S` from the next
      closed/pedal hi-hat hit.
    - ``gains``: piece -> linear gain on top of the kit's; ``pans``: piece -> pan in
      [-1, 1] replacing the kit's, constant power, 0 = unity on both channels.
    - The full render lasts ``duration_s + tail_s``; pass ``start_s`` and
      ``duration_s`` to render only that span (only the hits sounding in it are
      touched, and the result equals the same slice of the full render).
    """
    if duration_s is not None and duration_s < 0:
        raise OptionError(f"duration_s must be >= 0 seconds, got {duration_s}")
    if start_s < 0:
        raise OptionError(f"start_s must be >= 0 seconds, got {start_s}")
    start = int(round(start_s * SAMPLE_RATE))
    if duration_s is None:
        n = max(0, full_length(performance, tail_s) - start)
    else:
        n = int(round(duration_s * SAMPLE_RATE))
    block = render_pieces(
        performance,
        mapped_kit,
        PIECES,
        start,
        n,
        seed=seed,
        gains=gains,
        pans=pans,
        round_robin=round_robin,
        velocity_exponent=velocity_exponent,
    )
    pieces = {piece: block[i] for i, piece in enumerate(PIECES)}
    mix = np.zeros((2, n), dtype=np.float32)
    for piece in PIECES:
        mix += pieces[piece]
    return RenderedStems(pieces=pieces, mix=mix, start_s=start / SAMPLE_RATE)


def render_pieces(
    performance: Performance,
    mapped_kit: MappedKit,
    pieces: Iterable[str],
    start_sample: int,
    n_samples: int,
    *,
    seed: int = 0,
    gains: Mapping[str, float] | None = None,
    pans: Mapping[str, float] | None = None,
    round_robin: RoundRobin = "cycle",
    velocity_exponent: float | None = None,
    pitch_semitones: float = 0.0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Render some pieces over ``[start_sample, start_sample + n_samples)``.

    The building block of :func:`render` and of the on-the-fly datasets, which render
    each stem from a different kit. Returns float32 (len(pieces), 2, n_samples) in the
    order given. ``pitch_semitones`` shifts every one-shot (resampled once and cached
    per kit), which changes pitch and decay but not onset times, so the shifted stem
    stays aligned with the others. ``out``, if given, is added into (and returned).
    """
    if round_robin not in ("cycle", "random"):
        raise OptionError(f"round_robin must be 'cycle' or 'random', got {round_robin!r}")
    pieces = list(pieces)
    for piece in pieces:
        if piece not in _PIECE_INDEX:
            raise OptionError(f"unknown piece {piece!r}; pieces are {', '.join(PIECES)}")
    if out is None:
        out = np.zeros((len(pieces), 2, n_samples), dtype=np.float32)
    elif out.shape != (len(pieces), 2, n_samples) or out.dtype != np.float32:
        raise ValueError(f"out must be float32 {(len(pieces), 2, n_samples)}, got {out.dtype} {out.shape}")
    if not performance.hits or n_samples == 0:
        return out

    tables = _tables(mapped_kit)
    ratio = 2.0 ** (pitch_semitones / 12.0)
    wanted = np.full(len(PIECES), -1, dtype=np.int64)
    for slot, piece in enumerate(pieces):
        if tables.instrument[_PIECE_INDEX[piece]] is not None:
            wanted[_PIECE_INDEX[piece]] = slot
    if (wanted < 0).all():
        return out

    hits = performance.arrays
    onset = np.rint(hits.time_s * SAMPLE_RATE).astype(np.int64)  # (H,)
    end = start_sample + n_samples
    lookback = int(math.ceil(tables.max_len / ratio)) + 16  # + resampler rounding
    lo = int(np.searchsorted(onset, start_sample - lookback, side="left"))
    hi = int(np.searchsorted(onset, end, side="left"))
    if hi <= lo:
        return out

    # Plan over hits[:hi]: round-robin counters and random draws depend on every
    # earlier hit, never on where the segment starts.
    piece_idx = hits.piece[:hi].astype(np.int64)
    velocity = hits.velocity[:hi].astype(np.int64)
    layer = tables.layer_table[piece_idx, velocity]  # (hi,), -1 where the kit lacks the piece
    n_rr = np.where(layer >= 0, tables.rr_table[piece_idx, np.maximum(layer, 0)], 1)
    if round_robin == "cycle":
        rr = _occurrence_index(piece_idx * 1024 + layer) % n_rr
    else:
        draws = np.random.default_rng(seed).random(len(hits.time_s))[:hi]
        rr = np.minimum((draws * n_rr).astype(np.int64), n_rr - 1)

    exponent = tables.exponent[piece_idx] if velocity_exponent is None else np.full(hi, velocity_exponent)
    hit_gain = (velocity / 127.0) ** exponent * tables.gain_table[piece_idx, np.maximum(layer, 0)]
    pan_gains = _pan_gains(tables, gains, pans)  # (9, 2)

    choke_at = _choke_positions(piece_idx, onset[:hi])  # (hi,), -1 = not choked
    fade_len = max(1, int(round(CHOKE_FADE_S * SAMPLE_RATE)))
    fade = (0.5 * (1.0 + np.cos(np.linspace(0.0, np.pi, fade_len, dtype=np.float64)))).astype(np.float32)

    scratch = np.empty((2, int(math.ceil(tables.max_len / ratio)) + 16), dtype=np.float32)
    for h in range(lo, hi):
        p = int(piece_idx[h])
        slot = int(wanted[p])
        if slot < 0 or layer[h] < 0:
            continue
        sample = tables.sample(p, int(layer[h]), int(rr[h]), pitch_semitones)
        o = int(onset[h])
        length = sample.shape[1]
        stop = length
        if choke_at[h] >= 0:
            stop = min(length, int(choke_at[h]) - o + fade_len)
        src0 = max(0, start_sample - o)
        src1 = min(stop, end - o)
        if src1 <= src0:
            continue
        m = src1 - src0
        buf = scratch[:, :m]
        np.multiply(sample[:, src0:src1], (pan_gains[p] * hit_gain[h])[:, None], out=buf)
        if choke_at[h] >= 0:
            # fade region in sample coordinates: [choke, choke + fade_len)
            f0 = int(choke_at[h]) - o
            a = max(f0, src0)
            b = min(f0 + fade_len, src1)
            if b > a:
                buf[:, a - src0 : b - src0] *= fade[a - f0 : b - f0]
        dst0 = o + src0 - start_sample
        out[slot, :, dst0 : dst0 + m] += buf
    return out


# --------------------------------------------------------------------------- planning


def _occurrence_index(keys: np.ndarray) -> np.ndarray:
    """For each element, how many earlier elements have the same key (a cumcount).

    ``keys`` int (H,) -> int64 (H,); the round-robin counter of every hit at once.
    """
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.ones(len(keys), dtype=bool)
    starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(keys)), 0))
    counts = np.empty(len(keys), dtype=np.int64)
    counts[order] = np.arange(len(keys)) - group_start
    return counts


def _choke_positions(piece_idx: np.ndarray, onset: np.ndarray) -> np.ndarray:
    """Sample position of the hit that chokes each hit, or -1.

    ``piece_idx``, ``onset``: (H,) sorted by onset. A hit is choked by the first
    choking hit strictly after it (a simultaneous closed hit does not kill it).
    """
    choke = np.full(len(onset), -1, dtype=np.int64)
    for victim, killers in CHOKES.items():
        victims = np.flatnonzero(piece_idx == _PIECE_INDEX[victim])
        if len(victims) == 0:
            continue
        killer_mask = np.isin(piece_idx, [_PIECE_INDEX[k] for k in killers])
        killer_onsets = onset[killer_mask]
        if len(killer_onsets) == 0:
            continue
        nxt = np.searchsorted(killer_onsets, onset[victims], side="right")
        has = nxt < len(killer_onsets)
        choke[victims[has]] = killer_onsets[nxt[has]]
    return choke


def _pan_gains(tables: "_KitTables", gains: Mapping[str, float] | None, pans: Mapping[str, float] | None) -> np.ndarray:
    """Per-piece (left, right) gains: constant-power pan scaled so centre is unity.

    Returns float64 (9, 2). ``pans`` replaces the kit's pan for the pieces it names.
    """
    pan = tables.pan.copy()
    scale = np.ones(len(PIECES))
    for name, mapping in (("gains", gains), ("pans", pans)):
        for piece in mapping or {}:
            if piece not in _PIECE_INDEX:
                raise OptionError(f"{name}: unknown piece {piece!r}; pieces are {', '.join(PIECES)}")
    for piece, value in (pans or {}).items():
        if not -1.0 <= value <= 1.0:
            raise OptionError(f"pan of {piece} must be in [-1, 1], got {value}")
        pan[_PIECE_INDEX[piece]] = value
    for piece, value in (gains or {}).items():
        if value < 0 or not np.isfinite(value):
            raise OptionError(f"gain of {piece} must be a finite linear factor >= 0, got {value}")
        scale[_PIECE_INDEX[piece]] = value
    theta = (np.clip(pan, -1.0, 1.0) + 1.0) * (np.pi / 4.0)
    lr = np.sqrt(2.0) * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return lr * scale[:, None]


# --------------------------------------------------------------------------- kit tables


class _KitTables:
    """Lookup tables the sampler needs for one mapped kit, built once per kit object.

    ``layer_table`` int64 (9, 128): velocity -> layer index (-1: piece missing);
    ``rr_table`` int64 (9, L): samples per layer; ``gain_table`` float64 (9, L):
    instrument gain x layer gain; ``exponent``, ``pan`` float64 (9,); ``samples``
    [piece][layer][rr] -> float32 (2, frames), C-contiguous.
    """

    def __init__(self, mapped_kit: MappedKit):
        n_layers = max((len(inst.layers) for inst in mapped_kit.pieces.values()), default=1)
        self.instrument: list[Instrument | None] = [None] * len(PIECES)
        self.layer_table = np.full((len(PIECES), 128), -1, dtype=np.int64)
        self.rr_table = np.ones((len(PIECES), n_layers), dtype=np.int64)
        self.gain_table = np.ones((len(PIECES), n_layers), dtype=np.float64)
        self.exponent = np.full(len(PIECES), SINGLE_LAYER_EXPONENT)
        self.pan = np.zeros(len(PIECES))
        self.samples: list[list[list[np.ndarray]]] = [[] for _ in PIECES]
        self.max_len = 1
        for piece, inst in mapped_kit.pieces.items():
            if piece not in _PIECE_INDEX or not inst.layers:
                continue
            p = _PIECE_INDEX[piece]
            self.instrument[p] = inst
            index = {id(layer): i for i, layer in enumerate(inst.layers)}
            self.layer_table[p] = [index[id(inst.layer_for(v))] for v in range(128)]
            for i, layer in enumerate(inst.layers):
                samples = [_as_stereo_f32(s) for s in layer.samples]
                self.samples[p].append(samples)
                self.rr_table[p, i] = len(samples)
                self.gain_table[p, i] = inst.gain * layer.gain
                self.max_len = max(self.max_len, *(s.shape[1] for s in samples))
            self.exponent[p] = SINGLE_LAYER_EXPONENT if len(inst.layers) == 1 else MULTI_LAYER_EXPONENT
            self.pan[p] = float(np.clip(inst.pan, -1.0, 1.0))
        self._shifted: OrderedDict[tuple[int, int, int, float], np.ndarray] = OrderedDict()

    def sample(self, piece: int, layer: int, rr: int, semitones: float) -> np.ndarray:
        """A one-shot, pitch-shifted by resampling if ``semitones`` != 0 (LRU-cached)."""
        original = self.samples[piece][layer][rr]
        if semitones == 0.0:
            return original
        key = (piece, layer, rr, round(semitones, 3))
        cached = self._shifted.get(key)
        if cached is None:
            ratio = 2.0 ** (semitones / 12.0)
            # Played `ratio` times faster: as if recorded at SAMPLE_RATE * ratio.
            shifted = soxr.resample(original.T, SAMPLE_RATE * ratio, SAMPLE_RATE, quality="LQ")
            cached = np.ascontiguousarray(shifted.T, dtype=np.float32)
            self._shifted[key] = cached
            if len(self._shifted) > _SHIFT_CACHE_SIZE:
                self._shifted.popitem(last=False)
        else:
            self._shifted.move_to_end(key)
        return cached


def _as_stereo_f32(sample: np.ndarray) -> np.ndarray:
    """(2, frames) float32 C-contiguous view or copy; a mono (frames,) or (1, frames) is duplicated."""
    sample = np.asarray(sample)
    if sample.ndim == 1:
        sample = sample[None, :]
    if sample.shape[0] == 1:
        sample = np.repeat(sample, 2, axis=0)
    if sample.ndim != 2 or sample.shape[0] != 2:
        raise ValueError(f"a one-shot must be shaped (2, frames), got {sample.shape}")
    return np.ascontiguousarray(sample, dtype=np.float32)


_TABLES: dict[int, _KitTables] = {}


def _tables(mapped_kit: MappedKit) -> _KitTables:
    """The tables of a kit object, cached for the life of that object."""
    key = id(mapped_kit)
    tables = _TABLES.get(key)
    if tables is None:
        tables = _KitTables(mapped_kit)
        _TABLES[key] = tables
        weakref.finalize(mapped_kit, _TABLES.pop, key, None)
    return tables
