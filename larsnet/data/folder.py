"""Plain folders of one-shots: the simplest way to bring your own kit.

Convention::

    my_kit/
      kick/            one folder per piece, named after it or a common alias
        kick_v1.wav    velocity layers from a marker in the file (or sub-folder) name:
        kick_v2.wav      _v1, _v2 ... (or vel1, layer1), or dynamics words
        kick_v3_rr1.wav  softest/soft/medium/hard/hardest, ppp..fff
        kick_v3_rr2.wav  files of one layer are round-robin alternatives
      snare/  hihat_closed/  hihat_open/  crash/  ride/
      hi_tom/  mid_tom/  floor_tom/
      cowbell/         any other folder becomes an instrument of that name (unused
                       unless a mapping asks for it)
      LICENSE          optional: its first line is shown as the kit's license

Folder aliases (case and ``-``/``_``/space ignored): kick = bd, bassdrum; snare = sd;
hi_tom = tom1, tom, high_tom, rack_tom; mid_tom = tom2; floor_tom = tom3, floor,
low_tom; hihat_closed = hh, hihat, chh, closed_hh; hihat_open = ohh, open_hh; crash =
crash1, cymbal; ride = ride1. Instead of folders, files may lie in the kit folder
itself, named ``<piece or alias>[_marker].wav`` (``kick.wav``, ``snare_soft.wav``).

Without layer markers all files of a piece are round robin at every velocity. With
markers, layers split 1..127 evenly from soft to loud; an unmarked file joins the
middle layer. WAV, FLAC, AIFF and OGG are read; other rates are resampled.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from larsnet.data.kit import Instrument, Kit, VelocityLayer
from larsnet.data.kitinfo import InstrumentInfo, KitInfo
from larsnet.data.samples import SAMPLE_EXTENSIONS, read_sample
from larsnet.errors import KitError

PIECE_ALIASES: dict[str, tuple[int, tuple[str, ...]]] = {
    "kick": (36, ("kick", "bd", "bassdrum", "bass_drum", "kickdrum", "kick_drum")),
    "snare": (38, ("snare", "sd", "snr", "snaredrum", "snare_drum")),
    "hi_tom": (50, ("hi_tom", "high_tom", "hitom", "tom_hi", "tom_high", "tom1", "tom_1", "tom",
                    "rack_tom", "racktom")),
    "mid_tom": (47, ("mid_tom", "midtom", "tom_mid", "tom2", "tom_2", "low_mid_tom")),
    "floor_tom": (43, ("floor_tom", "floortom", "floor", "tom3", "tom_3", "ft", "low_tom", "tom_low")),
    "hihat_closed": (42, ("hihat_closed", "closed_hihat", "hh", "hihat", "hat", "chh", "hh_closed",
                          "closed_hh", "hhc", "closed_hat", "hat_closed")),
    "hihat_open": (46, ("hihat_open", "open_hihat", "ohh", "hh_open", "open_hh", "hho", "open_hat",
                        "hat_open")),
    "crash": (49, ("crash", "crash1", "crash_1", "cymbal")),
    "ride": (51, ("ride", "ride1", "ride_1")),
}
ALIAS_TO_PIECE: dict[str, str] = {a: p for p, (_, aliases) in PIECE_ALIASES.items() for a in aliases}

DYNAMICS: dict[str, int] = {
    "ppp": 1, "pp": 2, "p": 3, "mp": 4, "mf": 5, "f": 6, "ff": 7, "fff": 8,
    "softest": 1, "soft": 3, "light": 3, "medium": 5, "med": 5, "hard": 7, "loud": 7,
    "hardest": 8,
}
MIDDLE_RANK = 5.0
LICENSE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING", "license.txt")

SONIC_PI_KIT: dict[str, tuple[str, ...]] = {
    "Kick": ("drum_bass_soft", "drum_bass_hard"),
    "Heavy Kick": ("drum_heavy_kick",),
    "Snare": ("drum_snare_soft", "drum_snare_hard"),
    "Tom Hi": ("drum_tom_hi_soft", "drum_tom_hi_hard"),
    "Tom Mid": ("drum_tom_mid_soft", "drum_tom_mid_hard"),
    "Tom Lo": ("drum_tom_lo_soft", "drum_tom_lo_hard"),
    "Hi-Hat Closed": ("drum_cymbal_closed",),
    "Hi-Hat Open": ("drum_cymbal_open",),
    "Hi-Hat Pedal": ("drum_cymbal_pedal",),
    "Crash": ("drum_cymbal_soft", "drum_cymbal_hard"),
    "Splash": ("drum_splash_soft", "drum_splash_hard"),
    "Cowbell": ("drum_cowbell",),
    "Roll": ("drum_roll",),
}
"""The one acoustic kit in Debian's sonic-pi-samples (CC0, freesound user menegass)."""


