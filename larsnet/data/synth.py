"""Render a StemGMD-like dataset to disk: every performance through every kit.

Per (performance, kit) the nine piece stems and their mixture are written as 16-bit
WAV or FLAC under ``<out>/<midi path without extension>/<kit folder>/``, which for GMD
is StemGMD's own tree (``drummer1/eval_session/1_funk-groove1_138_beat_4-4/<kit>/``).
A ``metadata.csv`` keeps GMD's columns plus the kit and the file paths.

The run is a batch over thousands of items, so it is built to be interrupted and to
meet bad inputs: every file is written atomically and an item counts as done when
all its files exist (a rerun skips it); a bad MIDI file or kit is reported once, its
items are skipped and the rest goes on; :class:`SynthReport` lists what was skipped.
Rendering streams in blocks, so a 20-minute GMD performance needs no more memory
than a 30-second one.
"""
from __future__ import annotations

import csv
import multiprocessing
import os
import re
from collections import OrderedDict
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from larsnet.audio import AudioWriter
from larsnet.data.gmd import GMD_COLUMNS, GmdRecord
from larsnet.data.kit import MappedKit
from larsnet.data.midi import read_drum_midi
from larsnet.data.sampler import full_length, render_pieces
from larsnet.data.stemgmd import MIXTURE_NAME, STEMGMD_FILE_NAMES
from larsnet.errors import LarsNetError, OptionError
from larsnet.stems import HELD_OUT_KITS, PIECES, SAMPLE_RATE

FORMATS: tuple[str, ...] = ("wav", "flac")
NAMINGS: tuple[str, ...] = ("larsnet", "stemgmd")
BLOCK_S = 30.0
"""Render and write in blocks of this many seconds (bounded memory per item)."""
KIT_CACHE_SIZE = 2
"""Kits a worker keeps loaded; items are ordered kit by kit, so two is plenty."""

METADATA_COLUMNS: tuple[str, ...] = (
    *GMD_COLUMNS, "kit", "kit_license", "held_out", "folder", MIXTURE_NAME, *PIECES,
)


@dataclass(frozen=True)
class KitSpec:
    """What the workers need to get a kit, and what the metadata says about it.

    ``kit`` is set for in-memory kits (tests, custom pipelines); otherwise workers
    call :func:`larsnet.data.discovery.get_kit` with ``name``.
    """

    name: str
    folder: str
    license: str = "unknown"
    held_out: bool = False
    kit: MappedKit | None = field(default=None, compare=False, repr=False)


@dataclass
class Skipped:
    """Something that could not be rendered, with the one-line reason."""

    what: str
    reason: str
    items: int = 1


@dataclass
class SynthReport:
    """Outcome of :func:`synthesize`: counts, skipped inputs, warnings, the metadata file."""

    rendered: int = 0
    existing: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    metadata_path: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.skipped

    def summary(self) -> str:
        lines = [
            f"rendered {self.rendered}, already done {self.existing}, "
            f"skipped {sum(s.items for s in self.skipped)} item(s)"
        ]
        for s in self.skipped:
            lines.append(f"  skipped {s.what} ({s.items} item(s)): {s.reason}")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Task:
    record: GmdRecord
    kit: KitSpec
    folder: str  # relative to the output root


@dataclass
class _Outcome:
    task: _Task
    row: dict[str, object] | None = None
    error: str | None = None
    error_kind: str = ""  # "midi" | "kit" | "render"
    warnings: list[str] = field(default_factory=list)


def kit_folder_name(name: str) -> str:
    """A kit's folder: lower case, runs of other characters as ``_`` (StemGMD style: ``east_bay``)."""
    slug = re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")
    return slug or "kit"


