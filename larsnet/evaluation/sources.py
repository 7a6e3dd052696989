"""Where evaluation clips come from: the fixed GMD set rendered on the fly, or a folder.

Both yield :class:`~larsnet.evaluation.protocol.EvalExample` lazily, one clip in
memory at a time, with ``mixture == sum of the stems`` (summed in STEMS order) and
the kit's seen/unseen status:

- :func:`examples_from_fixed_set`: a :class:`larsnet.data.dataset.FixedEvalSet`
  (GMD validation/test performances rendered through kits, no augmentation);
- :func:`folder_clips` and :meth:`FolderClips.examples`: a StemGMD-style tree on
  disk (real StemGMD or ``larsnet synth`` output), one fixed window per (performance, kit).

Whether a kit was *seen* in training: when the model's provenance lists its
training kits (a list under ``train_kits`` or ``kits``, as ``larsnet train --kits``
records), membership in that list; otherwise every kit that is not held out
(:data:`larsnet.stems.HELD_OUT_KITS`) counts as seen, which is what ``larsnet train``
trains on by default. Names compare case-insensitively and by
folder slug (``AVL Red Zeppelin 4pc`` == ``avl_red_zeppelin_4pc``).
"""
from __future__ import annotations

import csv
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from larsnet.data.stemgmd import DEFAULT_PATTERN, StemGMDItem, scan_stemgmd
from larsnet.errors import AudioInputError, OptionError
from larsnet.evaluation.protocol import EvalExample
from larsnet.stems import HELD_OUT_KITS, PIECES, SAMPLE_RATE, STEM_OF_PIECE, STEMS