def _norm(name: str) -> str:
    return re.sub(r"[\s\-_.]+", "_", name.strip().lower()).strip("_")


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SAMPLE_EXTENSIONS)


def _flat_piece(stem: str) -> str | None:
    """``snare_soft`` -> snare: the longest alias the file name starts with."""
    norm = _norm(stem)
    hits = [a for a in ALIAS_TO_PIECE if norm == a or norm.startswith(a + "_")]
    return max(hits, key=len) if hits else None


def folder_groups(path: Path) -> dict[str, list[Path]]:
    """Instrument name -> its files, for a folder kit (sub-folders, else flat files)."""
    groups: dict[str, list[Path]] = {}
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        files = _audio_files(sub)
        if files:
            groups[sub.name] = files
    if any(_norm(name) in ALIAS_TO_PIECE for name in groups):
        return groups
    flat: dict[str, list[Path]] = {}
    for file in sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SAMPLE_EXTENSIONS):
        alias = _flat_piece(file.stem)
        if alias:
            flat.setdefault(alias, []).append(file)
    return flat


def is_folder_kit(path: Path) -> bool:
    """A folder with at least one piece-named sub-folder (or flat file) of samples.

    Cheap on purpose: discovery asks this of every folder it scans, including big
    sample libraries, so only piece-named sub-folders are looked into.
    """
    try:
        if not path.is_dir():
            return False
        for child in path.iterdir():
            if child.is_dir() and _norm(child.name) in ALIAS_TO_PIECE:
                if any(p.suffix.lower() in SAMPLE_EXTENSIONS for p in child.rglob("*")):
                    return True
            elif child.suffix.lower() in SAMPLE_EXTENSIONS and _flat_piece(child.stem):
                return True
    except OSError:
        return False
    return False


def _rank(relative: str) -> float | None:
    """Loudness rank from a ``_v3`` style marker or a dynamics word; None if unmarked."""
    text = relative.lower()
    marks = re.findall(r"(?:^|[^a-z])(?:v|vel|velocity|l|layer)[_\-]?(\d+)(?![a-z])", text)
    if marks:
        return float(marks[-1])
    for token in reversed(re.split(r"[^a-z]+", text)):  # markers usually come last
        if token in DYNAMICS:
            return float(DYNAMICS[token])
    return None


def _marker_text(file: Path, root: Path) -> str:
    """The part of a file's path that may carry a layer marker: below its piece
    folder, or for flat files the name after the piece alias."""
    try:
        return str(file.relative_to(root).with_suffix(""))
    except ValueError:
        return file.stem


def _layers_from_files(files: Sequence[Path], root: Path) -> list[tuple[int, int, list[Path]]]:
    """(lo, hi, round-robin files) from soft to loud; ``root`` is the piece folder
    (or the kit folder for flat files, whose alias prefix is ignored)."""
    ranked: dict[float, list[Path]] = {}
    for file in files:
        text = _marker_text(file, root)
        alias = _flat_piece(text) if file.parent == root else None
        if alias:
            text = _norm(text)[len(alias):]
        rank = _rank(text)
        ranked.setdefault(MIDDLE_RANK if rank is None else rank, []).append(file)
    ranks = sorted(ranked)
    out = []
    lo = 1
    for i, rank in enumerate(ranks):
        hi = round(127 * (i + 1) / len(ranks))
        out.append((lo, hi, sorted(ranked[rank])))
        lo = hi + 1
    return out


def _group_root(root: Path, instrument: str) -> Path:
    sub = root / instrument
    return sub if sub.is_dir() else root


