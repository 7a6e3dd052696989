"""Write a one-shot sample pack: WAVs per stem, a manifest, an SFZ and a Hydrogen kit.

Layout (``<pack>`` is the folder; file names carry the pack name so one-shots stay
recognisable when dragged out of it)::

    <pack>/<stem>/<pack>_<stem>_<NN>.wav     one-shots, numbered in onset order
    <pack>/<pack>.sfz                        SFZ kit (sample paths relative to it)
    <pack>/drumkit.xml                       Hydrogen kit (current namespaced layout)
    <pack>/manifest.json, manifest.csv       one row per one-shot, plus notes

Both kits map each stem to a General MIDI key (kick 36, snare 38, hi-hat 42, cymbals 49;
toms spread over 45/47/50 by pitch when the stem holds clearly different toms, else one
key), and both are built from one plan (:func:`plan_kit`), so they always hold the same
samples: velocity layers from the hits' velocity estimates, and round robin (SFZ
``seq_length``/``seq_position``, Hydrogen ``ROUND_ROBIN`` over layers sharing a range)
for hits of similar velocity. Hydrogen holds at most 16 layers per instrument, so a kit
instrument gets at most ``kit_max_samples`` (<= 16) one-shots, chosen to cover every
velocity layer first; every one-shot is in the pack's folder either way, and the
manifest says which ones the kits use. Instrument names ("Kick", "Low Tom", "Hi-Hat",
"Cymbal") are ones :func:`larsnet.data.mapping.map_kit` recognises.

Every file is written atomically (a temp file renamed into place); one-shots listed
in a previous manifest of the same folder but not written this time are removed, so a
re-run with other settings leaves no stale files (nothing else is ever deleted).
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from drumflow.dsp.slicing import Hit, StemSlices, dominant_hz, loudness_lufs

TomKeys = Literal["auto", "spread", "single"]

GM_KEYS: dict[str, tuple[int, str]] = {
    "kick": (36, "Kick"),
    "snare": (38, "Snare"),
    "hihat": (42, "Hi-Hat"),
    "cymbals": (49, "Cymbal"),
}
"""Stem -> (General MIDI key, instrument name) for the stems with one instrument."""

TOM_LAYOUTS: dict[int, tuple[tuple[int, str], ...]] = {
    1: ((47, "Tom"),),
    2: ((45, "Low Tom"), (50, "High Tom")),
    3: ((45, "Low Tom"), (47, "Mid Tom"), (50, "High Tom")),
}
"""Number of distinct toms -> (GM key, name) from low to high."""

TOM_SPLIT_SEMITONES = 2.0
"""``tom_keys: auto`` puts two tom hits on different keys only if their pitches differ
by more than this: one drum's hits vary by less, neighbouring toms by 3-5 semitones."""

HYDROGEN_MAX_LAYERS = 16
HYDROGEN_NS = "http://www.hydrogen-music.org/drumkit"


