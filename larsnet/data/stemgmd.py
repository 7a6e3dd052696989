"""Find the stems of StemGMD (or of our own ``larsnet synth`` output) on disk.

StemGMD (Mezza et al., Zenodo 10.5281/zenodo.7860223, CC BY 4.0) mirrors the Groove
MIDI Dataset's tree: one folder per performance, named after its MIDI file, holding
one folder per kit with one 16-bit 44.1 kHz WAV per piece::

    StemGMD/drummer1/eval_session/1_funk-groove1_138_beat_4-4/brooklyn/kick.wav

Piece files are named ``kick, snare, hi_tom, mid_tom, low_tom, hihat_closed,
hihat_open, crash_left, ride`` there (public loaders of StemGMD use these names; the
archive has no mixture file). Our synth writes the same tree with larsnet's piece
names (or StemGMD's, ``--naming stemgmd``) plus ``mixture.wav``, so one reader serves
both. Other trees can be described with a path pattern.
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from larsnet.errors import OptionError
from larsnet.stems import PIECES

DEFAULT_PATTERN = "{drummer}/{session}/{performance}/{kit}/{piece}.{ext}"
"""StemGMD's layout, relative to the dataset root."""

PATTERN_FIELDS: tuple[str, ...] = ("drummer", "session", "performance", "kit", "piece", "ext")
AUDIO_EXTENSIONS: tuple[str, ...] = ("wav", "flac", "aiff", "aif", "ogg")

STEMGMD_FILE_NAMES: dict[str, str] = {
    "kick": "kick",
    "snare": "snare",
    "hi_tom": "hi_tom",
    "mid_tom": "mid_tom",
    "floor_tom": "low_tom",
    "hihat_closed": "hihat_closed",
    "hihat_open": "hihat_open",
    "crash": "crash_left",
    "ride": "ride",
}
"""larsnet piece -> file stem in StemGMD."""

MIXTURE_NAME = "mixture"

PIECE_ALIASES: dict[str, str] = {
    **{p: p for p in PIECES},
    **{v: k for k, v in STEMGMD_FILE_NAMES.items()},
    "high_tom": "hi_tom",
    "high_floor_tom": "floor_tom",
    "closed_hihat": "hihat_closed",
    "open_hihat": "hihat_open",
    "crash_right": "crash",
}
"""Lower-case file stem -> larsnet piece; both our names and StemGMD's are understood."""

MIXTURE_ALIASES: tuple[str, ...] = ("mixture", "mix")