def _license(path: Path) -> str:
    for name in LICENSE_FILES:
        file = path / name
        if file.is_file():
            for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.strip():
                    return line.strip()[:120]
    return "unknown"


def inspect_folder(path: str | Path) -> KitInfo:
    """Metadata of a folder kit; no audio is read."""
    path = Path(path)
    groups = folder_groups(path)
    if not groups:
        raise KitError(path, "no piece folders (kick/, snare/, ...) or piece-named samples found; see `larsnet kits --help`")
    infos = []
    for name, files in groups.items():
        piece = ALIAS_TO_PIECE.get(_norm(name))
        infos.append(InstrumentInfo(
            name=name,
            midi_notes=(PIECE_ALIASES[piece][0],) if piece else (),
            layers=len(_layers_from_files(files, _group_root(path, name))),
            samples=len(files),
        ))
    return KitInfo(name=path.name, format="folder", source=str(path), instruments=infos, license=_license(path))


def load_folder(path: str | Path, *, name: str | None = None, strict: bool = True) -> Kit:
    """Load a folder kit (see the module docstring for the convention)."""
    path = Path(path)
    info = inspect_folder(path)
    groups = folder_groups(path)
    notes = {i.name: i.midi_notes for i in info.instruments}
    return build_kit(name or path.name, groups, root=path, source=str(path), format="folder",
                     license=info.license, notes=notes, strict=strict)


def load_sonic_pi(path: str | Path, *, name: str | None = None, strict: bool = True) -> Kit:
    """The acoustic kit among Sonic Pi's samples (``drum_*.flac``)."""
    path = Path(path)
    groups = {inst: [path / f"{stem}.flac" for stem in stems] for inst, stems in SONIC_PI_KIT.items()}
    return build_kit(name or "Sonic Pi drums", groups, root=path, source=str(path), format="sonic-pi",
                     license="CC0-1.0", author="menegass, Zajo, Neotone, Heigh-hoo (freesound.org)",
                     strict=strict)


def is_sonic_pi(path: Path) -> bool:
    return (path / "drum_snare_hard.flac").is_file() and (path / "drum_bass_hard.flac").is_file()


def inspect_sonic_pi(path: str | Path) -> KitInfo:
    path = Path(path)
    infos = [InstrumentInfo(name=inst, layers=len(stems), samples=len(stems),
                            missing=[f"{s}.flac" for s in stems if not (path / f"{s}.flac").is_file()])
             for inst, stems in SONIC_PI_KIT.items()]
    return KitInfo(name="Sonic Pi drums", format="sonic-pi", source=str(path), instruments=infos,
                   license="CC0-1.0", author="menegass, Zajo, Neotone, Heigh-hoo (freesound.org)")


def build_kit(
    name: str,
    groups: Mapping[str, Sequence[Path]],
    *,
    root: Path,
    source: str,
    format: str,
    license: str = "unknown",
    author: str = "",
    notes: Mapping[str, tuple[int, ...]] | None = None,
    strict: bool = True,
) -> Kit:
    """A Kit from instrument name -> files, layers from the files' names."""
    missing = {inst: [f.name for f in files if not f.is_file()] for inst, files in groups.items()}
    missing = {k: v for k, v in missing.items() if v}
    if missing and strict:
        files = sorted(f for v in missing.values() for f in v)
        raise KitError(root, f"{len(files)} sample file(s) missing: {', '.join(files[:8])}")
    kit = Kit(name=name, instruments=[], source=source, format=format, license=license, author=author)
    for inst, files in groups.items():
        if inst in missing:
            kit.broken[inst] = missing[inst]
            continue
        try:
            layers = [VelocityLayer(lo=lo, hi=hi, samples=[read_sample(f) for f in fs])
                      for lo, hi, fs in _layers_from_files(files, _group_root(root, inst))]
        except KitError as exc:
            if strict:
                raise
            kit.broken[inst] = [f"{exc.path}: {exc.problem}"]
            continue
        kit.instruments.append(Instrument(name=inst, layers=layers, midi_notes=(notes or {}).get(inst, ())))
    if not kit.instruments:
        raise KitError(root, "no instrument with a usable sample")
    return kit
