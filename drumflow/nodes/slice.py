"""``slice``: cut stems into one-shots and write them as a sample pack with SFZ and Hydrogen kits.

Input: a stem set (``split.stems``), or single audio ports named after their stems
(``in: {kick: kick_fx, snare: split.snare}``; a lone ``split.kick`` names itself).
Single ports replace the same stem of a stem set given alongside.

Each stem is gated against bleed, its onsets found and backtracked, its hits cut,
given a velocity, deduplicated and normalised (:mod:`drumflow.dsp.slicing`); then
:func:`drumflow.packs.write_pack` writes ``<pack>/<stem>/<pack>_<stem>_<NN>.wav``, the
kits and the manifests. Every onset/slicing setting has a per-stem default; a
top-level value applies to every stem and ``per_stem`` overrides both::

    params: {gate_db: -40, per_stem: {toms: {gate_db: -24, key: 47}, cymbals: {skip: true}}}

Like ``export``, this is a sink: it writes files (atomically, never over an input) and
is not cached; the separation upstream is.
"""
from __future__ import annotations

import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import Field, field_validator

from drumflow.dsp.onsets import ONSET_DEFAULTS, OnsetSettings
from drumflow.dsp.slicing import SLICE_DEFAULTS, SliceSettings, slice_stem
from drumflow.errors import did_you_mean, one_of
from drumflow.node import CheckInfo, Issue, NodeType, Params, Port, RunContext
from drumflow.nodes.export import escapes, is_inside, render, template_fields
from drumflow.packs import GM_KEYS, TOM_LAYOUTS, slug, write_pack
from drumflow.ports import AUDIO, STEMS, Audio, PortType, StemSet
from larsnet.stems import STEMS as STEM_NAMES


ONSET_FIELDS = ("method", "threshold", "min_gap_ms", "gate_db", "backtrack_ms")
OFF_MEANS_NONE = ("gate_db", "dedupe")
"""Settings where 'off' disables the step (None in the dsp settings)."""
SLICE_FIELDS = ("pre_roll_ms", "tail_db", "min_length_ms", "max_length_ms", "fade_out_ms", "normalize",
                "peak_dbfs", "loudness_lufs", "dedupe", "dedupe_velocity")


def _defaults(name: str) -> str:
    """``kick 0.1, snare 0.08, ...`` for a setting's description (from the declared defaults)."""
    table = ONSET_DEFAULTS if name in ONSET_FIELDS else SLICE_DEFAULTS
    values = {s: getattr(table[s], name) for s in STEM_NAMES}
    if len({repr(v) for v in values.values()}) == 1:
        return f"default {next(iter(values.values()))}"
    return "defaults " + ", ".join(f"{s} {v}" for s, v in values.items())


def _setting(name: str, text: str, **limits: float) -> Any:
    """A per-stem setting: None by default (keep the stem's), described with the defaults."""
    return Field(None, description=f"{text} ({_defaults(name)})", **limits)


class Tuning(Params):
    """Onset and slicing settings; a setting left out (null) keeps the stem's default."""

    method: Literal["flux", "energy"] | None = _setting("method", "onset function: spectral flux, or energy rise")
    threshold: float | None = _setting("threshold", "rise of an onset peak above the local mean, 0..1",
                                       ge=0.0, le=1.0)
    min_gap_ms: float | None = _setting("min_gap_ms", "onsets closer than this are one hit", gt=0.0, le=5000.0)
    gate_db: float | Literal["off"] | None = _setting("gate_db", "bleed gate, dB below the stem's peak, or 'off'")
    backtrack_ms: float | None = _setting("backtrack_ms", "how far before the onset peak the attack may start",
                                          ge=0.0, le=500.0)
    pre_roll_ms: float | None = _setting("pre_roll_ms", "audio kept before each onset", ge=0.0, le=200.0)
    tail_db: float | None = _setting("tail_db", "trim the tail where it stays this far below the hit's peak",
                                     ge=-120.0, le=0.0)
    min_length_ms: float | None = _setting("min_length_ms", "shortest one-shot, room permitting",
                                           ge=0.0, le=10_000.0)
    max_length_ms: float | None = _setting("max_length_ms", "longest one-shot", gt=0.0, le=60_000.0)
    fade_out_ms: float | None = _setting("fade_out_ms", "fade at the cut end", ge=0.0, le=1000.0)
    normalize: Literal["peak", "loudness", "off"] | None = _setting(
        "normalize", "per one-shot: to peak_dbfs, to loudness_lufs, or not")
    peak_dbfs: float | None = _setting("peak_dbfs", "peak target, and the ceiling of loudness normalisation",
                                       ge=-120.0, le=0.0)
    loudness_lufs: float | None = _setting("loudness_lufs", "loudness target (K-weighted, whole one-shot)",
                                           ge=-70.0, le=0.0)
    dedupe: float | Literal["off"] | None = _setting(
        "dedupe", "near-duplicate similarity (cosine of spectral fingerprints, 0..1), or 'off'")
    dedupe_velocity: int | None = _setting("dedupe_velocity", "hits further apart in velocity are never duplicates",
                                           ge=0, le=127)

    @field_validator("gate_db", mode="before")
    @classmethod
    def _gate_db(cls, v: Any) -> Any:
        return _number_or_off(v, -120.0, 0.0,
                              "gate_db is dB below the stem's peak, between -120 and 0 (e.g. -30), or 'off'")

    @field_validator("dedupe", mode="before")
    @classmethod
    def _dedupe(cls, v: Any) -> Any:
        return _number_or_off(v, 0.0, 1.0, "dedupe is a cosine similarity between 0 and 1 (e.g. 0.96), or 'off'")


