"""The batch behind ``larsnet separate``: find inputs, plan outputs, separate file by file.

Three steps, kept apart so each can be tested on its own (planning is pure data):

1. :func:`find_audio_files` turns files, folders (recursive) and globs into
   :class:`InputFile` records that remember the root each file was found under, so
   input subfolders are kept in the outputs and equal names never collide.
2. :func:`plan_outputs` maps every input to one output path per stem (layout ``stem``
   like the original, ``track``, or a demucs-style name template), refusing an output
   that would overwrite an input or that two inputs would both write.
3. :func:`run_batch` separates each planned file, streaming blocks through
   ``Separator.separate_stream`` into one atomic writer per stem, so memory does not
   grow with the file's length. A :class:`~larsnet.errors.LarsNetError` fails that
   file only; the batch goes on and the :class:`BatchResult` lists what failed.
"""
from __future__ import annotations

import glob
import os
import string
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from larsnet.audio import (
    BIT_DEPTHS,
    SUPPORTED_EXTENSIONS,
    AudioBlockReader,
    AudioInfo,
    AudioWriter,
    StreamResampler,
    audio_info,
    iter_audio_blocks,
    resampled_length,
)
from larsnet.errors import LarsNetError, OptionError
from larsnet.spatial_options import SPATIAL_MAX_HZ, check_spatial, resolve_spatial, spatial_kwargs

LAYOUTS: tuple[str, ...] = ("stem", "track")
"""``stem``: ``<out>/<stem>/<reldir>/<track>.wav`` (the original's);
``track``: ``<out>/<reldir>/<track>/<stem>.wav``."""

MODES: tuple[str, ...] = ("overlap", "official")
TEMPLATE_FIELDS: tuple[str, ...] = ("track", "stem", "ext", "reldir")
DEFAULT_EXT = "wav"
DEFAULT_BLOCK_FRAMES = 1 << 17  # ~3 s at 44.1 kHz: small next to the separator's own chunks


class StemSeparator(Protocol):
    """What the batch needs from :class:`larsnet.separator.Separator`."""

    @property
    def stems(self) -> tuple[str, ...]: ...

    @property
    def sample_rate(self) -> int: ...

    def separate(
        self,
        audio: np.ndarray,
        *,
        wiener: float | None = ...,
        mode: str = ...,
        progress: Callable[[int, int | None], None] | None = ...,
        spatial_iterations: int = ...,
        spatial_max_hz: float = ...,
    ) -> dict[str, np.ndarray]: ...

    def separate_stream(
        self,
        blocks: Iterable[np.ndarray],
        *,
        wiener: float | None = ...,
        progress: Callable[[int, int | None], None] | None = ...,
        total_frames: int | None = ...,
        spatial_iterations: int = ...,
        spatial_max_hz: float = ...,
    ) -> Iterator[dict[str, np.ndarray]]: ...


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class InputFile:
    """One audio file to process and where it sits under the root it was found in.

    ``relative`` is the path under ``root`` (just the name for a file given directly),
    so ``live/take1.wav`` found in folder ``songs`` keeps its ``live/`` in the outputs.
    """

    path: Path
    root: Path
    relative: Path

    @property
    def track(self) -> str:
        """The file name without its extension: ``{track}`` in name templates."""
        return self.relative.stem

    @property
    def reldir(self) -> Path:
        """The subfolder under the root (``Path(".")`` for none): ``{reldir}``."""
        return self.relative.parent


@dataclass(frozen=True)
class Failure:
    """An input that could not be processed, with the one-line reason."""

    source: str
    message: str


@dataclass
class Discovery:
    files: list[InputFile] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def _is_audio(path: Path, extensions: Sequence[str]) -> bool:
    return path.suffix.lower() in extensions


