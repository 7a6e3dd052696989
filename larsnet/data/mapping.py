"""Assign a kit's instruments to the nine StemGMD pieces, and say what was done.

Planning (:func:`plan_mapping`) is a pure function of instrument names and MIDI notes,
so ``larsnet kits`` can show a kit's mapping from its metadata without loading a
sample, and the loaded kit gets exactly the same mapping. :func:`map_kit` then builds
the :class:`~larsnet.data.kit.MappedKit`, pitch-shifting a neighbour for a missing tom.

How pieces are chosen (details in :mod:`.naming`):

1. A user mapping, if given, wins: ``{hi_tom: "Tom Hi", crash: ["Crash 1", "Crash"],
   ride: 51, hihat_open: null}``: a name (exact, else case-insensitive), a MIDI note
   the kit plays the instrument on, a list tried in order, or null for "leave this
   piece silent". As a dict or a small YAML file.
2. Kick, snare, hi-hats and cymbals: every (instrument, piece) pair gets a score from
   the name and the GM note; the best pairs are taken greedily, one piece per
   instrument.
3. Toms are ranked from floor to high (name words, else GM note, else "Tom 1" =
   highest) and matched to floor / mid / high. A kit with only one or two toms gets
   the others by pitch-shifting the nearest tom by 3 semitones per step, reported in
   ``report.derived``.

A kit with no kick or no snare cannot make LarsNet training data: KitError.
"""
from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Union

import yaml

from larsnet.data.kit import Instrument, Kit, MappedKit, MappingReport, VelocityLayer
from larsnet.data.naming import NameVotes, classify, note_votes, tom_height
from larsnet.data.samples import pitch_shift
from larsnet.errors import KitError
from larsnet.stems import PIECES

TOM_SLOTS: tuple[tuple[str, float], ...] = (("floor_tom", 0.5), ("mid_tom", 2.0), ("hi_tom", 3.0))
"""Tom pieces from low to high, with the height (on :data:`naming.HEIGHT`'s scale) a
tom must have to fit them best."""

DERIVE_STEP_SEMITONES = 3
"""Pitch distance between neighbouring toms when one has to be derived."""

REQUIRED_PIECES: tuple[str, ...] = ("kick", "snare")

MappingValue = Union[str, int, None, Sequence[Union[str, int]]]
MappingLike = Union[None, str, Path, Mapping[str, MappingValue]]


class NamedNotes(Protocol):
    """Anything with a name and MIDI notes: an Instrument or an InstrumentInfo."""

    name: str
    midi_notes: tuple[int, ...]


@dataclass
class MappingPlan:
    """Which instrument (by index) plays each piece, and which pieces are derived."""

    assigned: dict[str, int] = field(default_factory=dict)
    derived: dict[str, tuple[str, int]] = field(default_factory=dict)
    """piece -> (piece it is shifted from, semitones)."""
    report: MappingReport = field(default_factory=lambda: MappingReport(kit=""))


@dataclass
class _Named:
    """An instrument known only by name (dropped for missing samples)."""

    name: str
    midi_notes: tuple[int, ...]