def _number_or_off(v: Any, lo: float, hi: float, message: str) -> Any:
    """One clear error for 'a number in range, or off' (instead of one per union member)."""
    if v is None or v == "off":
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise ValueError(message)
    return float(v)


class StemTuning(Tuning):
    key: int | None = Field(None, ge=0, le=127, description="MIDI key of this stem in the kits (toms: all on this key)")
    skip: bool = Field(False, description="leave this stem out of the pack")


class _Where(Params):
    pack: str = Field("{track}", description="pack name, used in file names and as the kit name: {track}, {node}")
    path: str = Field("{pack}", description="pack folder under --out: {track}, {node}, {pack}")


class SliceParams(Tuning, _Where):  # fields in order: pack, path, the settings, then these
    per_stem: dict[str, StemTuning] = Field(
        default_factory=dict, description="stem -> settings for that stem only (any setting above, plus key, skip)")
    tom_keys: Literal["auto", "spread", "single"] = Field(
        "auto", description="toms on 45/47/50 by pitch: auto (if clearly different), spread (always), single (47)")
    kit_max_samples: int = Field(16, ge=1, le=16, description="one-shots per kit instrument (Hydrogen holds 16 layers)")
    round_robin_velocity: int = Field(
        12, ge=0, le=127, description="hits this close in velocity share a velocity layer, as round robin")
    bit_depth: Literal[16, 24, 32] = Field(24, description="16 or 24 bit PCM, 32 = float")


def resolve(stem: str, params: SliceParams) -> tuple[OnsetSettings, SliceSettings]:
    """The settings for ``stem``: its defaults, then top-level params, then ``per_stem``."""
    values: dict[str, Any] = {}
    for layer in (params, params.per_stem.get(stem)):
        if layer is None:
            continue
        for name in ONSET_FIELDS + SLICE_FIELDS:
            v = getattr(layer, name)
            if v is not None:
                values[name] = None if (name in OFF_MEANS_NONE and v == "off") else v
    onset = replace(ONSET_DEFAULTS.get(stem, OnsetSettings()), **{k: v for k, v in values.items() if k in ONSET_FIELDS})
    cut = replace(SLICE_DEFAULTS.get(stem, SliceSettings()), **{k: v for k, v in values.items() if k in SLICE_FIELDS})
    return onset, cut


def kit_keys(params: SliceParams) -> dict[str, int]:
    return {s: t.key for s, t in params.per_stem.items() if t.key is not None}


def pack_folder(params: SliceParams, track: str, node: str) -> tuple[str, str]:
    """(pack name, folder relative to --out) for a track."""
    name = slug(render(params.pack, track=track, node=node))
    return name, render(params.path, track=track, node=node, pack=name)


