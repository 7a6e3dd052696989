"""SFZ drum kits: the common opcodes, enough for the free acoustic kits in the wild.

Supported: headers ``<control>`` (``default_path``), ``<global>``, ``<master>``,
``<group>``, ``<region>`` with inheritance; ``#define $VAR value`` and ``#include``;
opcodes ``sample``, ``key`` / ``lokey`` / ``hikey`` / ``pitch_keycenter`` (numbers or
note names, c4 = 60), ``lovel`` / ``hivel``, ``seq_length`` / ``seq_position`` and
``lorand`` / ``hirand`` (both become round robin), ``group`` / ``off_by`` (chokes),
``volume`` (dB) and ``amplitude`` (%), ``pan`` (-100..100), ``tune`` (cents),
``transpose`` and ``pitch_keytrack`` (applied by resampling), ``offset`` / ``end``,
``*_label`` for instrument names. Release triggers and generated ``*sine`` samples are
skipped; every other opcode is ignored (e.g. ``amp_veltrack``: the sampler applies its
own velocity curve).

One instrument per set of keys played by the same regions; its name is a
``*_label``, else the common stem of its sample names, else ``note N``.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from larsnet.data.kit import Instrument, Kit, VelocityLayer
from larsnet.data.kitinfo import InstrumentInfo, KitInfo
from larsnet.data.samples import pitch_shift, read_sample
from larsnet.errors import KitError

HEADERS = ("control", "global", "master", "group", "region")
NOTE_NAMES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
MAX_INCLUDE_DEPTH = 8
MAX_KEYS_FOR_NOTES = 12
"""An instrument spread over more keys than this is melodic or a catch-all: its
notes say nothing about which drum it is."""


def parse_note(value: str) -> int:
    """``36`` or a note name (``c4`` = 60, ``c#4``, ``db4``, ``c-1`` = 0) -> MIDI note."""
    value = value.strip()
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    m = re.fullmatch(r"([a-gA-G])([#b]?)(-?\d+)", value)
    if not m:
        raise ValueError(f"not a MIDI note: {value!r}")
    letter, accidental, octave = m.groups()
    semitone = NOTE_NAMES[letter.lower()] + {"#": 1, "b": -1, "": 0}[accidental]
    return (int(octave) + 1) * 12 + semitone


@dataclass
class Region:
    """One ``<region>`` with everything it inherited resolved."""

    sample: Path
    lokey: int
    hikey: int
    lovel: int
    hivel: int
    keycenter: int
    keytrack: float
    transpose: float
    tune_cents: float
    gain: float
    pan: float
    seq_position: int
    rand: float
    group: int
    off_by: int
    offset: int
    end: int | None
    label: str

    def semitones(self, key: int) -> float:
        return (key - self.keycenter) * self.keytrack / 100.0 + self.transpose + self.tune_cents / 100.0


def _read_text(path: Path, depth: int = 0) -> str:
    """File text with comments removed and ``#include``s expanded."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KitError(path, f"cannot read SFZ file ({exc.strerror or exc})") from exc
    text = raw.decode("utf-8", errors="replace") if b"\0" not in raw[:4096] else None
    if text is None:
        raise KitError(path, "binary data, not an SFZ text file")
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)

    def include(m: re.Match) -> str:
        if depth >= MAX_INCLUDE_DEPTH:
            raise KitError(path, "#include nested too deeply (a loop?)")
        return _read_text(path.parent / m.group(1).replace("\\", "/"), depth + 1)

    return re.sub(r'#include\s+"([^"]+)"', include, text)


def _expand_defines(text: str) -> str:
    defines: dict[str, str] = {}
    out = []
    for line in text.splitlines():
        m = re.match(r"\s*#define\s+(\$\w+)\s+(\S+)", line)
        if m:
            defines[m.group(1)] = m.group(2)
            continue
        for var in sorted(defines, key=len, reverse=True):
            line = line.replace(var, defines[var])
        out.append(line)
    return "\n".join(out)


def _sections(text: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(header, opcodes) in file order. Values run to the next opcode, so sample
    paths may contain spaces."""
    for m in re.finditer(r"<(\w+)>([^<]*)", text):
        body = m.group(2)
        opcodes: dict[str, str] = {}
        starts = list(re.finditer(r"(?:(?<=\s)|^)([A-Za-z_][\w]*)=", body))
        for i, op in enumerate(starts):
            stop = starts[i + 1].start() if i + 1 < len(starts) else len(body)
            opcodes[op.group(1).lower()] = body[op.end():stop].strip()
        yield m.group(1).lower(), opcodes


def parse_sfz(path: str | Path) -> list[Region]:
    """All playable regions of an SFZ file (no audio read)."""
    path = Path(path)
    text = _expand_defines(_read_text(path))
    control: dict[str, str] = {}
    scopes: dict[str, dict[str, str]] = {"global": {}, "master": {}, "group": {}}
    regions: list[Region] = []
    for header, opcodes in _sections(text):
        if header == "control":
            control.update(opcodes)
        elif header == "global":
            scopes = {"global": opcodes, "master": {}, "group": {}}
        elif header == "master":
            scopes["master"], scopes["group"] = opcodes, {}
        elif header == "group":
            scopes["group"] = opcodes
        elif header == "region":
            merged = {**scopes["global"], **scopes["master"], **scopes["group"], **opcodes}
            region = _region(path, control, merged)
            if region is not None:
                regions.append(region)
    return regions


def _region(path: Path, control: dict[str, str], op: dict[str, str]) -> Region | None:
    sample = op.get("sample", "")
    if not sample or sample.startswith("*") or op.get("trigger", "attack") not in ("attack", "first", "legato"):
        return None
    folder = control.get("default_path", "").replace("\\", "/")
    sample_path = path.parent / folder / sample.replace("\\", "/")
    try:
        def note(name: str, default: int) -> int:
            return parse_note(op[name]) if name in op else default

        def num(name: str, default: float) -> float:
            return float(op[name]) if name in op else default

        key = note("key", -1)
        lokey = note("lokey", key if key >= 0 else 0)
        hikey = note("hikey", key if key >= 0 else 127)
        keycenter = note("pitch_keycenter", key if key >= 0 else 60)
        offset_keys = int(num("note_offset", 0)) + 12 * int(num("octave_offset", 0))
        rand_lo, rand_hi = num("lorand", 0.0), num("hirand", 1.0)
        return Region(
            sample=sample_path,
            lokey=lokey + offset_keys,
            hikey=hikey + offset_keys,
            lovel=int(num("lovel", 1)),
            hivel=int(num("hivel", 127)),
            keycenter=keycenter + offset_keys,
            keytrack=num("pitch_keytrack", 100.0),
            transpose=num("transpose", 0.0),
            tune_cents=num("tune", 0.0) + num("pitch", 0.0),
            gain=10.0 ** (num("volume", 0.0) / 20.0) * num("amplitude", 100.0) / 100.0,
            pan=float(np.clip(num("pan", 0.0) / 100.0, -1.0, 1.0)),
            seq_position=int(num("seq_position", 1)),
            rand=(rand_lo + rand_hi) / 2.0,
            group=int(num("group", 0)),
            off_by=int(num("off_by", 0)),
            offset=int(num("offset", 0)),
            end=int(num("end", 0)) or None,
            label=op.get("region_label") or op.get("group_label") or op.get("master_label")
            or op.get("global_label") or "",
        )
    except ValueError as exc:
        raise KitError(path, f"region with sample={sample}: bad opcode value ({exc})") from exc


@dataclass
class _Group:
    notes: tuple[int, ...]
    regions: list[Region]


def _group_keys(regions: list[Region]) -> list[_Group]:
    """Keys played by the same regions (at the same pitch) form one instrument."""
    by_key: dict[tuple, list[int]] = {}
    members: dict[tuple, list[Region]] = {}
    for key in range(128):
        hits = [r for r in regions if r.lokey <= key <= r.hikey]
        if not hits:
            continue
        sig = tuple((id(r), round(r.semitones(key), 3)) for r in hits)
        by_key.setdefault(sig, []).append(key)
        members[sig] = hits
    return [_Group(tuple(keys), members[sig]) for sig, keys in by_key.items()]


def _name(group: _Group) -> str:
    labels = {r.label for r in group.regions if r.label}
    if len(labels) == 1:
        return labels.pop()
    stems = [re.sub(r"[\s_\-.]*(\d+|v\d+|rr\d+|soft|hard|med)*$", "", r.sample.stem, flags=re.I)
             for r in group.regions]
    prefix = os.path.commonprefix(stems).strip(" _-.")
    if len(re.sub(r"[^A-Za-z]", "", prefix)) >= 2:
        return prefix
    return f"note {group.notes[0]}"


def _named_groups(regions: list[Region]) -> list[tuple[str, _Group]]:
    groups = _group_keys(regions)
    names = [_name(g) for g in groups]
    out = []
    for name, group in zip(names, groups):
        if names.count(name) > 1:
            name = f"{name} ({group.notes[0]})"
        out.append((name, group))
    return out


def inspect_sfz(path: str | Path) -> KitInfo:
    """Metadata of an SFZ kit; no audio is read (missing files are listed)."""
    path = Path(path)
    regions = parse_sfz(path)
    infos = []
    for name, group in _named_groups(regions):
        layers = {(r.lovel, r.hivel) for r in group.regions}
        infos.append(InstrumentInfo(
            name=name,
            midi_notes=group.notes if len(group.notes) <= MAX_KEYS_FOR_NOTES else (),
            layers=len(layers),
            samples=len(group.regions),
            missing=sorted({r.sample.name for r in group.regions if not r.sample.is_file()}),
        ))
    return KitInfo(name=path.stem, format="sfz", source=str(path), instruments=infos)


def load_sfz(path: str | Path, *, name: str | None = None, strict: bool = True) -> Kit:
    """Load an SFZ kit into a :class:`Kit` (see the module docstring for opcodes).

    ``strict``: missing or unreadable samples raise KitError listing them; otherwise
    the instruments concerned are dropped and listed in ``kit.broken``.
    """
    path = Path(path)
    regions = parse_sfz(path)
    if not regions:
        raise KitError(path, "no <region> with a sample= opcode: not a usable SFZ kit")
    missing_all = sorted({str(r.sample.relative_to(path.parent)) if r.sample.is_relative_to(path.parent)
                          else str(r.sample) for r in regions if not r.sample.is_file()})
    if missing_all and strict:
        raise KitError(path, f"{len(missing_all)} sample file(s) missing: {', '.join(missing_all[:8])}"
                             f"{' ...' if len(missing_all) > 8 else ''}")
    kit = Kit(name=name or path.stem, instruments=[], source=str(path), format="sfz")
    audio_cache: dict[Path, np.ndarray] = {}
    for inst_name, group in _named_groups(regions):
        missing = sorted({r.sample.name for r in group.regions if not r.sample.is_file()})
        if missing:
            kit.broken[inst_name] = missing
            continue
        try:
            layers = _layers(group, audio_cache)
        except KitError as exc:
            if strict:
                raise
            kit.broken[inst_name] = [f"{exc.path}: {exc.problem}"]
            continue
        first = group.regions[0]
        kit.instruments.append(Instrument(
            name=inst_name,
            layers=layers,
            pan=first.pan,
            midi_notes=group.notes if len(group.notes) <= MAX_KEYS_FOR_NOTES else (),
            choke_group=first.group or None,
        ))
    _link_chokes(kit, regions)
    if not kit.instruments:
        raise KitError(path, "no instrument with a usable sample")
    return kit


def _layers(group: _Group, cache: dict[Path, np.ndarray]) -> list[VelocityLayer]:
    key = group.notes[0]
    by_range: dict[tuple[int, int], list[Region]] = {}
    for r in group.regions:
        by_range.setdefault((r.lovel, r.hivel), []).append(r)
    layers = []
    for (lo, hi), regs in sorted(by_range.items()):
        regs.sort(key=lambda r: (r.seq_position, r.rand))
        samples = []
        for r in regs:
            if r.sample not in cache:
                cache[r.sample] = read_sample(r.sample)
            audio = cache[r.sample][:, r.offset: r.end]
            if audio.shape[1] == 0:
                raise KitError(r.sample, f"offset={r.offset} is past the end of the sample")
            audio = pitch_shift(audio, r.semitones(key))
            samples.append(audio * np.float32(r.gain) if r.gain != 1.0 else audio)
        layers.append(VelocityLayer(lo=max(0, lo), hi=min(127, hi), samples=samples))
    return layers


def _link_chokes(kit: Kit, regions: list[Region]) -> None:
    """``off_by``: a region with ``group=a off_by=b`` is cut when group b plays, so
    the instruments of group b choke group a."""
    cut_by: dict[int, set[int]] = {}
    for r in regions:
        if r.group and r.off_by:
            cut_by.setdefault(r.off_by, set()).add(r.group)
    for inst in kit.instruments:
        if inst.choke_group in cut_by:
            inst.chokes = tuple(sorted(cut_by[inst.choke_group]))