def kit_key(name: str) -> str:
    """Comparable form of a kit name or folder: lower case, other characters as ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


@dataclass(frozen=True)
class KitStatus:
    """Decides whether a kit was seen in training (see the module docstring)."""

    train_kits: tuple[str, ...] | None = None
    held_out: tuple[str, ...] = HELD_OUT_KITS

    @classmethod
    def from_provenance(cls, provenance: dict[str, Any] | None) -> "KitStatus":
        for key in ("train_kits", "kits"):
            kits = (provenance or {}).get(key)
            if isinstance(kits, (list, tuple)):
                return cls(train_kits=tuple(str(k) for k in kits))
        return cls()

    def is_held_out(self, kit: str) -> bool:
        return kit_key(kit) in {kit_key(k) for k in self.held_out}

    def describe(self) -> str:
        if self.train_kits is not None:
            return "the training kits listed in the model's provenance"
        return "every kit not held out (the model's provenance lists no training kits)"

    def seen(self, kit: str) -> bool:
        if self.train_kits is not None:
            return kit_key(kit) in {kit_key(k) for k in self.train_kits}
        return not self.is_held_out(kit)


def union_of_training_kits(provenances: list[dict[str, Any] | None]) -> list[str] | None:
    """Every kit any of several models trained on (for a model made from them: an average or an
    ensemble), so `larsnet evaluate --kits seen` scores it on them; None when one of them lists
    none (the evaluation then falls back to every installed kit that is not held out)."""
    kits: list[str] = []
    for provenance in provenances:
        status = KitStatus.from_provenance(provenance)
        if status.train_kits is None:
            return None
        kits += [k for k in status.train_kits if k not in kits]
    return kits


def _clip_id(performance: str, kit: str, start_s: float) -> str:
    return f"{performance}@{start_s:.3f}s/{kit}"


def seen_kit_names(status: KitStatus) -> list[str]:
    """The kits a model was trained on: its provenance's list, else the installed kits
    that ``larsnet train`` trains on by default (:func:`larsnet.data.discovery.training_kits`)."""
    if status.train_kits is not None:
        return list(status.train_kits)
    from larsnet.data import discovery

    names = [entry.name for entry in discovery.training_kits() if not status.is_held_out(entry.name)]
    if not names:
        raise OptionError("no training kits found; install them (scripts/install-kits.sh) or name kits with --kits")
    return names


# --------------------------------------------------------------------------- GMD, rendered


def examples_from_fixed_set(eval_set: Any, *, kit_status: KitStatus | None = None) -> Iterator[EvalExample]:
    """Render the clips of a ``FixedEvalSet`` (``.clips`` and ``.render(i) -> (mix, stems)``)."""
    status = kit_status or KitStatus()
    for index, clip in enumerate(eval_set.clips):
        if hasattr(eval_set, "render_with_pieces"):
            mixture, stems, pieces = eval_set.render_with_pieces(index)
        else:
            (mixture, stems), pieces = eval_set.render(index), None
        yield EvalExample(
            pieces=pieces,
            clip_id=_clip_id(clip.performance, clip.kit, clip.start_s),
            mixture=mixture,
            stems=stems,
            kit=clip.kit,
            performance=clip.performance,
            seen=status.seen(clip.kit),
            start_s=float(clip.start_s),
        )


# --------------------------------------------------------------------------- folder


def _folder_kit_names(root: Path) -> dict[str, str]:
    """Item folder -> kit display name, from ``metadata.csv`` of ``larsnet synth`` (if any)."""
    meta = root / "metadata.csv"
    names: dict[str, str] = {}
    if meta.is_file():
        with open(meta, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("folder") and row.get("kit"):
                    names[row["folder"]] = row["kit"]
    return names


def _frames_and_rate(path: Path) -> tuple[int, int]:
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioInputError(path, f"cannot be read: {exc}") from None
    return info.frames, info.samplerate


def _read_window(path: Path, start: int, frames: int) -> np.ndarray:
    """Frames ``[start, start + frames)`` as float32 ``(2, frames)``: zero-padded, mono duplicated."""
    try:
        data = sf.read(str(path), frames=frames, start=start, dtype="float32", always_2d=True)[0]
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioInputError(path, f"cannot be decoded: {exc}") from None
    if data.shape[1] > 2:
        raise AudioInputError(path, f"has {data.shape[1]} channels; stems must be mono or stereo")
    if data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    out = np.zeros((2, frames), dtype=np.float32)
    out[:, : len(data)] = data.T
    if not np.isfinite(out).all():
        raise AudioInputError(path, "holds NaN or infinite samples")
    return out


def clip_start(performance: str, frames: int, clip_frames: int, seed: int) -> int:
    """A start drawn from ``seed`` and the performance name alone, so every kit of a
    performance is scored on the same span (paired comparisons between kits)."""
    if frames <= clip_frames:
        return 0
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(performance.encode())]))
    return int(rng.integers(0, frames - clip_frames + 1))


def select_items(items: Sequence[StemGMDItem], clips: int | None, seed: int) -> list[StemGMDItem]:
    """The first ``clips`` items after shuffling *performances* with ``seed``; a
    performance keeps all its kits together, so kits stay paired."""
    by_perf: dict[str, list[StemGMDItem]] = {}
    for item in items:
        by_perf.setdefault(item.performance_path, []).append(item)
    order = sorted(by_perf)
    if clips is not None and clips < len(items):
        rng = np.random.default_rng(seed)
        order = [order[i] for i in rng.permutation(len(order))]
    chosen = [item for perf in order for item in by_perf[perf]]
    return chosen if clips is None else chosen[:clips]


@dataclass(frozen=True)
class FolderClips:
    """The items chosen from a folder and how to cut them; :meth:`examples` reads them lazily."""

    root: Path
    items: list[StemGMDItem]
    kit_names: dict[str, str]  # item folder (relative to root) -> kit name from metadata.csv
    clip_seconds: float | None
    seed: int

    def __len__(self) -> int:
        return len(self.items)

    def kit_of(self, item: StemGMDItem) -> str:
        """The kit's name (from ``metadata.csv`` when there is one, else its folder name)."""
        return self.kit_names.get(item.any_file.parent.relative_to(self.root).as_posix(), item.kit)

    def examples(self, kit_status: KitStatus | None = None) -> Iterator[EvalExample]:
        """One :class:`EvalExample` per item, read when iterated (one in memory at a time)."""
        status = kit_status or KitStatus()
        clip_frames = None if self.clip_seconds is None else int(round(self.clip_seconds * SAMPLE_RATE))
        for item in self.items:
            lengths = {}
            for piece, path in item.files.items():
                frames, rate = _frames_and_rate(path)
                if rate != SAMPLE_RATE:
                    raise AudioInputError(path, f"is {rate} Hz; evaluation stems must be {SAMPLE_RATE} Hz")
                lengths[piece] = frames
            total = max(lengths.values())
            n = total if clip_frames is None else clip_frames
            start = 0 if clip_frames is None else clip_start(item.performance_path, total, clip_frames, self.seed)
            stems = np.zeros((len(STEMS), 2, n), dtype=np.float32)
            pieces = {}
            for piece in PIECES:  # summed in a fixed order: reproducible to the bit
                if piece in item.files:
                    pieces[piece] = _read_window(item.files[piece], start, n)
                    stems[STEMS.index(STEM_OF_PIECE[piece])] += pieces[piece]
            mixture = np.zeros((2, n), dtype=np.float32)
            for s in range(len(STEMS)):
                mixture += stems[s]
            kit = self.kit_of(item)
            yield EvalExample(
                clip_id=_clip_id(item.performance_path, kit, start / SAMPLE_RATE),
                mixture=mixture,
                stems=stems,
                kit=kit,
                performance=item.performance_path,
                seen=status.seen(kit),
                start_s=start / SAMPLE_RATE,
                pieces=pieces,
            )


