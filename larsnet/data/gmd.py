"""Groove MIDI Dataset metadata (``info.csv``), or any folder of drum MIDI, as records.

``larsnet synth`` and the datasets work from one record type whatever the source, so
a user's own MIDI collection goes through exactly the same code as GMD. A record of a
plain folder has ``split=None`` and empty style/tempo fields.
"""
from __future__ import annotations

import csv
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from larsnet.data.midi import MIDI_EXTENSIONS
from larsnet.errors import OptionError

GMD_ENV = "LARSNET_GMD"
"""Environment variable naming the user's copy of the Groove MIDI Dataset."""

SPLITS: tuple[str, ...] = ("train", "validation", "test")

GMD_COLUMNS: tuple[str, ...] = (
    "drummer", "session", "id", "style", "bpm", "beat_type", "time_signature",
    "midi_filename", "duration", "split",
)
"""The columns of GMD's info.csv we keep (``audio_filename`` is dropped: no audio here)."""


@dataclass(frozen=True)
class GmdRecord:
    """One performance: GMD's metadata plus the folder its ``midi_filename`` is relative to.

    ``bpm`` is None and ``style``/``beat_type``/``time_signature`` empty for MIDI that
    did not come with GMD metadata; ``duration`` is then 0 until the MIDI is read.
    """

    drummer: str
    session: str
    id: str
    style: str
    bpm: int | None
    beat_type: str
    time_signature: str
    midi_filename: str
    duration: float
    split: str | None
    root: Path = field(compare=False)

    @property
    def midi_path(self) -> Path:
        return self.root / self.midi_filename

    @property
    def relative_stem(self) -> str:
        """``midi_filename`` without its extension, e.g. ``drummer1/eval_session/1_funk-groove1_138_beat_4-4``.

        This is also the performance folder of StemGMD's layout.
        """
        return Path(self.midi_filename).with_suffix("").as_posix()

    @property
    def name(self) -> str:
        """The performance folder name, e.g. ``1_funk-groove1_138_beat_4-4``."""
        return Path(self.midi_filename).stem

    def metadata(self) -> dict[str, object]:
        """GMD's columns as a flat dict (for CSV rows)."""
        row = asdict(self)
        row.pop("root")
        row["bpm"] = "" if self.bpm is None else self.bpm
        row["split"] = self.split or ""
        return row


def default_gmd_root() -> Path:
    """``$LARSNET_GMD``, else ``../shared/data/groove-midi`` beside the repository."""
    env = os.environ.get(GMD_ENV)
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    return (repo / ".." / "shared" / "data" / "groove-midi").resolve()


def read_gmd(root: str | Path | None = None, *, split: str | Iterable[str] | None = None) -> list[GmdRecord]:
    """Read ``<root>/info.csv`` into records, keeping only ``split`` if given.

    ``split``: one of :data:`SPLITS`, several, ``"all"`` or None (all). Raises
    :class:`OptionError` naming the file if the folder or its info.csv is missing or
    lacks GMD's columns.
    """
    root = Path(root) if root is not None else default_gmd_root()
    info = root / "info.csv"
    if not info.is_file():
        raise OptionError(
            f"{info}: not found; point --gmd (or ${GMD_ENV}) at the Groove MIDI Dataset folder that holds info.csv"
        )
    wanted = _splits(split)
    records = []
    with open(info, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in GMD_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise OptionError(f"{info}: not a GMD info.csv (missing columns: {', '.join(missing)})")
        for row in reader:
            if wanted is not None and row["split"] not in wanted:
                continue
            records.append(
                GmdRecord(
                    drummer=row["drummer"],
                    session=row["session"],
                    id=row["id"],
                    style=row["style"],
                    bpm=int(float(row["bpm"])) if row["bpm"] else None,
                    beat_type=row["beat_type"],
                    time_signature=row["time_signature"],
                    midi_filename=row["midi_filename"],
                    duration=float(row["duration"] or 0.0),
                    split=row["split"] or None,
                    root=root,
                )
            )
    return records


def records_from_midi_dir(folder: str | Path) -> list[GmdRecord]:
    """Every ``.mid``/``.midi`` file under ``folder`` (recursively, sorted) as a record.

    Subfolders play the role of GMD's sessions: ``a/b/groove.mid`` gets drummer ``a``,
    session ``a/b`` and id ``a/b/groove``, so the synth output mirrors the input tree.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise OptionError(f"{folder}: not a folder; --midi-dir takes a folder of .mid files")
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in MIDI_EXTENSIONS
    )
    if not files:
        raise OptionError(f"{folder}: no .mid or .midi files found (searched recursively)")
    records = []
    for path in files:
        rel = path.relative_to(folder)
        parts = rel.parent.parts
        records.append(
            GmdRecord(
                drummer=parts[0] if parts else "",
                session=rel.parent.as_posix() if parts else "",
                id=rel.with_suffix("").as_posix(),
                style="",
                bpm=None,
                beat_type="",
                time_signature="",
                midi_filename=rel.as_posix(),
                duration=0.0,
                split=None,
                root=folder,
            )
        )
    return records


def _splits(split: str | Iterable[str] | None) -> set[str] | None:
    if split is None or split == "all":
        return None
    chosen = {split} if isinstance(split, str) else set(split)
    if "all" in chosen:
        return None
    bad = sorted(chosen - set(SPLITS))
    if bad:
        raise OptionError(f"unknown split {', '.join(bad)}; use one of: {', '.join(SPLITS)} or all")
    return chosen