@dataclass
class StemGMDItem:
    """One performance rendered with one kit: piece -> file, and what is known about it.

    ``files`` maps larsnet pieces (:data:`PIECES`) to audio files; missing pieces are
    silent. ``mixture`` is None when the dataset has no mixture file (StemGMD): the
    mixture is then the sum of the pieces. ``split`` comes from our metadata.csv or
    GMD's info.csv, when one is available.
    """

    drummer: str
    session: str
    performance: str
    kit: str
    files: dict[str, Path]
    mixture: Path | None = None
    split: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def performance_path(self) -> str:
        """``drummer/session/performance``: GMD's midi_filename without extension."""
        return "/".join(p for p in (self.drummer, self.session, self.performance) if p)

    @property
    def any_file(self) -> Path:
        return next(iter(self.files.values())) if self.files else self.mixture  # type: ignore[return-value]


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path pattern like :data:`DEFAULT_PATTERN` into a regex over posix paths.

    Fields match one path component (``{ext}`` only known audio extensions); ``{piece}``
    is required, and a field may appear once.
    """
    seen: set[str] = set()
    out = []
    pos = 0
    for m in re.finditer(r"\{(\w+)\}", pattern):
        name = m.group(1)
        if name not in PATTERN_FIELDS:
            raise OptionError(
                f"pattern {pattern!r}: unknown field {{{name}}}; fields are "
                + ", ".join(f"{{{f}}}" for f in PATTERN_FIELDS)
            )
        if name in seen:
            raise OptionError(f"pattern {pattern!r}: field {{{name}}} appears twice")
        seen.add(name)
        out.append(re.escape(pattern[pos : m.start()]))
        if name == "ext":
            out.append(f"(?P<ext>{'|'.join(AUDIO_EXTENSIONS)})")
        else:
            out.append(f"(?P<{name}>[^/]+)")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    if "piece" not in seen:
        raise OptionError(f"pattern {pattern!r}: needs a {{piece}} field (the file name of each stem)")
    return re.compile("".join(out) + r"\Z", re.IGNORECASE)


def scan_stemgmd(
    root: str | Path,
    *,
    pattern: str = DEFAULT_PATTERN,
    kits: Iterable[str] | None = None,
    split: str | Iterable[str] | None = None,
    gmd_root: str | Path | None = None,
) -> list[StemGMDItem]:
    """All (performance, kit) items under ``root``, sorted by path.

    ``kits`` keeps only those kit folders (case-insensitive); ``split`` keeps only
    those GMD splits, looked up in ``root/metadata.csv`` (our synth output) or in
    ``gmd_root/info.csv``. Raises :class:`OptionError` with the expected layout when
    nothing matches.
    """
    root = Path(root)
    if not root.is_dir():
        raise OptionError(f"{root}: not a folder; expected a StemGMD-style dataset, e.g. {_example(root)}")
    regex = pattern_regex(pattern)
    groups: dict[tuple[str, str, str, str], StemGMDItem] = {}
    unmatched: list[str] = []
    unknown_pieces: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for filename in sorted(filenames):
            if filename.startswith(".") or filename.rsplit(".", 1)[-1].lower() not in AUDIO_EXTENSIONS:
                continue
            rel = Path(dirpath, filename).relative_to(root).as_posix()
            m = regex.match(rel)
            if m is None:
                unmatched.append(rel)
                continue
            fields = m.groupdict()
            name = fields["piece"].lower()
            key = (fields.get("drummer") or "", fields.get("session") or "", fields.get("performance") or "", fields.get("kit") or "")
            item = groups.get(key)
            if item is None:
                item = groups[key] = StemGMDItem(*key, files={})
            path = root / rel
            if name in MIXTURE_ALIASES:
                item.mixture = path
            elif name in PIECE_ALIASES:
                item.files[PIECE_ALIASES[name]] = path
            else:
                unknown_pieces.add(fields["piece"])
    items = [item for item in groups.values() if item.files]
    if not items:
        hint = f"; found e.g. {unmatched[0]!r}, which does not match" if unmatched else ""
        if unknown_pieces and not unmatched:
            hint = f"; file names {', '.join(sorted(unknown_pieces)[:5])} are not pieces"
        raise OptionError(
            f"{root}: no drum stems found with pattern {pattern!r}; expected e.g. {_example(root)} "
            f"(pieces: {', '.join(PIECES)} or StemGMD's names){hint}; pass --pattern to describe another layout"
        )
    if kits is not None:
        wanted = {k.lower() for k in kits}
        items = [item for item in items if item.kit.lower() in wanted]
    _attach_splits(root, items, gmd_root)
    if split is not None:
        chosen = {split} if isinstance(split, str) else set(split)
        if any(item.split is None for item in items):
            raise OptionError(
                f"{root}: cannot filter by split: no split known for some performances; "
                "pass the GMD folder (info.csv) as gmd_root/--gmd, or use our synth's metadata.csv"
            )
        items = [item for item in items if item.split in chosen]
    return sorted(items, key=lambda it: (it.performance_path, it.kit))


def _attach_splits(root: Path, items: list[StemGMDItem], gmd_root: str | Path | None) -> None:
    """Fill ``item.split`` from our metadata.csv (by folder) or GMD's info.csv (by performance)."""
    by_folder: dict[str, str] = {}
    meta = root / "metadata.csv"
    if meta.is_file():
        with open(meta, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("folder") and row.get("split"):
                    by_folder[row["folder"]] = row["split"]
    by_performance: dict[str, str] = {}
    if gmd_root is not None:
        info = Path(gmd_root) / "info.csv"
        if not info.is_file():
            raise OptionError(f"{info}: not found; gmd_root must be the Groove MIDI Dataset folder")
        with open(info, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                by_performance[Path(row["midi_filename"]).with_suffix("").as_posix()] = row["split"]
    for item in items:
        folder = item.any_file.parent.relative_to(root).as_posix()
        item.split = by_folder.get(folder) or by_performance.get(item.performance_path)


def _example(root: Path) -> str:
    return f"{root}/drummer1/session1/1_funk_80_beat_4-4/<kit>/kick.wav"
