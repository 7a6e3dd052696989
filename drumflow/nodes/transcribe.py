"""``transcribe``: drum stems -> a General MIDI drum file (channel 10).

The stems come as a stem set (``in: split.stems``), as one stem's audio
(``in: split.snare``; the stem is traced through single-input nodes like ``fx``), or as
audio per stem (``in: {kick: kick_fx, snare: split.snare}``). Any subset of the five
stems will do: a set without a kick gives a file without kick notes, and stems with no
onsets give a valid, empty file. The transcription itself is
:func:`larsnet.transcription.transcribe_stem` (onsets, velocity, open/closed hat,
crash/ride, which tom); quantisation to a grid is optional and off by default.

The path is a template under the output folder (``--out``), as for ``export``:
``{track}`` and ``{node}``, ending in ``.mid``. The file is written beside its target and
renamed when complete, and recorded in the run manifest.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import Field, field_validator

from drumflow.errors import did_you_mean
from drumflow.node import CheckInfo, Issue, NodeType, Params, Port, RunContext
from drumflow.nodes.export import escapes, is_inside, render, template_fields
from drumflow.ports import AUDIO, STEMS, Audio, PortType, StemSet
from larsnet.stems import STEMS as STEM_NAMES

FIELDS = ("track", "node")
EXTENSIONS = (".mid", ".midi")

class TranscribeParams(Params):
    path: str = Field("{track}/{node}.mid",
                      description="MIDI file name template under --out: {track}, {node}; ends in .mid")
    quantize: bool = Field(False, description="snap notes to a grid of `subdivision` steps per beat")
    bpm: float | None = Field(None, gt=0.0, le=400.0,
                              description="tempo of the grid and of the file; null = estimated from the onsets "
                                          "when quantizing, else the file is written at 120 bpm")
    subdivision: int = Field(4, ge=1, le=16, description="grid steps per beat when quantizing (4 = 16th notes)")
    thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="stem -> onset threshold 0..1, a fraction of the stem's strongest onset "
                    "(raise it against bleed and ghost notes; default 0 for every stem but snare 0.03)")

    source: Literal["separated", "recorded"] = Field(
        "separated",
        description="where the stems come from, which picks the tuned onset settings and bleed gate: "
                    "'separated' by a model from a mix (what a split node gives), or 'recorded' one drum "
                    "at a time (multitrack recordings, rendered stems: a loose gate, finer cymbal onsets)")
    bleed_db: float | dict[str, float | dict[str, float]] | Literal["off"] | None = Field(
        None,
        description="bleed gate: drop a stem's onset when another stem rises this many dB more in its bands. "
                    "null = the tuned gates of `source` (separated: one per pair of stems, see the docs; "
                    "recorded: 16 for every pair); one number for every pair; or over the separated gates, "
                    "stem -> dB (all its pairs) or stem -> {other stem: dB}, e.g. {cymbals: {hihat: -15}}; "
                    "'off' keeps every onset")

    @field_validator("thresholds")
    @classmethod
    def _fractions(cls, value: dict[str, float]) -> dict[str, float]:
        for stem, x in value.items():
            if not 0.0 <= x <= 1.0:
                raise ValueError(f"threshold of {stem} must be in [0, 1] (a fraction of the stem's strongest onset), "
                                 f"got {x}")
        return value


class Transcribe(NodeType):
    name = "transcribe"
    description = "Transcribe drum stems to a General MIDI drum file (onsets, velocities, hat/cymbal/tom kinds)."
    version = "2"
    Params = TranscribeParams
    inputs = (Port("in", (STEMS, AUDIO), "a stem set, or one stem's audio", required=False),) + tuple(
        Port(s, AUDIO, f"the {s} stem's audio", required=False) for s in STEM_NAMES)
    outputs = ()
    sink = True

    def check(self, params: TranscribeParams, info: CheckInfo) -> Iterable[Issue]:
        yield from _check_path(params.path)
        for stem in params.thresholds:
            if stem not in STEM_NAMES:
                yield Issue(f"unknown stem '{stem}'", ("thresholds", stem),
                            did_you_mean(stem, STEM_NAMES) or f"stems are {', '.join(STEM_NAMES)}", key=True)
        for stem, value in params.bleed_db.items() if isinstance(params.bleed_db, dict) else ():
            others = value if isinstance(value, dict) else {}
            for at, name in [((stem,), stem), *(((stem, other), other) for other in others)]:
                if name not in STEM_NAMES:
                    yield Issue(f"unknown stem '{name}'", ("bleed_db", *at),
                                did_you_mean(name, STEM_NAMES) or f"stems are {', '.join(STEM_NAMES)}", key=True)
                elif len(at) == 2 and name == stem:
                    yield Issue(f"bleed gate {stem}.{name}: a stem is not gated against itself", ("bleed_db", *at),
                                f"name the other stems whose bleed into {stem} to gate", key=True)
        connected = set(info.input_types)
        if not connected:
            yield Issue("no stems connected", (), "add in: split.stems, or in: {kick: split.kick, ...}")
        elif "in" in connected and len(connected) > 1:
            yield Issue("'in' and per-stem inputs are both connected", (),
                        "give either in: split.stems, or one input per stem: in: {kick: ..., snare: ...}")
        elif connected == {"in"} and info.input_types["in"] is AUDIO and info.stem is None:
            yield Issue("input 'in' is audio that does not come from one stem, so its drum is unknown", (),
                        "connect a stem port (in: split.snare), the stem set (in: split.stems), or name the stem: "
                        "in: {snare: my_node}")

    def planned_outputs(self, params: TranscribeParams, track: str, out_dir: Path, node_id: str, stem: str | None,
                        input_type: PortType | None) -> list[Path]:
        return [out_dir / render(params.path, track=track, node=node_id)]

    def run(self, inputs: dict[str, Any], params: TranscribeParams, ctx: RunContext) -> dict[str, Any]:
        from larsnet.transcription import TranscriptionSettings, quantize, transcribe, transcribe_stem, write_midi

        stems = _stems_of(inputs, ctx)
        settings = TranscriptionSettings.for_source(params.source).with_thresholds(params.thresholds)
        if params.bleed_db is not None:
            settings = dataclasses.replace(settings, bleed_db=None if params.bleed_db == "off" else params.bleed_db)
        rates = {audio.sample_rate for audio in stems.values()}
        if len(rates) <= 1:  # together, so that one stem's bleed into another is recognised and dropped
            rate = rates.pop() if rates else 44_100
            notes = transcribe({stem: audio.samples for stem, audio in stems.items()}, rate, settings=settings)
        else:
            ctx.warn(f"stems at different sample rates ({', '.join(f'{r} Hz' for r in sorted(rates))}): "
                     "transcribed one by one, without the bleed gate; resample them to one rate first")
            notes = sorted(n for stem, audio in stems.items()
                           for n in transcribe_stem(audio.samples, audio.sample_rate, stem, settings))
        bpm = params.bpm
        if params.quantize:
            notes, bpm = quantize(notes, bpm=bpm, subdivision=params.subdivision)
            if bpm is None and notes:
                ctx.warn("too few onsets to estimate a tempo: notes left unquantized, file written at 120 bpm")
        if not notes:
            ctx.warn(f"no onsets found in {', '.join(stems) or 'the input'}: wrote a MIDI file without notes")
        target = ctx.out_dir / render(params.path, track=ctx.track, node=ctx.node_id)
        if not is_inside(target, ctx.out_dir):
            raise ValueError(f"{target} is outside the output folder {ctx.out_dir}; refusing to write")
        if os.path.realpath(target) in {os.path.realpath(p) for p in ctx.protected}:
            raise ValueError(f"{target} is an input file; refusing to overwrite it (choose another --out or path)")
        write_midi(notes, target, bpm=bpm)
        ctx.written.append(target)
        return {}


def _check_path(path: str) -> Iterable[Issue]:
    at = ("path",)
    try:
        fields = template_fields(path)
    except ValueError as exc:
        yield Issue(str(exc), at, "write braces only around track or node")
        return
    for f in fields:
        if f not in FIELDS:
            yield Issue(f"unknown field {{{f}}} in the path", at,
                        did_you_mean(f, FIELDS) or "use {track} and {node} (one MIDI file holds every stem)")
            return
    sample = render(path, track="t", node="n")
    if escapes(sample):
        yield Issue(f"path {path!r} escapes the output folder", at,
                    "write a relative path without '..', e.g. '{track}/drums.mid'; choose the folder with --out")
    if Path(sample).suffix.lower() not in EXTENSIONS:
        yield Issue(f"a MIDI file must end in .mid, got {Path(sample).suffix or 'no extension'!r}", at,
                    "e.g. path: '{track}/drums.mid'")


def _stems_of(inputs: dict[str, Any], ctx: RunContext) -> dict[str, Audio]:
    """Stem name -> audio from whichever inputs are connected; unknown stem names are skipped with a warning."""
    value = inputs.get("in")
    if isinstance(value, StemSet):
        found = dict(value.items())
    elif isinstance(value, Audio):
        found = {ctx.stem or "": value}
    else:
        found = {s: inputs[s] for s in STEM_NAMES if s in inputs}
    unknown = [s for s in found if s not in STEM_NAMES]
    if unknown:
        ctx.warn(f"skipped inputs that are not drum stems: {', '.join(unknown)} (stems are {', '.join(STEM_NAMES)})")
    return {s: a for s, a in found.items() if s in STEM_NAMES}