def load_mapping(mapping: MappingLike) -> tuple[dict[str, list[str | int] | None], str]:
    """Normalise a mapping (dict or YAML path) to ``piece -> candidates | None``.

    Returns it with a label naming where it came from, for error messages.
    """
    if mapping is None:
        return {}, ""
    origin = "mapping"
    if isinstance(mapping, (str, Path)):
        origin = str(mapping)
        mapping = _read_yaml(Path(mapping))
    if not isinstance(mapping, Mapping):
        raise KitError(origin, "a mapping must be a dict of piece: instrument name(s)")
    out: dict[str, list[str | int] | None] = {}
    for piece, value in mapping.items():
        if piece not in PIECES:
            hint = difflib.get_close_matches(str(piece), PIECES, n=1)
            did_you_mean = f"did you mean '{hint[0]}'? " if hint else ""
            raise KitError(origin, f"unknown piece '{piece}'; {did_you_mean}pieces are: {', '.join(PIECES)}")
        if value is None:
            out[piece] = None
            continue
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (str, int)):
                raise KitError(origin, f"{piece}: expected an instrument name, a MIDI note or a list of them, got {v!r}")
        out[piece] = values
    return out, origin


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KitError(path, f"cannot read mapping file ({exc.strerror or exc})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise KitError(path, f"{where}{exc.problem}; a mapping file looks like `hi_tom: \"Tom Hi\"`") from exc
    except yaml.YAMLError as exc:
        raise KitError(path, f"not valid YAML ({exc})") from exc
    return {} if data is None else data


def plan_mapping(
    instruments: Sequence[NamedNotes], mapping: MappingLike = None, *, kit_name: str = ""
) -> MappingPlan:
    """Choose an instrument for each piece. Pure: names and notes in, plan out."""
    overrides, origin = load_mapping(mapping)
    plan = MappingPlan(report=MappingReport(kit=kit_name))
    votes = [classify(inst.name) for inst in instruments]
    used: set[int] = set()
    forced_missing: set[str] = set()

    for piece, candidates in overrides.items():
        if candidates is None:
            forced_missing.add(piece)
            plan.report.notes.append(f"{piece} left silent by the mapping")
            continue
        idx = _resolve(instruments, candidates)
        if idx is None:
            names = ", ".join(inst.name for inst in instruments)
            wanted = " or ".join(repr(c) for c in candidates)
            raise KitError(origin, f"{piece}: no instrument {wanted} in kit '{kit_name}' (instruments: {names})")
        plan.assigned[piece] = idx
        used.add(idx)
        plan.report.notes.append(f"{piece} set by the mapping")

    _assign_by_score(instruments, votes, plan, used, forced_missing)
    _assign_toms(instruments, votes, plan, used, forced_missing)

    report = plan.report
    report.mapped = {p: instruments[plan.assigned[p]].name for p in PIECES if p in plan.assigned}
    report.derived = {
        p: f"{instruments[plan.assigned[src]].name} {st:+d} semitones"
        for p, (src, st) in plan.derived.items()
    }
    report.missing = [p for p in PIECES if p not in plan.assigned and p not in plan.derived]
    report.unused = [inst.name for i, inst in enumerate(instruments) if i not in set(plan.assigned.values())]
    return plan


def _resolve(instruments: Sequence[NamedNotes], candidates: list[str | int]) -> int | None:
    for cand in candidates:
        if isinstance(cand, int):
            hits = [i for i, inst in enumerate(instruments) if cand in inst.midi_notes]
        else:
            hits = [i for i, inst in enumerate(instruments) if inst.name == cand]
            if not hits:
                hits = [i for i, inst in enumerate(instruments) if inst.name.casefold() == cand.casefold()]
        if hits:
            return hits[0]
    return None


def _assign_by_score(
    instruments: Sequence[NamedNotes],
    votes: list[NameVotes],
    plan: MappingPlan,
    used: set[int],
    forced_missing: set[str],
) -> None:
    """Kick, snare, hats, cymbals: best-scoring (instrument, piece) pairs first."""
    pairs: list[tuple[float, int, str]] = []
    for idx, (inst, vote) in enumerate(zip(instruments, votes)):
        if idx in used or vote.other:
            continue
        by_note = note_votes(tuple(inst.midi_notes))
        for piece in PIECES:
            if piece in plan.assigned or piece in forced_missing or piece.endswith("_tom"):
                continue
            if piece in vote.pieces:
                score = vote.pieces[piece] + by_note.get(piece, 0.0)
            elif not vote.known and piece in by_note:
                score = by_note[piece]
            else:
                continue
            score -= vote.penalty
            if score > 0:
                pairs.append((-score, idx, piece))
    for _, idx, piece in sorted(pairs):
        if idx not in used and piece not in plan.assigned:
            plan.assigned[piece] = idx
            used.add(idx)


def _assign_toms(
    instruments: Sequence[NamedNotes],
    votes: list[NameVotes],
    plan: MappingPlan,
    used: set[int],
    forced_missing: set[str],
) -> None:
    """Rank the kit's toms by height, fit them to the free tom slots, derive the rest."""
    free = [(p, h) for p, h in TOM_SLOTS if p not in plan.assigned and p not in forced_missing]
    pool = []
    seen: set[tuple[str, float]] = set()
    for idx, (inst, vote) in enumerate(zip(instruments, votes)):
        if idx in used or vote.other:
            continue
        notes = tuple(inst.midi_notes)
        if "tom" in vote.pieces or (not vote.known and "tom" in note_votes(notes)):
            height = tom_height(vote, notes)
            same_drum = (re.sub(r"\s*\(\d+\)$", "", inst.name), height)
            if same_drum in seen:  # "Floor Tom (41)" and "Floor Tom (43)": one drum on two keys
                continue
            seen.add(same_drum)
            pool.append((height, idx, vote.penalty))
    clean = [t for t in pool if t[2] == 0]
    pool = (clean or pool)[:12]
    k = min(len(pool), len(free))
    if k:
        best: tuple[float, int, list] | None = None
        for slots in itertools.combinations(free, k):  # free is ordered low -> high
            for toms in itertools.combinations(pool, k):
                ranked = sorted(toms, key=lambda t: (t[0], -t[1]))
                cost = sum(abs(t[0] - h) for t, (_, h) in zip(ranked, slots))
                key = (cost, sum(t[1] for t in ranked))
                if best is None or key < best[:2]:
                    best = (cost, key[1], list(zip(slots, ranked)))
        assert best is not None
        for (piece, _), tom in best[2]:
            plan.assigned[piece] = tom[1]
            used.add(tom[1])
    present = [i for i, (p, _) in enumerate(TOM_SLOTS) if p in plan.assigned]
    if not present:
        return
    for i, (piece, _) in enumerate(TOM_SLOTS):
        if piece in plan.assigned or piece in forced_missing:
            continue
        src = min(present, key=lambda j: (abs(j - i), -j))
        plan.derived[piece] = (TOM_SLOTS[src][0], DERIVE_STEP_SEMITONES * (i - src))


def require_kick_and_snare(report: MappingReport, source: str) -> None:
    """Raise KitError if the mapping found no kick or no snare."""
    for piece in REQUIRED_PIECES:
        if piece in report.missing:
            names = ", ".join(report.unused) or "none"
            raise KitError(
                source or report.kit,
                f"kit '{report.kit}' maps no {piece}: no instrument name or GM note looks like one "
                f"(instruments: {names}); name it in a mapping, e.g. `{piece}: \"<instrument>\"`",
            )


def map_kit(kit: Kit, mapping: MappingLike = None) -> MappedKit:
    """Assign ``kit``'s instruments to the nine pieces; derive missing toms.

    Raises KitError if no kick or no snare is found, if a mapping names an unknown
    piece or instrument, or if a piece would need an instrument dropped for missing
    samples (see ``load_kit(strict=False)``).
    """
    candidates: list[NamedNotes] = list(kit.instruments)
    broken = [_Named(name, ()) for name in kit.broken]
    plan = plan_mapping(candidates + broken, mapping, kit_name=kit.name)
    source = kit.source or kit.name
    for piece, idx in plan.assigned.items():
        if idx >= len(kit.instruments):
            name = broken[idx - len(kit.instruments)].name
            files = ", ".join(kit.broken[name][:5])
            raise KitError(source, f"the {piece} would be instrument '{name}', whose samples are missing or unreadable: {files}")
    plan.report.unused = [n for n in plan.report.unused if n not in kit.broken]
    require_kick_and_snare(plan.report, source)
    pieces = {piece: kit.instruments[idx] for piece, idx in plan.assigned.items()}
    for piece, (src, semitones) in plan.derived.items():
        pieces[piece] = derive_instrument(pieces[src], semitones)
    ordered = {p: pieces[p] for p in PIECES if p in pieces}
    return MappedKit(kit=kit, pieces=ordered, report=plan.report)


def derive_instrument(source: Instrument, semitones: float) -> Instrument:
    """A copy of ``source`` with every sample pitch-shifted by resampling."""
    layers = [
        VelocityLayer(lo=l.lo, hi=l.hi, samples=[pitch_shift(s, semitones) for s in l.samples], gain=l.gain)
        for l in source.layers
    ]
    return Instrument(
        name=f"{source.name} ({semitones:+g} st)",
        layers=layers,
        gain=source.gain,
        pan=source.pan,
        midi_notes=(),
        choke_group=None,
        chokes=(),
    )


def format_report(report: MappingReport) -> str:
    """The mapping as a few lines for humans (``larsnet kits --details``)."""
    lines = [f"Kit '{report.kit}':"]
    for piece in PIECES:
        if piece in report.mapped:
            lines.append(f"  {piece:<13} <- {report.mapped[piece]}")
        elif piece in report.derived:
            lines.append(f"  {piece:<13} <- derived: {report.derived[piece]}")
        else:
            lines.append(f"  {piece:<13} -- missing (its stem stays silent)")
    if report.unused:
        lines.append(f"  unused: {', '.join(report.unused)}")
    for note in report.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def summarize(report: MappingReport) -> str:
    """One short cell for a kit listing: ``9/9``, ``9/9 (1 derived)``, ``7/9 -crash -ride``."""
    have = len(report.mapped) + len(report.derived)
    text = f"{have}/{len(PIECES)}"
    if report.derived:
        text += f" ({len(report.derived)} derived)"
    if report.missing:
        text += " " + " ".join(f"-{p}" for p in report.missing)
    return text
