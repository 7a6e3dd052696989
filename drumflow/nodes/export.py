"""``export``: write audio files (wav, flac, ogg, mp3, aiff) atomically.

The path is a template relative to the output folder (``--out``), with ``{track}`` (the
input file's name without extension), ``{stem}`` and ``{node}`` (this node's id). With a
stem-set input, one file per stem is written and ``{stem}`` is required; with an audio
input, ``{stem}`` is the stem the audio was traced back to (``split.kick -> fx -> here``
gives ``kick``). Files go through :class:`larsnet.audio.AudioWriter`: a temp file beside
the target, renamed when complete, so a killed run never leaves a partial file. 16-bit
output gets TPDF dither seeded from the node's cache key, so the same inputs give the
same bytes in any folder and with any number of jobs.
"""
from __future__ import annotations

import os
import string
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Literal

from pydantic import Field

from drumflow.errors import did_you_mean
from drumflow.node import CheckInfo, Issue, NodeType, Params, Port, RunContext
from drumflow.ports import AUDIO, STEMS, Audio, PortType, StemSet

FIELDS = ("track", "stem", "node")
FORMATS = {".wav": "wav", ".flac": "flac", ".ogg": "ogg", ".mp3": "mp3", ".aiff": "aiff", ".aif": "aiff"}


class ExportParams(Params):
    path: str = Field("{track}/{node}.wav",
                      description="file name template under --out: {track}, {stem}, {node}; the extension picks the format")
    bit_depth: Literal[16, 24, 32] = Field(24, description="16 or 24 bit integer PCM, 32 = float (wav/flac/aiff)")
    dither: bool = Field(True, description="TPDF dither when reducing to 16 bit")


def template_fields(template: str) -> list[str]:
    try:
        return [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(f"bad path template {template!r}: {exc}") from None


def render(template: str, **values: str) -> str:
    return template.format_map(values)


def escapes(relative: str) -> bool:
    """True if ``relative`` is absolute or climbs out of its folder with '..'."""
    p = PurePosixPath(relative.replace("\\", "/"))
    if p.is_absolute() or Path(relative).is_absolute() or Path(relative).drive:
        return True
    depth = 0
    for part in p.parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            return True
    return False


def is_inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


class Export(NodeType):
    name = "export"
    description = "Write audio (or every stem of a stem set) to files under the output folder, atomically."
    version = "1"
    Params = ExportParams
    inputs = (Port("in", (AUDIO, STEMS), "audio, or a stem set (one file per stem)"),)
    outputs = ()
    sink = True

    def check(self, params: ExportParams, info: CheckInfo) -> Iterable[Issue]:
        at = ("path",)
        try:
            fields = template_fields(params.path)
        except ValueError as exc:
            yield Issue(str(exc), at, "write braces only around track, stem or node")
            return
        for f in fields:
            if f not in FIELDS:
                yield Issue(f"unknown field {{{f}}} in the path", at,
                            did_you_mean(f, FIELDS) or "use {track}, {stem} and {node}")
                return
        sample = render(params.path, track="t", stem="s", node="n")
        if escapes(sample):
            yield Issue(f"path {params.path!r} escapes the output folder", at,
                        "write a relative path without '..', e.g. '{track}/mix.wav'; choose the folder with --out")
        ext = Path(sample).suffix.lower()
        if ext not in FORMATS:
            yield Issue(f"cannot write {ext or 'a file without extension'!r}", at,
                        f"end the path with one of {', '.join(sorted(FORMATS))}")
        elif FORMATS[ext] == "flac" and params.bit_depth == 32:
            yield Issue("FLAC cannot hold 32-bit float", ("bit_depth",), "use bit_depth 16 or 24, or a .wav path")
        feeds_stems = info.input_types.get("in") is STEMS
        if feeds_stems and "stem" not in fields:
            yield Issue("a stem set is written as one file per stem, but the path has no {stem}", at,
                        "e.g. path: '{track}/{stem}.wav'")
        if not feeds_stems and "stem" in fields and info.stem is None:
            yield Issue("the path uses {stem}, but this export's input does not come from one stem", at,
                        "remove {stem}, or feed the export from a stem port like split.kick")

    def planned_outputs(self, params: ExportParams, track: str, out_dir: Path, node_id: str, stem: str | None,
                        input_type: PortType | None) -> list[Path]:
        if input_type is STEMS:
            from larsnet.stems import STEMS as STEM_NAMES

            return [out_dir / render(params.path, track=track, stem=s, node=node_id) for s in STEM_NAMES]
        return [out_dir / render(params.path, track=track, stem=stem or "", node=node_id)]

    def run(self, inputs: dict[str, Any], params: ExportParams, ctx: RunContext) -> dict[str, Any]:
        from larsnet.audio import AudioWriter

        value = inputs["in"]
        items: list[tuple[str | None, Audio]] = (
            list(value.items()) if isinstance(value, StemSet) else [(ctx.stem, value)])
        protected = {os.path.realpath(p) for p in ctx.protected}
        for i, (stem, audio) in enumerate(items):
            target = ctx.out_dir / render(params.path, track=ctx.track, stem=stem or "", node=ctx.node_id)
            if not is_inside(target, ctx.out_dir):
                raise ValueError(f"{target} is outside the output folder {ctx.out_dir}; refusing to write")
            if os.path.realpath(target) in protected:
                raise ValueError(f"{target} is an input file; refusing to overwrite it (choose another --out or path)")
            with AudioWriter(target, audio.sample_rate, audio.channels, bit_depth=params.bit_depth,
                             dither=params.dither, seed=(ctx.seed + i) % (1 << 63)) as writer:
                writer.write(audio.samples)
            ctx.written.append(target)
        return {}