def kit_specs(kits: Sequence[str | MappedKit]) -> list[KitSpec]:
    """Turn kit names (via discovery) and in-memory kits into specs; folder names must be unique."""
    entries: dict[str, object] = {}
    if any(isinstance(k, str) for k in kits):
        from larsnet.data import discovery  # the kit loaders' module; imported only when needed

        entries = {e.name: e for e in discovery.find_kits()}
    specs = []
    for kit in kits:
        if isinstance(kit, MappedKit):
            specs.append(
                KitSpec(kit.name, kit_folder_name(kit.name), kit.kit.license, kit.name in HELD_OUT_KITS, kit)
            )
        else:
            entry = entries.get(kit)
            specs.append(
                KitSpec(
                    kit,
                    kit_folder_name(kit),
                    getattr(entry, "license", "unknown") or "unknown",
                    bool(getattr(entry, "held_out", kit in HELD_OUT_KITS)),
                )
            )
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.folder in seen and seen[spec.folder] != spec.name:
            raise OptionError(
                f"kits {seen[spec.folder]!r} and {spec.name!r} would share the folder {spec.folder!r}; rename one"
            )
        seen[spec.folder] = spec.name
    return list({s.name: s for s in specs}.values())


def piece_file_names(naming: str) -> dict[str, str]:
    """piece -> file stem for ``naming`` ("larsnet": our piece names; "stemgmd": StemGMD's)."""
    if naming not in NAMINGS:
        raise OptionError(f"naming must be one of {', '.join(NAMINGS)}, got {naming!r}")
    return dict(STEMGMD_FILE_NAMES) if naming == "stemgmd" else {p: p for p in PIECES}


def item_files(out_dir: Path, folder: str, audio_format: str, naming: str) -> dict[str, Path]:
    """piece (and ``mixture``) -> path of one item's files."""
    names = piece_file_names(naming)
    base = out_dir / folder
    files = {piece: base / f"{names[piece]}.{audio_format}" for piece in PIECES}
    files[MIXTURE_NAME] = base / f"{MIXTURE_NAME}.{audio_format}"
    return files


def synthesize(
    records: Sequence[GmdRecord],
    kits: Sequence[str | MappedKit],
    out_dir: str | Path,
    *,
    audio_format: str = "wav",
    naming: str = "larsnet",
    jobs: int = 1,
    tail_s: float = 2.0,
    gain_db: float = -6.0,
    round_robin: str = "cycle",
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    on_message: Callable[[str], None] | None = None,
) -> SynthReport:
    """Render every record with every kit into ``out_dir``; see the module docstring.

    ``gain_db`` is applied to every piece (mixtures of nine pieces clip otherwise);
    ``round_robin`` and ``seed`` go to the sampler (see :func:`~larsnet.data.sampler.render`);
    ``progress(n)`` is called as n more items finish; ``on_message(line)`` gets each
    skip reason and warning once, as it happens. Returns a :class:`SynthReport`.
    """
    if audio_format not in FORMATS:
        raise OptionError(f"format must be one of {', '.join(FORMATS)}, got {audio_format!r}")
    piece_file_names(naming)
    if jobs < 1:
        raise OptionError(f"--jobs must be >= 1, got {jobs}")
    if round_robin not in ("cycle", "random"):
        raise OptionError(f"round robin must be 'cycle' or 'random', got {round_robin!r}")
    if not records:
        raise OptionError("no performances to render (check --split / --limit / the MIDI folder)")
    if not kits:
        raise OptionError("no kits to render with; list them with `larsnet kits`")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = kit_specs(kits)
    report = SynthReport()
    shown: set[str] = set()

    def say(line: str) -> None:
        if line not in shown:
            shown.add(line)
            if on_message is not None:
                on_message(line)

    previous = _read_metadata(out_dir / "metadata.csv")
    rows: dict[str, dict[str, object]] = {
        folder: row for folder, row in previous.items()
        if item_files(out_dir, folder, audio_format, naming)[MIXTURE_NAME].exists()
    }
    todo: list[_Task] = []
    for spec in specs:  # kit-major order: workers keep one kit loaded at a time
        for record in records:
            folder = f"{record.relative_stem}/{spec.folder}"
            if all(p.exists() for p in item_files(out_dir, folder, audio_format, naming).values()):
                report.existing += 1
                rows.setdefault(folder, _row(record, spec, folder, audio_format, naming, record.duration))
                if progress is not None:
                    progress(1)
            else:
                todo.append(_Task(record, spec, folder))

    options = dict(out_dir=out_dir, audio_format=audio_format, naming=naming, tail_s=tail_s,
                   gain=float(10.0 ** (gain_db / 20.0)), round_robin=round_robin, seed=seed)
    skipped: "OrderedDict[tuple[str, str], Skipped]" = OrderedDict()
    for outcome in _run(todo, options, jobs):
        for line in outcome.warnings:
            if line not in report.warnings:
                report.warnings.append(line)
            say(f"warning: {line}")
        if outcome.error is None:
            report.rendered += 1
            assert outcome.row is not None
            rows[outcome.task.folder] = outcome.row
        else:
            what = (
                f"kit {outcome.task.kit.name!r}" if outcome.error_kind == "kit"
                else str(outcome.task.record.midi_path)
            )
            key = (what, outcome.error)
            if key in skipped:
                skipped[key].items += 1
            else:
                skipped[key] = Skipped(what, outcome.error)
                say(f"skipped {what}: {outcome.error}")
        if progress is not None:
            progress(1)
    report.skipped = list(skipped.values())
    report.metadata_path = _write_metadata(out_dir / "metadata.csv", rows)
    return report