def folder_clips(
    root: str | Path,
    *,
    kits: Iterable[str] | None = None,
    only_seen: bool | None = None,
    split: str | None = None,
    gmd_root: str | Path | None = None,
    pattern: str = DEFAULT_PATTERN,
    clips: int | None = None,
    clip_seconds: float | None = 10.0,
    seed: int = 0,
    kit_status: KitStatus | None = None,
) -> FolderClips:
    """Choose the clips of a StemGMD-style folder (scans now, reads audio later).

    ``kits``: keep these kits (names or folder names); ``only_seen``: keep only the
    kits seen (True) or unseen (False) in training per ``kit_status``; ``split``: keep
    this GMD split (needs our ``metadata.csv`` or ``gmd_root``); ``clips``: at most this
    many items (see :func:`select_items`); ``clip_seconds``: one window of that length
    per item at :func:`clip_start` (None: the whole item). The mixture is the sum of
    the piece files, as in training (StemGMD has no mixture file). Files must be 44.1 kHz.
    """
    root = Path(root)
    if clip_seconds is not None and not clip_seconds > 0:
        raise OptionError(f"clip length must be > 0 seconds, got {clip_seconds}")
    items = scan_stemgmd(root, pattern=pattern, split=split, gmd_root=gmd_root)
    chosen = FolderClips(root, items, _folder_kit_names(root), clip_seconds, seed)
    if kits is not None:
        wanted = {kit_key(k) for k in kits}
        available = sorted({chosen.kit_of(item) for item in items})
        items = [item for item in items if kit_key(item.kit) in wanted or kit_key(chosen.kit_of(item)) in wanted]
        if not items:
            raise OptionError(
                f"{root}: no stems for kits {', '.join(sorted(kits))}; kits here: {', '.join(available) or 'none'}"
            )
    if only_seen is not None:
        status = kit_status or KitStatus()
        items = [item for item in items if status.seen(chosen.kit_of(item)) is only_seen]
    return FolderClips(root, select_items(items, clips, seed), chosen.kit_names, clip_seconds, seed)