def _walk(folder: Path, extensions: Sequence[str], skip: frozenset[str] = frozenset()) -> Iterator[Path]:
    """Audio files under ``folder``, sorted, skipping hidden names and the ``skip`` folders.

    Hidden files are skipped on purpose: macOS leaves ``._take.wav`` AppleDouble files
    beside every copied ``take.wav``; they are not audio and would fail every batch.
    ``skip`` holds real paths of folders never to enter (the output folder: running
    ``larsnet separate .`` twice must not separate the first run's stems).
    """
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and os.path.realpath(Path(dirpath) / d) not in skip
        )
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not name.startswith(".") and _is_audio(path, extensions):
                yield path


def _glob_root(pattern: str) -> Path:
    """The leading folders of ``pattern`` without wildcards: what matches are relative to."""
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _expand(spec: str, extensions: Sequence[str], skip: frozenset[str]) -> tuple[list[InputFile], str | None]:
    """Files of one input spec, or a reason why it gives none."""
    wanted = ", ".join(extensions)
    path = Path(spec).expanduser()
    if path.is_file():
        if not _is_audio(path, extensions):
            return [], f"unsupported file type {path.suffix or '(no extension)'!r}; supported: {wanted}"
        return [InputFile(path, path.parent, Path(path.name))], None
    if path.is_dir():
        found = [InputFile(p, path, p.relative_to(path)) for p in _walk(path, extensions, skip)]
        return found, None if found else f"no audio files in this folder or below (looked for {wanted})"
    if glob.has_magic(spec):
        pattern = os.path.expanduser(spec)
        root = _glob_root(pattern)
        files: list[InputFile] = []
        matches = sorted(glob.glob(pattern, recursive=True))
        for match in map(Path, matches):
            if match.is_dir():
                if os.path.realpath(match) not in skip:
                    files += [InputFile(p, root, p.relative_to(root)) for p in _walk(match, extensions, skip)]
            elif _is_audio(match, extensions) and not match.name.startswith("."):
                files.append(InputFile(match, root, match.relative_to(root)))
        if not matches:
            return [], "no files match this pattern"
        return files, None if files else f"no audio files match this pattern (looked for {wanted})"
    return [], "no such file or folder"


