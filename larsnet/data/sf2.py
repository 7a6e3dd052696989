"""SF2 drum kits: render each drum note into one-shots once, then cache them.

A SoundFont is a synthesiser patch, not a folder of one-shots, so we play it: for one
drum preset, every key in the GM drum range (35..59) is rendered with TinySoundFont
(note on, render until the tail is 80 dB below the peak or 8 s, note off) at the top
velocity of each of the preset's own velocity splits, or at 4 default velocities when
the preset has a single sample per key. Keys played by the same samples at the same
pitch become one instrument (the AVL kits put one floor tom on 41 and 43).

Rendering takes about a second per preset; the one-shots are cached as FLAC (16-bit
like StemGMD, each one-shot normalised to full scale, its scale in the JSON beside it) under
``$XDG_CACHE_HOME/larsnet/sf2/``, keyed by the SF2's content hash, the preset and the
render settings, so a second load only decodes. ``tinysoundfont`` is imported only on a
cache miss (``pip install --no-deps tinysoundfont``).

Drum presets: bank 128 (the GM percussion bank); a SoundFont with no bank-128 preset
and a single preset (the AVL kits: bank 0 / program 0) is taken as one drum kit.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import soundfile as sf

from larsnet.data.kit import Instrument, Kit, VelocityLayer
from larsnet.data.kitinfo import InstrumentInfo, KitInfo
from larsnet.data.samples import trim_silence
from larsnet.data.sf2file import Preset, Sf2File, Zone, read_sf2
from larsnet.errors import KitError
from larsnet.stems import SAMPLE_RATE

RENDER_NOTES = range(35, 60)
"""GM drum notes rendered: acoustic bass drum (35) to ride cymbal 2 (59)."""
DEFAULT_LAYER_TOPS = (40, 80, 110, 127)
MAX_LAYERS = 8
MAX_SECONDS = 8.0
RELEASE_SECONDS = 0.5
FLOOR_DB = -80.0
BLOCK = 4096
RENDER_VERSION = 1
"""Bump when rendering changes, so stale caches are not reused."""

PresetSpec = Union[int, str, tuple[int, int], None]
"""A preset: program number, ``"bank:program"``, ``(bank, program)`` or name."""


@dataclass
class NoteGroup:
    """Keys that sound the same: one instrument of the rendered kit."""

    name: str
    notes: tuple[int, ...]
    layer_tops: tuple[int, ...]


def drum_presets(sf2: Sf2File) -> list[Preset]:
    """The presets that are drum kits, bank 128 first in program order."""
    drums = sorted((p for p in sf2.presets if p.bank == 128), key=lambda p: p.program)
    if drums:
        return drums
    real = [p for p in sf2.presets if p.zones]
    return real if len(real) == 1 else []


def select_preset(sf2: Sf2File, preset: PresetSpec = None) -> Preset:
    """Resolve ``preset``: None (first drum preset), a program number (drum bank, else
    the only bank), ``"bank:program"``, ``(bank, program)`` or a preset name."""
    drums = drum_presets(sf2)
    if preset is None:
        if not drums:
            names = ", ".join(f"{p.bank}:{p.program} {p.name}" for p in sf2.presets[:10])
            raise KitError(sf2.path, f"no drum preset (bank 128) found; choose one with preset='bank:program' ({names})")
        return drums[0]
    bank: int | None = None
    program: int | None = None
    if isinstance(preset, tuple):
        bank, program = int(preset[0]), int(preset[1])
    elif isinstance(preset, int) or (isinstance(preset, str) and preset.strip().isdigit()):
        program = int(preset)
    elif isinstance(preset, str) and re.fullmatch(r"\s*\d+\s*:\s*\d+\s*", preset):
        bank, program = (int(x) for x in preset.split(":"))
    if program is not None:
        pool = [p for p in sf2.presets if p.program == program and (bank is None or p.bank == bank)]
        pool.sort(key=lambda p: (p not in drums, p.bank))
    else:
        pool = [p for p in sf2.presets if p.name.casefold() == str(preset).strip().casefold()]
    if not pool:
        names = ", ".join(f"{p.bank}:{p.program} {p.name}" for p in (drums or sf2.presets)[:12])
        raise KitError(sf2.path, f"no preset {preset!r}; drum presets: {names}")
    return pool[0]


def kit_name(sf2: Sf2File, preset: Preset) -> str:
    """``"Fluid R3 GM: Jazz"`` when the file has several drum presets, else its name."""
    return f"{sf2.name}: {preset.name}" if len(drum_presets(sf2)) > 1 else sf2.name


def _clean(sample_name: str) -> str:
    name = re.sub(r"^\d+[-_ ]+", "", sample_name)  # "36-Pearl22Kick-1"
    name = re.sub(r"\s*\((l|r)\)$|[-_ ](l|r)$", "", name, flags=re.I)  # stereo halves
    return re.sub(r"[-_ ]*\d+$", "", name).strip()  # velocity / round-robin index


def note_groups(preset: Preset) -> list[NoteGroup]:
    """The preset's instruments: keys in RENDER_NOTES grouped by what they play."""
    signatures: dict[tuple, list[int]] = {}
    zones_of: dict[tuple, list[Zone]] = {}
    for key in RENDER_NOTES:
        zones = [z for z in preset.zones if z.lokey <= key <= z.hikey]
        if not zones:
            continue
        sig = tuple(sorted((z.sample_id, round(z.semitones(key), 2), z.lovel, z.hivel) for z in zones))
        signatures.setdefault(sig, []).append(key)
        zones_of[sig] = zones
    groups = []
    for sig, keys in signatures.items():
        zones = zones_of[sig]
        tops = sorted({min(127, max(1, z.hivel)) for z in zones})
        if len(tops) < 2:
            tops = list(DEFAULT_LAYER_TOPS)
        elif len(tops) > MAX_LAYERS:
            tops = [tops[round(i * (len(tops) - 1) / (MAX_LAYERS - 1))] for i in range(MAX_LAYERS)]
        tops[-1] = 127
        groups.append(NoteGroup(name=_group_name(zones), notes=tuple(keys), layer_tops=tuple(tops)))
    names = [g.name for g in groups]
    for g in groups:
        if names.count(g.name) > 1:
            g.name = f"{g.name} ({g.notes[0]})"
    return groups