def slug(name: str) -> str:
    """A name safe in file names, SFZ opcodes and XML: letters, digits, ``._-``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return cleaned or "pack"


@dataclass
class PackSample:
    """One one-shot of the pack and where the kits use it."""

    stem: str
    number: int
    file: str  # relative to the pack folder, with '/'
    hit: Hit
    instrument: str = ""
    key: int = 0
    layer: tuple[int, int] | None = None  # velocity range in the kits; None: not in the kits
    round_robin: tuple[int, int] = (1, 1)  # (position, length) within its layer


@dataclass
class KitLayer:
    lo: int
    hi: int
    samples: list[PackSample]


@dataclass
class KitInstrument:
    name: str
    key: int
    stem: str
    layers: list[KitLayer] = field(default_factory=list)

    @property
    def samples(self) -> list[PackSample]:
        return [s for layer in self.layers for s in layer.samples]


@dataclass
class WrittenPack:
    folder: Path
    name: str
    files: list[Path]
    manifest: dict[str, Any]
    instruments: list[KitInstrument]


# --------------------------------------------------------------------------- planning


def velocity_groups(velocities: Sequence[int], tolerance: int) -> list[list[int]]:
    """Indices grouped by velocity, low to high: a group spans at most ``tolerance``."""
    order = sorted(range(len(velocities)), key=lambda i: (velocities[i], i))
    groups: list[list[int]] = []
    for i in order:
        if groups and velocities[i] - velocities[groups[-1][0]] <= tolerance:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def velocity_layers(velocities: Sequence[int], tolerance: int) -> list[tuple[int, int, list[int]]]:
    """``(lo, hi, indices)`` per layer, covering 1..127 without gaps or overlaps.

    Hits within ``tolerance`` of a layer's softest hit share it (round robin); the
    boundary between two layers lies halfway between the loudest hit of the lower and
    the softest of the upper, so every hit's own velocity selects its own layer.
    """
    groups = velocity_groups(velocities, tolerance)
    layers = []
    lo = 1
    for g, members in enumerate(groups):
        if g + 1 < len(groups):
            hi = (max(velocities[i] for i in members) + velocities[groups[g + 1][0]]) // 2
        else:
            hi = 127
        layers.append((lo, hi, members))
        lo = hi + 1
    return layers


def select_for_kit(samples: Sequence[PackSample], max_samples: int, tolerance: int) -> list[PackSample]:
    """At most ``max_samples``, covering every velocity group before adding round robins.

    Takes the best hit (:attr:`Hit.quality`) of each velocity group, then the second
    best of each, and so on; returns them in the input order.
    """
    if len(samples) <= max_samples:
        return list(samples)
    groups = velocity_groups([s.hit.velocity for s in samples], tolerance)
    ranked = [sorted(g, key=lambda i: (-samples[i].hit.quality, i)) for g in groups]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < max_samples:
        for g in ranked:
            if depth < len(g) and len(chosen) < max_samples:
                chosen.append(g[depth])
        depth += 1
    return [samples[i] for i in sorted(chosen)]


def group_toms(pitches_hz: Sequence[float], mode: TomKeys) -> list[int]:
    """Group index per tom hit (0 = lowest), at most three groups.

    ``single``: one group. ``spread``: split at the largest pitch gaps into as many
    groups as there are distinct pitches, up to three. ``auto``: like spread, but only
    at gaps wider than :data:`TOM_SPLIT_SEMITONES`.
    """
    n = len(pitches_hz)
    if n == 0 or mode == "single":
        return [0] * n
    semis = 12.0 * np.log2(np.maximum(np.asarray(pitches_hz, dtype=np.float64), 1.0))
    order = np.argsort(semis, kind="stable")
    gaps = np.diff(semis[order])
    minimum = TOM_SPLIT_SEMITONES if mode == "auto" else 1e-6
    cuts = sorted(int(i) for i in np.argsort(-gaps, kind="stable")[:2] if gaps[i] > minimum)
    group = np.zeros(n, dtype=np.int64)
    for rank, idx in enumerate(order):
        group[idx] = sum(rank > c for c in cuts)
    return [int(g) for g in group]


def plan_kit(samples: Sequence[PackSample], *, tom_keys: TomKeys = "auto", keys: Mapping[str, int] | None = None,
             kit_max_samples: int = HYDROGEN_MAX_LAYERS, round_robin_velocity: int = 12) -> list[KitInstrument]:
    """Instruments, velocity layers and round robin for both kits; fills in each sample's
    ``instrument``, ``key``, ``layer`` and ``round_robin``."""
    if not 1 <= kit_max_samples <= HYDROGEN_MAX_LAYERS:
        raise ValueError(f"kit_max_samples must be 1..{HYDROGEN_MAX_LAYERS} (Hydrogen's layer limit), "
                         f"got {kit_max_samples}")
    keys = dict(keys or {})
    by_stem: dict[str, list[PackSample]] = {}
    for s in samples:
        by_stem.setdefault(s.stem, []).append(s)
    instruments: list[KitInstrument] = []
    for stem, members in by_stem.items():
        if stem == "toms" and "toms" not in keys:
            groups = group_toms([dominant_hz(s.hit) for s in members], tom_keys)
            layout = TOM_LAYOUTS[max(groups) + 1]
            for g, (key, name) in enumerate(layout):
                instruments.append(KitInstrument(name, key, stem))
                for s, sg in zip(members, groups):
                    if sg == g:
                        s.instrument, s.key = name, key
        else:
            key, name = GM_KEYS.get(stem, (keys.get(stem, 60), stem.replace("_", " ").title()))
            if stem == "toms":
                name = "Tom"
            key = keys.get(stem, key)
            instruments.append(KitInstrument(name, key, stem))
            for s in members:
                s.instrument, s.key = name, key
    used: list[KitInstrument] = []
    for inst in instruments:
        members = [s for s in samples if s.stem == inst.stem and s.instrument == inst.name]
        chosen = select_for_kit(members, kit_max_samples, round_robin_velocity)
        for lo, hi, idx in velocity_layers([s.hit.velocity for s in chosen], round_robin_velocity):
            layer = KitLayer(lo, hi, sorted((chosen[i] for i in idx), key=lambda s: s.hit.onset))
            for pos, s in enumerate(layer.samples, 1):
                s.layer, s.round_robin = (lo, hi), (pos, len(layer.samples))
            inst.layers.append(layer)
        if inst.layers:
            used.append(inst)
    keys_seen: dict[int, str] = {}
    for inst in used:
        if inst.key in keys_seen:
            raise ValueError(f"'{inst.name}' and '{keys_seen[inst.key]}' would share MIDI key {inst.key}; "
                             "give each stem its own key")
        keys_seen[inst.key] = inst.name
    return used


# --------------------------------------------------------------------------- kit files


def sfz_text(name: str, instruments: Sequence[KitInstrument], source: str) -> str:
    """The SFZ kit: one ``<group>`` per instrument (key + label), one ``<region>`` per
    sample with its velocity range and round-robin position."""
    lines = [f"// {name}: one-shots cut from '{source}' by drumflow (slice)",
             "// velocity layers from the hits' estimated velocities; round robin within a layer",
             "<control>", "<global> amp_veltrack=100", ""]
    if not instruments:
        lines.append("// no one-shots: every stem was silent or had no onsets (see manifest.json)")
    for inst in sorted(instruments, key=lambda i: i.key):
        lines.append(f"<group> key={inst.key} group_label={inst.name}")
        for layer in inst.layers:
            for pos, s in enumerate(layer.samples, 1):
                rr = f" seq_length={len(layer.samples)} seq_position={pos}" if len(layer.samples) > 1 else ""
                lines.append(f"<region> sample={s.file} lovel={layer.lo} hivel={layer.hi}{rr}")
        lines.append("")
    return "\n".join(lines)


def hydrogen_xml(name: str, instruments: Sequence[KitInstrument], source: str) -> str:
    """The Hydrogen ``drumkit.xml`` (namespaced, ``instrumentComponent/layer``).

    Layers are velocity ranges in 0..1 (``velocity / 127``); round-robin samples are
    layers sharing one range, played in turn with ``sampleSelectionAlgo`` ROUND_ROBIN.
    """
    root = ET.Element("drumkit_info", {"xmlns": HYDROGEN_NS,
                                       "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance"})

    def sub(parent: ET.Element, tag: str, text: object = None) -> ET.Element:
        el = ET.SubElement(parent, tag)
        if text is not None:
            el.text = str(text)
        return el

    sub(root, "name", name)
    sub(root, "author", "drumflow slice")
    sub(root, "info", f"One-shots cut from '{source}' by drumflow.")
    sub(root, "license", f"same as the source recording ('{source}')")
    sub(root, "image", "")
    sub(root, "imageLicense", "undefined license")
    component = sub(sub(root, "componentList"), "drumkitComponent")
    sub(component, "id", 0)
    sub(component, "name", "Main")
    sub(component, "volume", 1)
    inst_list = sub(root, "instrumentList")
    for i, inst in enumerate(instruments):
        el = sub(inst_list, "instrument")
        for tag, value in (("id", i), ("name", inst.name), ("volume", 1), ("isMuted", "false"),
                           ("isSoloed", "false"), ("pan", 0), ("pitchOffset", 0), ("randomPitchFactor", 0),
                           ("gain", 1), ("applyVelocity", "true"), ("filterActive", "false"),
                           ("filterCutoff", 1), ("filterResonance", 0), ("Attack", 0), ("Decay", 0),
                           ("Sustain", 1), ("Release", 1000), ("muteGroup", -1), ("midiOutChannel", -1),
                           ("midiOutNote", inst.key), ("isStopNote", "false"),
                           ("sampleSelectionAlgo",
                            "ROUND_ROBIN" if any(len(la.samples) > 1 for la in inst.layers) else "VELOCITY"),
                           ("isHihat", -1), ("lower_cc", 0), ("higher_cc", 127)):
            sub(el, tag, value)
        comp = sub(el, "instrumentComponent")
        sub(comp, "component_id", 0)
        sub(comp, "gain", 1)
        previous_hi = 0
        for layer in inst.layers:
            for s in layer.samples:
                lay = sub(comp, "layer")
                sub(lay, "filename", s.file)
                sub(lay, "min", f"{previous_hi / 127:.6f}")
                sub(lay, "max", f"{layer.hi / 127:.6f}")
                sub(lay, "gain", 1)
                sub(lay, "pitch", 0)
            previous_hi = layer.hi
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --------------------------------------------------------------------------- manifest

CSV_COLUMNS = ("source_track", "stem", "file", "onset_s", "duration_s", "peak_dbfs", "loudness_lufs",
               "velocity", "gain_db", "truncated", "duplicates", "instrument", "key", "in_kit", "layer")


def _round(x: float, digits: int) -> float | None:
    return round(float(x), digits) if np.isfinite(x) else None


def sample_row(s: PackSample, source: str) -> dict[str, Any]:
    """One manifest row: levels of the written one-shot, times in the source."""
    h = s.hit
    return {
        "source_track": source,
        "stem": s.stem,
        "file": s.file,
        "onset_s": round(h.onset_s, 6),
        "duration_s": round(h.duration_s, 6),
        "peak_dbfs": _round(20 * np.log10(h.peak) if h.peak > 0 else -np.inf, 2),
        "loudness_lufs": _round(loudness_lufs(h.audio, h.sample_rate), 2),
        "velocity": h.velocity,
        "gain_db": round(h.gain_db, 2),
        "truncated": h.truncated,
        "duplicates": len(h.duplicates),
        "instrument": s.instrument,
        "key": s.key,
        "in_kit": s.layer is not None,
        "layer": f"{s.layer[0]}-{s.layer[1]}" if s.layer else "",
    }


def csv_text(rows: Iterable[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in CSV_COLUMNS})
    return buf.getvalue()


# --------------------------------------------------------------------------- writing


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _stale_files(folder: Path, keep: set[Path]) -> list[Path]:
    """Files a previous manifest in ``folder`` lists that this pack does not write."""
    try:
        old = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    listed = [row.get("file") for row in old.get("hits", []) if isinstance(row, dict)]
    listed += list((old.get("kits") or {}).values())
    out = []
    root = folder.resolve()
    for rel in listed:
        if not isinstance(rel, str) or not rel:
            continue
        p = (folder / rel).resolve()
        if p.is_relative_to(root) and p not in keep and p.is_file():
            out.append(p)
    return out


def write_pack(folder: str | Path, name: str, stems: Sequence[StemSlices], *, source: str,
               bit_depth: int = 24, seed: int = 0, tom_keys: TomKeys = "auto", keys: Mapping[str, int] | None = None,
               kit_max_samples: int = HYDROGEN_MAX_LAYERS, round_robin_velocity: int = 12,
               protected: Iterable[str | Path] = (), settings: Mapping[str, Any] | None = None,
               notes: Sequence[str] = ()) -> WrittenPack:
    """Write the pack for ``stems`` into ``folder``; returns what was written.

    ``name`` is used in file names (made safe with :func:`slug`). Stems without hits
    get no folder and a note. ``protected`` files (the inputs) are never overwritten.
    """
    from larsnet.audio import AudioWriter

    folder = Path(folder)
    name = slug(name)
    guarded = {os.path.realpath(p) for p in protected}
    samples: list[PackSample] = []
    all_notes = list(notes)
    stem_info: dict[str, dict[str, Any]] = {}
    for sl in stems:
        all_notes += sl.notes
        for number, hit in enumerate(sl.hits, 1):
            samples.append(PackSample(sl.stem, number, f"{sl.stem}/{name}_{sl.stem}_{number:02d}.wav", hit))
        stem_info[sl.stem] = {"folder": sl.stem if sl.hits else None, "onsets": sl.detected,
                              "kept": len(sl.hits), "near_duplicates_dropped": sl.duplicates,
                              "sample_rate": sl.sample_rate}
    instruments = plan_kit(samples, tom_keys=tom_keys, keys=keys, kit_max_samples=kit_max_samples,
                           round_robin_velocity=round_robin_velocity)
    for inst in instruments:
        stem_info[inst.stem].setdefault("instruments", []).append(
            {"name": inst.name, "key": inst.key, "samples": len(inst.samples),
             "layers": [{"lo": la.lo, "hi": la.hi, "samples": len(la.samples)} for la in inst.layers]})

    kit_files = {"sfz": f"{name}.sfz", "hydrogen": "drumkit.xml"}
    targets = [folder / s.file for s in samples] + [folder / f for f in kit_files.values()] + [
        folder / "manifest.csv", folder / "manifest.json"]
    for t in targets:
        if os.path.realpath(t) in guarded:
            raise ValueError(f"{t} is an input file; refusing to overwrite it (choose another --out or path)")
    for stale in _stale_files(folder, {t.resolve() for t in targets}):
        stale.unlink()
        if stale.parent != folder.resolve() and not any(stale.parent.iterdir()):
            stale.parent.rmdir()

    written: list[Path] = []
    for i, s in enumerate(samples):
        path = folder / s.file
        audio = s.hit.audio
        with AudioWriter(path, s.hit.sample_rate, audio.shape[0], bit_depth=bit_depth,
                         seed=(seed + i) % (1 << 63)) as writer:
            writer.write(audio)
        written.append(path)
    _write_text(folder / kit_files["sfz"], sfz_text(name, instruments, source))
    _write_text(folder / kit_files["hydrogen"], hydrogen_xml(name, instruments, source))
    rows = [sample_row(s, source) for s in samples]
    _write_text(folder / "manifest.csv", csv_text(rows))
    if not samples:
        all_notes.append("the pack is empty: no stem had a usable hit")
    manifest = {
        "pack": name,
        "created_by": "drumflow slice",
        "source_track": source,
        "stems": stem_info,
        "notes": all_notes,
        "kits": kit_files,
        "kit_max_samples": kit_max_samples,
        "settings": dict(settings or {}),
        "hits": rows,
    }
    _write_text(folder / "manifest.json", json.dumps(manifest, indent=2) + "\n")  # last: a pack with it is whole
    written += [folder / kit_files["sfz"], folder / kit_files["hydrogen"], folder / "manifest.csv",
                folder / "manifest.json"]
    return WrittenPack(folder, name, written, manifest, instruments)