class Slice(NodeType):
    name = "slice"
    description = ("Cut stems into one-shots: a sample pack <pack>/<stem>/<pack>_<stem>_<NN>.wav with a manifest, "
                   "an SFZ and a Hydrogen kit.")
    version = "1"
    Params = SliceParams
    inputs = (Port("stems", STEMS, "a stem set, e.g. split.stems", required=False),)
    variadic = AUDIO
    """Single stems as audio, each input named after its stem (``in: {kick: kick_fx}``)."""
    outputs = ()
    sink = True

    def check(self, params: SliceParams, info: CheckInfo) -> Iterable[Issue]:
        if not info.input_names:
            yield Issue("slice has no input", hint="e.g. in: split.stems, or in: {kick: split.kick}")
        for name in info.input_names:
            if name == "stems" or name in STEM_NAMES:
                continue
            if len(info.input_names) == 1 and info.stem is not None:
                continue  # one audio input traced back to its stem
            yield Issue(f"input '{name}' is not named after a stem, so its kit key is unknown",
                        hint=f"name it: in: {{kick: {name}}}; stems are {one_of(STEM_NAMES)}")
        for stem in params.per_stem:
            if stem not in STEM_NAMES:
                yield Issue(f"per_stem names '{stem}', which is not a stem", ("per_stem", stem),
                            did_you_mean(stem, STEM_NAMES) or f"stems are {one_of(STEM_NAMES)}", key=True)
        for field_name, allowed, example in (("pack", ("track", "node"), "'{track}'"),
                                             ("path", ("track", "node", "pack"), "'{track}/{pack}'")):
            template = getattr(params, field_name)
            try:
                fields = template_fields(template)
            except ValueError as exc:
                yield Issue(str(exc), (field_name,), f"write braces only around {', '.join(allowed)}")
                continue
            unknown = [f for f in fields if f not in allowed]
            if unknown:
                yield Issue(f"unknown field {{{unknown[0]}}} in {field_name}", (field_name,),
                            did_you_mean(unknown[0], allowed) or f"use {', '.join('{' + a + '}' for a in allowed)}")
            elif field_name == "path" and escapes(render(template, track="t", node="n", pack="p")):
                yield Issue(f"path {template!r} escapes the output folder", (field_name,),
                            f"write a relative path without '..', e.g. {example}; choose the folder with --out")
        for stem in STEM_NAMES:
            try:
                resolve(stem, params)
            except ValueError as exc:
                at = ("per_stem", stem) if stem in params.per_stem else ()
                yield Issue(f"{stem}: {exc}", at, "make min_length_ms at most max_length_ms"
                            if "max_length_ms" in str(exc) else None)
        owner: dict[int, str] = {}
        keys = kit_keys(params)
        for stem in STEM_NAMES:
            if stem in keys:
                used = [keys[stem]]
            elif stem == "toms":
                used = [k for k, _ in TOM_LAYOUTS[1 if params.tom_keys == "single" else 3]]
            else:
                used = [GM_KEYS[stem][0]]
            for k in used:
                if k in owner and owner[k] != stem:
                    at = ("per_stem", stem, "key") if stem in keys else ("per_stem", owner[k], "key")
                    yield Issue(f"MIDI key {k} is used by both {owner[k]} and {stem}", at,
                                "give each stem its own key")
                owner.setdefault(k, stem)

    def planned_outputs(self, params: SliceParams, track: str, out_dir: Path, node_id: str, stem: str | None,
                        input_type: PortType | None) -> list[Path]:
        name, rel = pack_folder(params, track, node_id)
        folder = out_dir / rel
        return [folder / f"{name}.sfz", folder / "drumkit.xml", folder / "manifest.csv", folder / "manifest.json"]

    def run(self, inputs: dict[str, Any], params: SliceParams, ctx: RunContext) -> dict[str, Any]:
        stems: dict[str, Audio] = {}
        given = inputs.get("stems")
        if isinstance(given, StemSet):
            stems.update(given.items())
        for name, value in inputs.items():
            if name != "stems":
                stems[name if name in STEM_NAMES else (ctx.stem or name)] = value
        order = [s for s in STEM_NAMES if s in stems] + [s for s in stems if s not in STEM_NAMES]

        name, rel = pack_folder(params, ctx.track, ctx.node_id)
        folder = ctx.out_dir / rel
        if not is_inside(folder, ctx.out_dir):
            raise ValueError(f"{folder} is outside the output folder {ctx.out_dir}; refusing to write")
        sliced, notes, settings = [], [], {}
        for i, stem in enumerate(order):
            tuning = params.per_stem.get(stem)
            if tuning is not None and tuning.skip:
                notes.append(f"{stem}: skipped (per_stem.{stem}.skip)")
                continue
            onset, cut = resolve(stem, params)
            settings[stem] = {"onsets": asdict(onset), "slicing": asdict(cut)}
            audio = stems[stem]
            result = slice_stem(audio.samples, audio.sample_rate, stem, onset, cut)
            if not result.hits:
                for note in result.notes:
                    ctx.warn(note)
            sliced.append(result)
            if ctx.progress:
                ctx.progress(i + 1, len(order))
        pack = write_pack(folder, name, sliced, source=ctx.track, bit_depth=params.bit_depth, seed=ctx.seed,
                          tom_keys=params.tom_keys, keys=kit_keys(params), kit_max_samples=params.kit_max_samples,
                          round_robin_velocity=params.round_robin_velocity,
                          protected={os.path.realpath(p) for p in ctx.protected}, settings=settings, notes=notes)
        if not any(s.hits for s in sliced):
            ctx.warn(f"pack '{name}' is empty: no stem had a usable hit (see {rel}/manifest.json)")
        ctx.written.extend(pack.files)
        return {}
