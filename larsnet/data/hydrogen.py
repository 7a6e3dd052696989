"""Hydrogen drum kits: a ``drumkit.xml`` and its one-shots.

Three generations of the format are in the wild (all in Debian's hydrogen-drumkits):

- current: namespaced XML, ``instrument/instrumentComponent/layer`` (GMRockKit);
- 0.9.x: namespaced or not, ``instrument/layer`` (The Black Pearl, ForzeeStereo);
- oldest: ``instrument/filename`` with no layers (HardElectro1, Millo-Drums_v.1).

A layer's ``min``/``max`` (0..1) become MIDI velocities 1..127; layers sharing a range
are round-robin alternatives. ``volume * gain`` is the instrument gain, ``pan_L`` /
``pan_R`` (or ``pan``) its pan, ``muteGroup`` its choke group, ``midiOutNote`` its note,
but only when the kit's notes are distinct: many kits leave every instrument on 60,
which would otherwise map everything to nothing. Layer ``pitch`` (semitones) is applied
by resampling. ``emptySample.flac`` marks an empty slot, as in Hydrogen itself.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from larsnet.data.kit import Instrument, Kit, VelocityLayer
from larsnet.data.kitinfo import InstrumentInfo, KitInfo
from larsnet.data.samples import pitch_shift, read_sample
from larsnet.errors import KitError

EMPTY_SAMPLES = {"", "emptysample.flac", "emptysample.wav"}


@dataclass
class _Layer:
    path: Path
    lo: float
    hi: float
    gain: float
    pitch: float


@dataclass
class _Instrument:
    name: str
    gain: float
    pan: float
    note: int | None
    mute_group: int | None
    layers: list[_Layer] = field(default_factory=list)


@dataclass
class _DrumkitXml:
    name: str
    author: str
    license: str
    instruments: list[_Instrument]


def drumkit_xml(path: str | Path) -> Path:
    """The ``drumkit.xml`` for a kit folder or the file itself."""
    path = Path(path)
    return path / "drumkit.xml" if path.is_dir() else path


def _text(node: ET.Element | None, tag: str, default: str = "") -> str:
    child = node.find(tag) if node is not None else None
    return (child.text or "").strip() if child is not None and child.text is not None else default


def _float(node: ET.Element, tag: str, default: float) -> float:
    try:
        return float(_text(node, tag, str(default)))
    except ValueError:
        return default


def _parse(xml_path: Path) -> _DrumkitXml:
    try:
        root = ET.parse(xml_path).getroot()
    except FileNotFoundError as exc:
        raise KitError(xml_path, "no drumkit.xml here; a Hydrogen kit folder holds drumkit.xml and its samples") from exc
    except ET.ParseError as exc:
        raise KitError(xml_path, f"not valid XML ({exc}); re-save the kit from Hydrogen") from exc
    except OSError as exc:
        raise KitError(xml_path, f"cannot read ({exc.strerror or exc})") from exc
    for node in root.iter():  # old kits have no namespace, new ones do: drop it
        if isinstance(node.tag, str) and "}" in node.tag:
            node.tag = node.tag.split("}", 1)[1]
    if root.tag != "drumkit_info":
        raise KitError(xml_path, f"root element is <{root.tag}>, not <drumkit_info>: not a Hydrogen drumkit.xml")
    folder = xml_path.parent
    instruments = [_parse_instrument(node, folder) for node in root.iter("instrument")]
    return _DrumkitXml(
        name=_text(root, "name") or folder.name,
        author=_text(root, "author"),
        license=_text(root, "license") or "unknown",
        instruments=instruments,
    )


def _parse_instrument(node: ET.Element, folder: Path) -> _Instrument:
    if node.find("pan") is not None:
        pan = _float(node, "pan", 0.0)
    else:  # pan_L/pan_R are the two channel gains (1, 1 = centre)
        pan = _float(node, "pan_R", 1.0) - _float(node, "pan_L", 1.0)
    note_text = _text(node, "midiOutNote")
    group = int(_float(node, "muteGroup", -1))
    inst = _Instrument(
        name=_text(node, "name") or f"instrument {_text(node, 'id')}",
        gain=_float(node, "volume", 1.0) * _float(node, "gain", 1.0),
        pan=float(np.clip(pan, -1.0, 1.0)),
        note=int(note_text) if note_text.lstrip("-").isdigit() else None,
        mute_group=group if group >= 0 else None,
    )
    layer_nodes = node.findall("instrumentComponent/layer") or node.findall("layer")
    for layer in layer_nodes:
        filename = _text(layer, "filename")
        if filename.lower() in EMPTY_SAMPLES:
            continue
        inst.layers.append(
            _Layer(
                path=folder / filename,
                lo=_float(layer, "min", 0.0),
                hi=_float(layer, "max", 1.0),
                gain=_float(layer, "gain", 1.0),
                pitch=_float(layer, "pitch", 0.0),
            )
        )
    filename = _text(node, "filename")
    if not layer_nodes and filename.lower() not in EMPTY_SAMPLES:
        inst.layers.append(_Layer(path=folder / filename, lo=0.0, hi=1.0, gain=1.0, pitch=0.0))
    return inst


def _trusted_notes(instruments: list[_Instrument]) -> bool:
    """Notes mean something only if most instruments have their own."""
    notes = [i.note for i in instruments if i.note is not None]
    return bool(notes) and len(set(notes)) * 2 >= len(notes) + 1


def inspect_hydrogen(path: str | Path) -> KitInfo:
    """Metadata of a Hydrogen kit; no audio is read (missing files are listed)."""
    xml_path = drumkit_xml(path)
    kit = _parse(xml_path)
    trust = _trusted_notes(kit.instruments)
    infos = []
    for inst in kit.instruments:
        if not inst.layers:
            continue
        ranges = {(round(l.lo, 3), round(l.hi, 3)) for l in inst.layers}
        infos.append(
            InstrumentInfo(
                name=inst.name,
                midi_notes=(inst.note,) if trust and inst.note is not None else (),
                layers=len(ranges),
                samples=len(inst.layers),
                missing=sorted({l.path.name for l in inst.layers if not l.path.is_file()}),
            )
        )
    return KitInfo(
        name=kit.name, format="hydrogen", source=str(xml_path), instruments=infos,
        license=kit.license, author=kit.author,
    )


def load_hydrogen(path: str | Path, *, name: str | None = None, strict: bool = True) -> Kit:
    """Load a Hydrogen kit (folder or drumkit.xml) into a :class:`Kit`.

    ``strict``: missing or unreadable samples raise KitError listing them; otherwise
    the instruments concerned are dropped and listed in ``kit.broken``.
    """
    xml_path = drumkit_xml(path)
    parsed = _parse(xml_path)
    trust = _trusted_notes(parsed.instruments)
    kit = Kit(
        name=name or parsed.name, instruments=[], source=str(xml_path), format="hydrogen",
        license=parsed.license, author=parsed.author,
    )
    missing = {inst.name: sorted({l.path.name for l in inst.layers if not l.path.is_file()})
               for inst in parsed.instruments}
    missing = {k: v for k, v in missing.items() if v}
    if missing and strict:
        files = sorted({f for v in missing.values() for f in v})
        raise KitError(xml_path, f"{len(files)} sample file(s) missing: {', '.join(files[:8])}"
                                 f"{' ...' if len(files) > 8 else ''} (instruments: {', '.join(missing)})")
    cache: dict[tuple[Path, float], np.ndarray] = {}
    for inst in parsed.instruments:
        if not inst.layers:
            continue
        if inst.name in missing:
            kit.broken[inst.name] = missing[inst.name]
            continue
        try:
            layers = _velocity_layers(inst.layers, cache)
        except KitError as exc:
            if strict:
                raise
            kit.broken[inst.name] = [f"{exc.path}: {exc.problem}"]
            continue
        kit.instruments.append(
            Instrument(
                name=inst.name,
                layers=layers,
                gain=inst.gain,
                pan=inst.pan,
                midi_notes=(inst.note,) if trust and inst.note is not None else (),
                choke_group=inst.mute_group,
                chokes=(inst.mute_group,) if inst.mute_group is not None else (),
            )
        )
    if not kit.instruments:
        raise KitError(xml_path, "the kit has no instrument with a usable sample")
    return kit


def _velocity_layers(layers: list[_Layer], cache: dict) -> list[VelocityLayer]:
    """Hydrogen layers -> contiguous velocity layers; equal ranges become round robin.

    Hydrogen ranges overlap slightly in many kits (0.20-0.38, 0.37-0.73): each layer
    is cut at its own top velocity, so every velocity selects exactly one layer.
    """
    groups: dict[int, list[_Layer]] = {}
    for layer in layers:
        top = int(np.clip(round(layer.hi * 127), 1, 127))
        groups.setdefault(top, []).append(layer)
    out: list[VelocityLayer] = []
    lo = 1
    for top in sorted(groups):
        members = groups[top]
        gains = {m.gain for m in members}
        samples = []
        for m in members:
            key = (m.path, m.pitch)
            if key not in cache:
                cache[key] = pitch_shift(read_sample(m.path), m.pitch)
            audio = cache[key]
            samples.append(audio if len(gains) == 1 else audio * np.float32(m.gain))
        out.append(VelocityLayer(lo=lo, hi=top, samples=samples,
                                 gain=members[0].gain if len(gains) == 1 else 1.0))
        lo = top + 1
    out[-1].hi = 127  # the loudest layer also serves velocities above its nominal max
    return out