def find_audio_files(
    specs: Iterable[str | Path],
    *,
    extensions: Sequence[str] = SUPPORTED_EXTENSIONS,
    exclude: Iterable[str | Path] = (),
) -> Discovery:
    """Expand files, folders (recursively) and globs into :class:`InputFile` records.

    Globs are expanded here, so ``"songs/**/*.wav"`` works quoted (no shell needed)
    and on Windows. Each file appears once, at its first occurrence, even if reached
    through several specs. Specs that yield nothing become failures, not exceptions,
    so one typo does not stop a batch. Folders in ``exclude`` (the output folder) are
    not searched; a file inside one named explicitly is still taken.
    """
    out = Discovery()
    seen: set[str] = set()
    skip = frozenset(os.path.realpath(p) for p in exclude)
    for spec in map(str, specs):
        files, problem = _expand(spec, tuple(e.lower() for e in extensions), skip)
        if problem:
            out.failures.append(Failure(spec, f"{spec}: {problem}"))
        for item in files:
            key = os.path.realpath(item.path)
            if key not in seen:
                seen.add(key)
                out.files.append(item)
    return out


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Job:
    """One input and the file each of its stems goes to."""

    input: InputFile
    outputs: dict[str, Path]


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def check_name_template(template: str) -> None:
    """Refuse a template that cannot give one distinct relative path per stem."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise OptionError(f"--name-template {template!r} is malformed ({exc})") from None
    unknown = sorted({f for f in fields if f not in TEMPLATE_FIELDS})
    if unknown:
        allowed = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
        raise OptionError(f"--name-template {template!r}: unknown placeholder {{{unknown[0]}}}; use {allowed}")
    if "stem" not in fields:
        raise OptionError(f"--name-template {template!r} lacks {{stem}}: all five stems would go to one file")
    sample = Path(template.format(track="t", stem="s", ext=DEFAULT_EXT, reldir="."))
    if sample.is_absolute() or ".." in sample.parts:
        raise OptionError(f"--name-template {template!r} must stay inside the output folder (no leading / or ..)")


def output_paths(
    item: InputFile,
    out_dir: Path,
    stems: Sequence[str],
    *,
    layout: str = "stem",
    name_template: str | None = None,
) -> dict[str, Path]:
    """``{stem: path}`` for one input; a template wins over the layout."""
    if name_template is not None:
        values = {"track": item.track, "ext": DEFAULT_EXT, "reldir": item.reldir.as_posix()}
        return {s: out_dir / name_template.format(stem=s, **values) for s in stems}
    name = f"{item.track}.{DEFAULT_EXT}"
    if layout == "stem":
        return {s: out_dir / s / item.reldir / name for s in stems}
    if layout == "track":
        return {s: out_dir / item.reldir / item.track / f"{s}.{DEFAULT_EXT}" for s in stems}
    raise OptionError(f"unknown layout {layout!r}; use {' or '.join(LAYOUTS)}")


def plan_outputs(
    files: Sequence[InputFile],
    out_dir: str | Path,
    stems: Sequence[str],
    *,
    layout: str = "stem",
    name_template: str | None = None,
) -> Plan:
    """Pure mapping from inputs to outputs, with the two refusals a batch needs.

    An input fails (the others go on) when one of its outputs is an input file — we
    never overwrite a recording — or when an earlier input already writes there (two
    ``take.wav`` given from different folders without a common root).
    """
    if name_template is not None:
        check_name_template(name_template)
    out_dir = Path(out_dir)
    inputs = {os.path.realpath(f.path) for f in files}
    claimed: dict[str, InputFile] = {}
    plan = Plan()
    for item in files:
        outputs = output_paths(item, out_dir, stems, layout=layout, name_template=name_template)
        keys = {stem: os.path.realpath(p) for stem, p in outputs.items()}
        clash_input = next((p for s, p in outputs.items() if keys[s] in inputs), None)
        clash_other = next((claimed[k] for k in keys.values() if k in claimed), None)
        if clash_input is not None:
            message = f"{item.path}: output {clash_input} would overwrite an input file; choose another -o folder"
            plan.failures.append(Failure(str(item.path), message))
        elif clash_other is not None:
            plan.failures.append(
                Failure(
                    str(item.path),
                    f"{item.path}: its outputs would overwrite those of {clash_other.path}; pass the folder "
                    "that holds both (subfolders are kept) or use separate -o folders",
                )
            )
        else:
            claimed.update({k: item for k in keys.values()})
            plan.jobs.append(Job(item, outputs))
    return plan


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class SeparateOptions:
    """How to separate and write; validated on creation so a batch fails before any work."""

    out_dir: Path = Path("separated_stems")
    layout: str = "stem"
    name_template: str | None = None
    wiener: float | None = None
    spatial_iterations: int | None = None
    """None: :func:`~larsnet.spatial_options.default_iterations` of ``mode``."""
    spatial_max_hz: float = SPATIAL_MAX_HZ
    mode: str = "overlap"
    bit_depth: int = 16
    dither: bool = True
    keep_rate: bool = False
    downmix: bool = False
    block_frames: int = DEFAULT_BLOCK_FRAMES

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise OptionError(f"--layout {self.layout!r} is unknown; use {' or '.join(LAYOUTS)}")
        if self.mode not in MODES:
            raise OptionError(f"--mode {self.mode!r} is unknown; use {' or '.join(MODES)}")
        if self.bit_depth not in BIT_DEPTHS:
            raise OptionError(f"--bit-depth {self.bit_depth} is not supported; use 16, 24 or 32 (float)")
        if self.wiener is not None and not (np.isfinite(self.wiener) and self.wiener > 0):
            raise OptionError(f"-w/--wiener must be > 0, got {self.wiener}; omit -w to disable the Wiener filter")
        if isinstance(self.spatial_iterations, int) and self.spatial_iterations < 0:
            raise OptionError(f"--spatial-iterations must be >= 0, got {self.spatial_iterations}; 0 turns it off")
        check_spatial(self.spatial_rounds, self.spatial_max_hz)
        if self.name_template is not None:
            check_name_template(self.name_template)
        if self.block_frames <= 0:
            raise OptionError(f"block size must be positive, got {self.block_frames}")

    @property
    def spatial_rounds(self) -> int:
        """The filter rounds this batch runs (the mode's default when none were given)."""
        return resolve_spatial(self.spatial_iterations, self.spatial_max_hz, self.mode)[0]


class BatchReporter:
    """Hooks for progress and errors; the no-op base serves the library, the CLI draws bars."""

    def batch_started(self, jobs: int) -> None:
        """Called once with the number of files that will be separated."""

    def file_started(self, job: Job, duration_s: float) -> None:
        """A file is about to be separated."""

    def file_progress(self, done: int, total: int | None) -> None:
        """Chunks done for the current file (``total`` None if unknown)."""

    def file_finished(self, job: Job, failure: Failure | None) -> None:
        """The current file is done (``failure`` None on success)."""

    def error(self, failure: Failure) -> None:
        """An input failed (also reported for inputs that never became jobs)."""


@dataclass
class BatchResult:
    """What a batch did: files written, and the inputs that failed with their reasons."""

    separated: list[Job] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.separated) + len(self.failures)

    @property
    def exit_code(self) -> int:
        """0 if everything was separated, 1 if any input failed (or none was given)."""
        return 1 if self.failures or not self.separated else 0

    def summary(self) -> list[str]:
        """Lines for the end of a run: the count, then one line per failure."""
        head = f"{len(self.separated)} of {self.total} files separated"
        if not self.failures:
            return [head]
        return [f"{head}; {len(self.failures)} failed:"] + [f"  {f.message}" for f in self.failures]