# --------------------------------------------------------------------------- workers


def _run(tasks: list[_Task], options: dict, jobs: int) -> Iterator[_Outcome]:
    """Run tasks in this process (jobs == 1) or a pool; yields outcomes as they finish."""
    if not tasks:
        return
    memory_kits = {t.kit.name: t.kit.kit for t in tasks if t.kit.kit is not None}
    if jobs == 1 or len(tasks) == 1:
        _init_worker(memory_kits, options)
        for task in tasks:
            yield _render_task(task)
        return
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    stripped = [_Task(t.record, KitSpec(t.kit.name, t.kit.folder, t.kit.license, t.kit.held_out), t.folder) for t in tasks]
    with ctx.Pool(min(jobs, len(tasks)), initializer=_init_worker, initargs=(memory_kits, options)) as pool:
        yield from pool.imap_unordered(_render_task, stripped, chunksize=1)


_WORKER: dict = {}


def _init_worker(memory_kits: dict[str, MappedKit], options: dict) -> None:
    _WORKER.clear()
    _WORKER.update(memory_kits=memory_kits, options=options, kits=OrderedDict())


def _get_kit(name: str) -> MappedKit:
    """A kit for this worker: in-memory ones first, else discovery; failures are cached too."""
    if name in _WORKER["memory_kits"]:
        return _WORKER["memory_kits"][name]
    cache: OrderedDict[str, MappedKit | LarsNetError] = _WORKER["kits"]
    if name not in cache:
        from larsnet.data import discovery

        try:
            cache[name] = discovery.get_kit(name)
        except LarsNetError as exc:
            cache[name] = exc
        except Exception as exc:  # noqa: BLE001 - a broken kit must not stop the batch
            cache[name] = LarsNetError(f"kit {name!r} cannot be loaded: {type(exc).__name__}: {exc}")
        while len(cache) > KIT_CACHE_SIZE:
            cache.popitem(last=False)
    cache.move_to_end(name)
    value = cache[name]
    if isinstance(value, Exception):
        raise value
    return value


