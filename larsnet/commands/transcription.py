"""``larsnet evaluate-transcription``: onset F-measure of drum transcription on known MIDI.

Renders fixed clips of GMD performances through kits (:class:`FixedEvalSet`, the
held-out kits by default), transcribes either the true stems (``--source stems``: the
ceiling of the onset detector alone) or the stems a model separates from the mixture
(``--source model``: the full pipeline), and scores the notes against the MIDI.
Only maps flags onto :mod:`larsnet.transcription.evaluation`; options are checked
before the model loads.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click
from tqdm import tqdm

from larsnet.commands.evaluate import DEVICES, parse_kits
from larsnet.commands.help_texts import describe_spatial, spatial_options
from larsnet.errors import OptionError
from larsnet.spatial_options import resolve_spatial
from larsnet.stems import HELD_OUT_KITS, STEMS

PREROLL_S = 1.0
"""Each clip is transcribed with this much of the performance before it (dropped after),
so a hit ringing into the clip is not an onset at its first sample."""


@click.command("evaluate-transcription")
@click.option("--source", type=click.Choice(["stems", "model"]), default="stems", show_default=True,
              help="stems: transcribe the true stems (the onset detector alone, with the settings for recorded "
                   "stems); model: the stems a model separates from the mixture (the full pipeline, with the "
                   "settings for separated stems).")
@click.option("--model", "model_spec", default="default", show_default=True, metavar="SPEC",
              help="With --source model: 'default', a .pt model file or an official checkpoint folder.")
@click.option("--split", type=click.Choice(["test", "validation"]), default="test", show_default=True,
              help="GMD split of the performances (tune on validation, report on test).")
@click.option("--all-sessions", is_flag=True,
              help="With --split test: every test performance, not only the 40 eval-session ones.")
@click.option("--kits", "kit_values", multiple=True, metavar="held-out|NAME[,NAME...]",
              help=f"Kits to render the clips with: held-out ({', '.join(HELD_OUT_KITS)}) or names; repeatable. "
                   "[default: held-out]")
@click.option("--kit-assignment", type=click.Choice(["all", "cycle"]), default="all", show_default=True,
              help="all: every performance with every kit; cycle: one kit per performance in turn.")
@click.option("--clips", type=click.IntRange(min=1), default=None, help="Score at most N clips. [default: all]")
@click.option("--clip-seconds", type=click.FloatRange(min=0.0, min_open=True), default=10.0, show_default=True,
              help="Clip length in seconds.")
@click.option("--window-ms", type=click.FloatRange(min=0.0, min_open=True), default=50.0, show_default=True,
              help="An estimated onset within this many ms of a reference onset is a hit.")
@click.option("--merge-ms", type=click.FloatRange(min=0.0), default=30.0, show_default=True,
              help="Reference hits of one stem closer than this count as one onset (0: never).")
@click.option("-w", "--wiener", type=float, default=None, metavar="ALPHA",
              help="With --source model: the alpha-Wiener filter exponent.")
@spatial_options("With --source model: ")
@click.option("--bleed-db", "bleed_spec", default="auto", show_default=True,
              metavar="auto|off|DB|STEM[.OTHER]=DB[,...]",
              help="Bleed gate between stems: auto = the separated-stem gates with --source model, 16 dB "
                   "(recorded stems) with --source stems; a number for every pair; STEM=DB (all of a stem's "
                   "pairs) and STEM.OTHER=DB (one pair, e.g. cymbals.hihat=-15) over the separated-stem "
                   "gates; off.")
@click.option("--gmd", "gmd_root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Groove MIDI Dataset folder holding info.csv [default: $LARSNET_GMD or ../shared/data/groove-midi].")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("evaluation"), show_default=True,
              help="Folder for transcription.md, .csv, .json and transcription_scores.csv.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the clip positions.")
@click.option("-d", "--device", type=click.Choice(DEVICES), default="cpu", show_default=True, help="Torch device.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no table on stdout.")
def command(
    source: str,
    model_spec: str,
    split: str,
    all_sessions: bool,
    kit_values: tuple[str, ...],
    kit_assignment: str,
    clips: int | None,
    clip_seconds: float,
    window_ms: float,
    merge_ms: float,
    wiener: float | None,
    spatial_iterations: int | None,
    spatial_max_hz: float | None,
    bleed_spec: str,
    gmd_root: Path | None,
    out_dir: Path,
    seed: int,
    device: str,
    quiet: bool,
) -> None:
    """Score drum transcription: onset F-measure, precision and recall per stem.

    An estimated onset counts when it lies within --window-ms of a reference onset of
    the same stem (each matched once); counts are summed over clips, per kit.
    """
    from larsnet.separator import check_alpha

    check_alpha(wiener)
    if source == "stems" and (wiener is not None or spatial_iterations is not None or spatial_max_hz is not None
                              or model_spec != "default"):
        raise OptionError("--model, --wiener and --spatial-* apply to --source model; the true stems need no model")
    rounds, top_hz = resolve_spatial(spatial_iterations, spatial_max_hz)
    bleed_db = parse_bleed(bleed_spec, source)
    kits = parse_kits(kit_values)
    if kits == "seen":
        raise OptionError("--kits seen is not available here; name the kits, or use held-out")
    names = list(HELD_OUT_KITS) if kits == "held-out" else list(kits)

    from larsnet.data.dataset import FixedEvalSet
    from larsnet.data.gmd import default_gmd_root
    from larsnet.transcription import TranscriptionSettings, transcribe
    from larsnet.transcription.bleed import bleed_gates, describe_gates
    from larsnet.transcription.evaluation import (
        evaluate_transcription, transcription_examples, separator_transcriber, stems_transcriber,
        write_transcription_report)

    def warn(message: str) -> None:
        if not quiet:
            click.echo(f"warning: skipped {message}", err=True)

    eval_sessions = split == "test" and not all_sessions
    eval_set = FixedEvalSet.from_gmd(gmd_root or default_gmd_root(), split=split, kits=names,
                                     eval_session_only=eval_sessions, on_error=warn, clip_s=clip_seconds,
                                     seed=seed, kit_assignment=kit_assignment, max_clips=clips)
    gate = dataclasses.replace(TranscriptionSettings.for_source("separated" if source == "model" else "recorded"),
                               bleed_db=bleed_db)
    settings: dict[str, object] = {"source": "true stems (onset detector alone)" if source == "stems" else
                                   f"stems separated by model {model_spec}"}
    if source == "model":
        from larsnet.api import load_model

        separator = load_model(model_spec, device=device)
        transcriber = separator_transcriber(separator, transcribe, wiener=wiener, spatial_iterations=rounds,
                                            spatial_max_hz=top_hz, settings=gate)
        settings["wiener"] = "off" if wiener is None else f"alpha {wiener:g}"
        settings["spatial wiener"] = describe_spatial(rounds, top_hz)
    else:
        transcriber = stems_transcriber(transcribe, settings=gate)
    settings["onset settings"] = "for separated stems" if source == "model" else "for recorded stems"
    settings["bleed gate"] = describe_gates(bleed_gates(bleed_db))
    settings.update({
        "clips from": f"GMD {split} split" + (", eval sessions" if eval_sessions else ""),
        "kits": ", ".join(names) + f" (assignment: {kit_assignment})",
        "clips": len(eval_set), "clip seconds": clip_seconds, "seed": seed,
    })
    bar = None if quiet else tqdm(total=len(eval_set), unit="clip", desc="transcribing", file=sys.stderr)

    def progress(done: int, _total: int | None) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    try:
        evaluation = evaluate_transcription(
            transcription_examples(eval_set, preroll_s=PREROLL_S), transcriber, window_s=window_ms / 1000.0,
            merge_s=merge_ms / 1000.0, progress=progress, total=len(eval_set), settings=settings)
    finally:
        if bar is not None:
            bar.close()
    paths = write_transcription_report(evaluation, out_dir)
    if not quiet:
        click.echo(evaluation.table_markdown())
        click.echo(f"wrote {', '.join(str(p) for p in paths.values())}", err=True)


def parse_bleed(spec: str, source: str) -> "float | dict[str, float | dict[str, float]] | None":
    """``--bleed-db``: auto, off, one number, or STEM=DB and STEM.OTHER=DB pairs (over the
    separated-stem gates)."""
    from larsnet.transcription.bleed import RECORDED_BLEED_DB, bleed_gates, default_bleed_db

    text = spec.strip().lower()
    if text == "auto":
        return default_bleed_db() if source == "model" else RECORDED_BLEED_DB
    if text == "off":
        return None
    value: float | dict[str, float | dict[str, float]]
    try:
        if "=" not in text:
            value = float(text)
        else:
            value = {}
            for item in (i for i in text.split(",") if i.strip()):
                key, db = (part.strip() for part in item.split("=", 1))
                stem, _, other = key.partition(".")
                if other:  # one pair; after STEM=DB, over that stem's number
                    pairs = value.get(stem, {})
                    if not isinstance(pairs, dict):
                        pairs = {o: pairs for o in STEMS if o != stem}
                    value[stem] = {**pairs, other: float(db)}
                else:
                    value[stem] = float(db)
    except ValueError:
        raise OptionError(f"--bleed-db {spec!r}: give auto, off, a number of dB, or STEM=DB and STEM.OTHER=DB "
                          "pairs like toms=0,cymbals.hihat=-15") from None
    bleed_gates(value)  # unknown stems and non-finite values get their message here
    return value