def _failure(source: Path | str, exc: LarsNetError) -> Failure:
    message = str(exc)
    if str(source) not in message:
        message = f"{source}: {message}"
    return Failure(str(source), message)


def _check_stems(out: dict[str, np.ndarray], stems: Sequence[str]) -> None:
    if set(out) != set(stems):
        raise RuntimeError(f"separator yielded stems {sorted(out)}, expected {sorted(stems)}")


def _separate_streaming(
    reader: AudioBlockReader,
    separator: StemSeparator,
    options: SeparateOptions,
    progress: Callable[[int, int | None], None],
    writers: dict[str, AudioWriter],
    resamplers: dict[str, StreamResampler],
    total_frames: int,
) -> None:
    """Blocks in, blocks out: memory is a few blocks plus the separator's chunks.

    Writing is pipelined: one thread resamples, quantises and writes chunk k's stems
    while the separator computes chunk k + 1 (numpy and libsndfile release the GIL).
    Writing five dithered 16-bit stems otherwise takes a fifth of the time. At most one
    chunk waits to be written, and a write error surfaces at the next chunk.
    """
    stream = separator.separate_stream(reader, wiener=options.wiener, progress=progress, total_frames=total_frames,
                                       **_spatial(options))

    def write(out: dict[str, np.ndarray]) -> None:
        for stem, block in out.items():
            writers[stem].write(resamplers[stem].process(block))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="larsnet-writer") as pool:
        pending: Future | None = None
        for out in stream:
            _check_stems(out, separator.stems)
            if pending is not None:
                pending.result()
            pending = pool.submit(write, out)
        if pending is not None:
            pending.result()


def _spatial(options: SeparateOptions) -> dict[str, int | float]:
    """The filter's arguments only when it is on, so separators without the filter still serve."""
    return spatial_kwargs(options.spatial_rounds, options.spatial_max_hz)


def _separate_whole(
    reader: AudioBlockReader,
    separator: StemSeparator,
    options: SeparateOptions,
    progress: Callable[[int, int | None], None],
    writers: dict[str, AudioWriter],
    resamplers: dict[str, StreamResampler],
) -> None:
    """``--mode official``: the authors' grid needs the whole file's spectrogram at once."""
    audio = np.concatenate(list(reader), axis=-1)  # [2, N] at the separator's rate
    stems = separator.separate(audio, wiener=options.wiener, mode="official", progress=progress, **_spatial(options))
    _check_stems(stems, separator.stems)
    for stem, wave in stems.items():
        writers[stem].write(resamplers[stem].process(wave))