def _render_task(task: _Task) -> _Outcome:
    """Render one (performance, kit) item to disk; never raises for bad inputs."""
    opts = _WORKER["options"]
    try:
        performance = read_drum_midi(task.record.midi_path)
    except LarsNetError as exc:
        return _Outcome(task, error=getattr(exc, "problem", str(exc)), error_kind="midi")
    try:
        kit = _get_kit(task.kit.name)
    except LarsNetError as exc:
        return _Outcome(task, error=str(exc), error_kind="kit")
    warnings = list(performance.warnings)
    try:
        peak = render_to_files(
            performance,
            kit,
            item_files(opts["out_dir"], task.folder, opts["audio_format"], opts["naming"]),
            tail_s=opts["tail_s"],
            gain=opts["gain"],
            round_robin=opts["round_robin"],
            seed=opts["seed"],
        )
    except (LarsNetError, OSError, ValueError) as exc:
        return _Outcome(task, error=f"rendering failed: {exc}", error_kind="render", warnings=warnings)
    if peak > 1.0:
        warnings.append(
            f"{task.folder}: mixture peaks at {20 * np.log10(peak):+.1f} dBFS and was clipped; lower --gain-db"
        )
    row = _row(task.record, task.kit, task.folder, opts["audio_format"], opts["naming"], performance.duration_s)
    return _Outcome(task, row=row, warnings=warnings)


def render_to_files(
    performance,
    kit: MappedKit,
    files: dict[str, Path],
    *,
    tail_s: float = 2.0,
    gain: float = 1.0,
    round_robin: str = "cycle",
    seed: int = 0,
    block_s: float = BLOCK_S,
) -> float:
    """Stream the nine pieces and their mixture into ``files`` (piece/``mixture`` -> path).

    Blocks are exact slices of the full render, so the files equal a one-shot render.
    16-bit without dither (rounded), so silent pieces are exact zeros and the mixture
    file equals the sum of the piece files to within rounding. Each file is atomic (temp file + rename); the mixture is closed last. Returns the
    mixture's peak (linear), to warn about clipping.
    """
    total = full_length(performance, tail_s)
    block = max(1, int(block_s * SAMPLE_RATE))
    gains = {p: gain for p in PIECES}
    peak = 0.0
    with ExitStack() as stack:
        writers = {
            # no dither: a silent piece must stay digital silence on disk (and FLAC shrinks it to nothing)
            name: stack.enter_context(AudioWriter(path, SAMPLE_RATE, 2, bit_depth=16, dither=False))
            for name, path in files.items()
        }
        for start in range(0, total, block):
            n = min(block, total - start)
            pieces = render_pieces(performance, kit, PIECES, start, n, seed=seed, gains=gains,
                                   round_robin=round_robin)  # type: ignore[arg-type]
            mix = np.zeros((2, n), dtype=np.float32)
            for i, piece in enumerate(PIECES):
                mix += pieces[i]
                writers[piece].write(pieces[i])
            writers[MIXTURE_NAME].write(mix)
            peak = max(peak, float(np.abs(mix).max(initial=0.0)))
    return peak


# --------------------------------------------------------------------------- metadata


def _row(record: GmdRecord, spec: KitSpec, folder: str, audio_format: str, naming: str, duration: float) -> dict[str, object]:
    row = record.metadata()
    if duration:
        row["duration"] = round(float(duration), 6)
    files = piece_file_names(naming)
    row.update(
        kit=spec.name,
        kit_license=spec.license,
        held_out=int(spec.held_out),
        folder=folder,
        **{MIXTURE_NAME: f"{folder}/{MIXTURE_NAME}.{audio_format}"},
        **{piece: f"{folder}/{files[piece]}.{audio_format}" for piece in PIECES},
    )
    return row


def _read_metadata(path: Path) -> dict[str, dict[str, object]]:
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {row["folder"]: dict(row) for row in csv.DictReader(f) if row.get("folder")}


def _write_metadata(path: Path, rows: dict[str, dict[str, object]]) -> Path:
    """Write all known rows, sorted by folder, atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=METADATA_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for folder in sorted(rows):
            writer.writerow(rows[folder])
    os.replace(tmp, path)
    return path