def _group_name(zones: list[Zone]) -> str:
    cleaned = [_clean(z.sample_name) for z in zones]
    prefix = os.path.commonprefix(cleaned).strip(" -_(")
    if len(re.sub(r"[^A-Za-z]", "", prefix)) >= 3:
        return prefix
    return zones[0].instrument or zones[0].sample_name


def inspect_sf2(path: str | Path, preset: PresetSpec = None) -> KitInfo:
    """Metadata of one SF2 drum preset; nothing is rendered."""
    sf2 = read_sf2(path)
    chosen = select_preset(sf2, preset)
    infos = [InstrumentInfo(name=g.name, midi_notes=g.notes, layers=len(g.layer_tops), samples=len(g.layer_tops))
             for g in note_groups(chosen)]
    return KitInfo(
        name=kit_name(sf2, chosen), format="sf2", source=str(sf2.path), instruments=infos,
        author=sf2.author,
    )


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/larsnet/sf2`` (``~/.cache/larsnet/sf2`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "larsnet" / "sf2"


_HASHES: dict[tuple[str, int, int], str] = {}


def content_hash(path: Path) -> str:
    """sha256 of the file, memoised per process on (path, size, mtime)."""
    st = path.stat()
    memo = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if memo not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
        _HASHES[memo] = h.hexdigest()
    return _HASHES[memo]


def load_sf2(
    path: str | Path,
    *,
    name: str | None = None,
    preset: PresetSpec = None,
    cache: Path | None | bool = True,
) -> Kit:
    """Render one drum preset of an SF2 into a :class:`Kit` (cached on disk).

    ``cache``: True for :func:`cache_dir`, a folder, or False to always render.
    """
    sf2 = read_sf2(path)
    chosen = select_preset(sf2, preset)
    groups = note_groups(chosen)
    if not groups:
        raise KitError(sf2.path, f"preset {chosen.bank}:{chosen.program} '{chosen.name}' plays no GM drum note (35..59)")
    kit = Kit(
        name=name or kit_name(sf2, chosen), instruments=[], source=str(sf2.path), format="sf2",
        author=sf2.author,
    )
    settings = {"version": RENDER_VERSION, "bank": chosen.bank, "program": chosen.program,
                "max_s": MAX_SECONDS, "floor_db": FLOOR_DB, "rate": SAMPLE_RATE,
                "groups": [[g.name, list(g.notes), list(g.layer_tops)] for g in groups]}
    folder = cache_dir() if cache is True else (Path(cache) if cache else None)
    key = hashlib.sha256(f"{content_hash(sf2.path)}|{json.dumps(settings, sort_keys=True)}".encode()).hexdigest()[:32]
    rendered = _read_cache(folder, key) if folder else None
    if rendered is None:
        rendered = _render(sf2.path, chosen, groups)
        if folder:
            try:
                _write_cache(folder, key, rendered)
            except OSError as exc:
                kit.warnings.append(f"could not cache the rendered one-shots in {folder}: {exc}")
    for group in groups:
        layers = rendered.get(group.name)
        if layers:
            kit.instruments.append(Instrument(name=group.name, layers=layers, midi_notes=group.notes))
        else:
            kit.warnings.append(f"{group.name} (note {group.notes[0]}) renders silence: skipped")
    if not kit.instruments:
        raise KitError(sf2.path, f"preset '{chosen.name}' renders only silence")
    return kit


def _render(path: Path, preset: Preset, groups: list[NoteGroup]) -> dict[str, list[VelocityLayer]]:
    try:
        from tinysoundfont import _tinysoundfont as tsf
    except ImportError as exc:
        raise KitError(path, "rendering SF2 kits needs tinysoundfont: pip install --no-deps tinysoundfont") from exc
    try:
        synth = tsf.SoundFont(str(path))
    except Exception as exc:  # noqa: BLE001 - the binding raises plain RuntimeError/ValueError
        raise KitError(path, f"TinySoundFont cannot load this SF2 ({exc})") from exc
    synth.set_output(tsf.OutputMode.StereoInterleaved, SAMPLE_RATE, 0.0)
    synth.set_max_voices(64)
    out: dict[str, list[VelocityLayer]] = {}
    for group in groups:
        layers = []
        lo = 1
        for top in group.layer_tops:
            audio = _render_note(synth, preset, group.notes[0], top)
            if audio is not None:
                layers.append(VelocityLayer(lo=lo, hi=top, samples=[audio]))
                lo = top + 1
        if layers:
            layers[-1].hi = 127
            out[group.name] = layers
    return out


def _render_note(synth, preset: Preset, key: int, velocity: int) -> np.ndarray | None:
    """One note until its tail is FLOOR_DB below the peak (or MAX_SECONDS)."""
    synth.reset()
    buf = bytearray(BLOCK * 2 * 4)
    view = memoryview(buf)
    blocks: list[np.ndarray] = []
    peak = 0.0
    floor = 10.0 ** (FLOOR_DB / 20.0)
    synth.note_on(preset.bank, preset.program, key, velocity / 127.0)
    max_blocks = int(MAX_SECONDS * SAMPLE_RATE / BLOCK) + 1
    truncated = True
    for _ in range(max_blocks):
        synth.render(view)
        block = np.frombuffer(buf, dtype=np.float32).reshape(-1, 2).T.copy()
        blocks.append(block)
        level = float(np.abs(block).max())
        peak = max(peak, level)
        if peak > 0 and level < peak * floor:
            truncated = False
            break
    if truncated:
        synth.note_off(preset.bank, preset.program, key)
        for _ in range(int(RELEASE_SECONDS * SAMPLE_RATE / BLOCK)):
            synth.render(view)
            blocks.append(np.frombuffer(buf, dtype=np.float32).reshape(-1, 2).T.copy())
    synth.reset()
    if peak <= 0.0:
        return None
    audio = trim_silence(np.concatenate(blocks, axis=1), FLOOR_DB)
    if truncated:
        fade = min(audio.shape[1], int(0.05 * SAMPLE_RATE))
        audio[:, -fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return np.ascontiguousarray(audio, dtype=np.float32)


def _write_cache(folder: Path, key: str, rendered: dict[str, list[VelocityLayer]]) -> None:
    """All one-shots in one 16-bit FLAC (each normalised to peak 1, so quantisation
    stays 96 dB below every one-shot's peak), offsets and scales in a JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    meta: dict[str, list] = {}
    chunks = []
    pos = 0
    for name, layers in rendered.items():
        meta[name] = []
        for layer in layers:
            audio = layer.samples[0]
            scale = float(np.abs(audio).max()) or 1.0
            chunks.append(audio / scale)
            meta[name].append([layer.lo, layer.hi, pos, audio.shape[1], scale])
            pos += audio.shape[1]
    data = np.concatenate(chunks, axis=1) if chunks else np.zeros((2, 1), np.float32)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".flac", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        sf.write(str(tmp_path), data.T, SAMPLE_RATE, subtype="PCM_16", format="FLAC")
        os.replace(tmp_path, folder / f"{key}.flac")
    finally:
        tmp_path.unlink(missing_ok=True)
    json_tmp = folder / f"{key}.json.tmp"
    json_tmp.write_text(json.dumps({"version": RENDER_VERSION, "instruments": meta}))
    os.replace(json_tmp, folder / f"{key}.json")  # written last: its presence marks a complete entry


def _read_cache(folder: Path, key: str) -> dict[str, list[VelocityLayer]] | None:
    meta_path, audio_path = folder / f"{key}.json", folder / f"{key}.flac"
    if not (meta_path.is_file() and audio_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("version") != RENDER_VERSION:
            return None
        data, _ = sf.read(str(audio_path), dtype="float32", always_2d=True)
        data = data.T
        out: dict[str, list[VelocityLayer]] = {}
        for name, layers in meta["instruments"].items():
            out[name] = [
                VelocityLayer(lo=lo, hi=hi, samples=[np.ascontiguousarray(data[:, start: start + n] * np.float32(scale))])
                for lo, hi, start, n, scale in layers
            ]
        return out
    except (OSError, ValueError, KeyError, TypeError, sf.LibsndfileError):
        return None  # a damaged cache entry is simply rendered again