def _finish(
    job: Job,
    frames_read: int,
    frames_in: int,
    resamplers: dict[str, StreamResampler],
    writers: dict[str, AudioWriter],
    keep_rate: bool,
) -> None:
    """Flush the output resamplers so every stem has exactly the input's length.

    At the separator's rate that is the number of frames it was fed; written back at
    the file's rate (``--keep-rate``) it is the number of frames decoded from the file.
    """
    target = frames_read if keep_rate else frames_in
    for stem, resampler in resamplers.items():
        if resampler.frames_in != frames_in:
            raise RuntimeError(
                f"{job.input.path}: separator returned {resampler.frames_in} frames of {stem} "
                f"for {frames_in} input frames"
            )
        writers[stem].write(resampler.flush(total_frames=target))


def separate_file(
    job: Job,
    separator: StemSeparator,
    options: SeparateOptions,
    *,
    progress: Callable[[int, int | None], None] | None = None,
    info: AudioInfo | None = None,
) -> dict[str, Path]:
    """Separate one input into its planned outputs; all stems appear together or none.

    Writers are committed only when every stem is complete: an error or Ctrl-C leaves
    no partial output (each writer removes its temp file). Raises LarsNetError for bad
    input; the caller decides whether the batch goes on. ``info`` saves re-reading the
    header when the caller has it already.
    """
    info = info or audio_info(job.input.path)
    out_rate = info.sample_rate if options.keep_rate else separator.sample_rate
    total_frames = resampled_length(info.frames, info.sample_rate, separator.sample_rate)
    tick = progress or (lambda done, total: None)
    # the reader checks channels and NaN/inf when created: before any output exists
    reader = iter_audio_blocks(
        job.input.path, block_frames=options.block_frames, sample_rate=separator.sample_rate, downmix=options.downmix
    )
    with reader, ExitStack() as stack:
        writers = {
            stem: stack.enter_context(
                AudioWriter(path, out_rate, 2, bit_depth=options.bit_depth, dither=options.dither)
            )
            for stem, path in job.outputs.items()
        }
        resamplers = {stem: StreamResampler(separator.sample_rate, out_rate) for stem in job.outputs}
        if options.mode == "official":
            _separate_whole(reader, separator, options, tick, writers, resamplers)
        else:
            _separate_streaming(reader, separator, options, tick, writers, resamplers, total_frames)
        _finish(job, reader.frames_read, reader.frames_out, resamplers, writers, options.keep_rate)
    return dict(job.outputs)


def run_batch(
    inputs: Iterable[str | Path],
    separator: StemSeparator,
    options: SeparateOptions,
    reporter: BatchReporter | None = None,
) -> BatchResult:
    """Find, plan and separate every input; a bad file fails alone.

    Each failure is reported through ``reporter.error`` as it happens and kept in the
    result, whose :attr:`BatchResult.exit_code` is 1 if anything failed.
    """
    reporter = reporter or BatchReporter()
    found = find_audio_files(inputs, exclude=[options.out_dir])
    plan = plan_outputs(
        found.files, options.out_dir, separator.stems, layout=options.layout, name_template=options.name_template
    )
    result = BatchResult()
    for failure in found.failures + plan.failures:
        result.failures.append(failure)
        reporter.error(failure)
    reporter.batch_started(len(plan.jobs))
    for job in plan.jobs:
        try:
            info = audio_info(job.input.path)
            reporter.file_started(job, info.duration_s)
            separate_file(job, separator, options, progress=reporter.file_progress, info=info)
        except LarsNetError as exc:
            failure = _failure(job.input.path, exc)
            result.failures.append(failure)
            reporter.error(failure)
            reporter.file_finished(job, failure)
        else:
            result.separated.append(job)
            reporter.file_finished(job, None)
    return result
