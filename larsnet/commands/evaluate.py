"""``larsnet evaluate``: the paper's protocol on fixed clips, with baseline and oracle.

Only maps flags onto :mod:`larsnet.evaluation` (clip sources, protocol, report) and
draws progress. Options are checked before the model loads.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click
from tqdm import tqdm

from larsnet.commands.help_texts import describe_spatial, spatial_options
from larsnet.errors import OptionError
from larsnet.spatial_options import resolve_spatial
from larsnet.stems import HELD_OUT_KITS

if TYPE_CHECKING:  # the evaluation stack imports torch: only when the command runs
    from larsnet.evaluation.protocol import EvalExample
    from larsnet.evaluation.sources import KitStatus

DEVICES = ("cpu", "cuda", "mps", "auto")
KIT_CHOICES = ("held-out", "seen")


def parse_kits(values: tuple[str, ...]) -> str | list[str]:
    """``held-out`` / ``seen`` / kit names (repeatable, comma-separated) -> choice or names."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    if not names:
        return "held-out"
    special = [n for n in names if n in KIT_CHOICES]
    if special and len(names) > 1:
        raise OptionError(f"--kits {special[0]} cannot be combined with other kits; give one of held-out, seen or names")
    return special[0] if special else names


@click.command("evaluate")
@click.option("--model", "model_spec", default="default", show_default=True, metavar="SPEC",
              help="'default', a .pt model file of ours, an official checkpoint folder, "
                   "or 'none' (baseline and oracle only).")
@click.option("--split", type=click.Choice(["test", "validation"]), default="test", show_default=True,
              help="GMD split of the performances.")
@click.option("--all-sessions", is_flag=True,
              help="With --split test: every test performance, not only the 40 eval-session ones of the paper.")
@click.option("--kits", "kit_values", multiple=True, metavar="held-out|seen|NAME[,NAME...]",
              help=f"Kits to render the clips with: held-out ({', '.join(HELD_OUT_KITS)}), seen (the training "
                   "kits), or names; repeatable. [default: held-out]")
@click.option("--kit-assignment", type=click.Choice(["all", "cycle"]), default="all", show_default=True,
              help="all: every performance with every kit (paired per-kit comparison); cycle: one kit per "
                   "performance in turn (keeps --kits seen to one clip per performance).")
@click.option("--clips", type=click.IntRange(min=1), default=None, help="Score at most N clips. [default: all]")
@click.option("--clip-seconds", type=click.FloatRange(min=0.0, min_open=True), default=10.0, show_default=True,
              help="Clip length in seconds (one clip per performance and kit).")
@click.option("-w", "--wiener", type=float, default=None, metavar="ALPHA",
              help="Apply the alpha-Wiener filter with exponent ALPHA > 0 to the model's estimates.")
@spatial_options()
@click.option("--gmd", "gmd_root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Groove MIDI Dataset folder holding info.csv [default: $LARSNET_GMD or ../shared/data/groove-midi].")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Evaluate on a StemGMD-style folder (StemGMD, or `larsnet synth` output) instead of rendering GMD.")
@click.option("--pattern", default=None, metavar="PATTERN",
              help="With --folder: layout of the stem files, e.g. '{performance}/{kit}/{piece}.{ext}'.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("evaluation"),
              show_default=True, help="Folder for results.md, results.csv, results.json and scores.csv.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the clip positions.")
@click.option("--threshold-db", type=float, default=-60.0, show_default=True,
              help="A stem counts in the averages of a clip when its RMS exceeds this (dBFS).")
@click.option("-d", "--device", type=click.Choice(DEVICES), default="cpu", show_default=True, help="Torch device.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no table on stdout.")
def command(
    model_spec: str,
    split: str,
    all_sessions: bool,
    kit_values: tuple[str, ...],
    kit_assignment: str,
    clips: int | None,
    clip_seconds: float,
    wiener: float | None,
    spatial_iterations: int | None,
    spatial_max_hz: float | None,
    gmd_root: Path | None,
    folder: Path | None,
    pattern: str | None,
    out_dir: Path,
    seed: int,
    threshold_db: float,
    device: str,
    quiet: bool,
) -> None:
    """Score a model with the LarsNet paper's protocol (nSDR per clip and stem).

    Each stem is averaged over the clips where it is present, per kit and for seen
    vs unseen kits, beside the mixture-as-estimate baseline, the oracle ideal ratio
    mask and silence, plus the fraction of the way from baseline to oracle.
    """
    from larsnet.separator import check_alpha

    check_alpha(wiener)
    rounds, top_hz = resolve_spatial(spatial_iterations, spatial_max_hz)
    kits = parse_kits(kit_values)
    if folder is None and pattern is not None:
        raise OptionError("--pattern describes a --folder layout; give --folder too")

    from larsnet.evaluation import Report, evaluate, separator_estimator, write_report
    from larsnet.evaluation.sources import KitStatus

    separator = None
    status = KitStatus()

    def load() -> None:
        nonlocal separator, status
        from larsnet.api import load_model

        separator = load_model(model_spec, device=device)
        status = KitStatus.from_provenance(getattr(separator.model, "provenance", None))

    use_model = model_spec.lower() != "none"
    if use_model and kits == "seen":
        load()  # which kits were seen comes from the model's provenance
    # Choose the clips before loading the model (unless needed above): a bad kit,
    # split or folder fails before the weights are read.
    if folder is not None:
        source, examples_of, total = _folder_source(folder, pattern, split, gmd_root, kits, status, clips,
                                                    clip_seconds, seed)
    else:
        source, examples_of, total = _gmd_source(gmd_root, split, all_sessions, kits, kit_assignment, status,
                                                 clips, clip_seconds, seed, quiet)
    if use_model and separator is None:
        load()
    settings: dict[str, object] = {"model": model_spec}
    if separator is not None:
        config = separator.model.config
        settings["architecture"] = f"{config.arch} {config.arch_params}"
    settings["wiener"] = "off" if wiener is None else f"alpha {wiener:g}"
    settings["spatial wiener"] = describe_spatial(rounds, top_hz)
    settings.update(source)
    settings.update({"clip seconds": clip_seconds, "seed": seed, "seen kits": status.describe()})
    examples = examples_of(status)

    bar = None if quiet else tqdm(total=total, unit="clip", desc="evaluating", file=sys.stderr)

    def progress(done: int, _total: int | None) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    estimator = None if separator is None else separator_estimator(separator, wiener=wiener, spatial_iterations=rounds,
                                                                        spatial_max_hz=top_hz)
    try:
        evaluation = evaluate(examples, estimator, threshold_db=threshold_db, progress=progress,
                              total=total, settings=settings)
    finally:
        if bar is not None:
            bar.close()
    if not evaluation.clips:
        raise OptionError("no clips to evaluate; check --kits, --split and --clips")
    report = Report(evaluation)
    paths = write_report(report, out_dir)
    if not quiet:
        click.echo(report.table_markdown(report.groups[0]))
        click.echo(f"wrote {', '.join(str(p) for p in paths.values())}", err=True)


ExamplesOf = Callable[["KitStatus"], Iterator["EvalExample"]]
"""A chosen clip set's audio, read lazily once the kit status is known."""


def _folder_source(
    folder: Path,
    pattern: str | None,
    split: str,
    gmd_root: Path | None,
    kits: str | list[str],
    status: KitStatus,
    clips: int | None,
    clip_seconds: float,
    seed: int,
) -> tuple[dict[str, object], ExamplesOf, int]:
    """Clips from a StemGMD-style folder; the split filter applies only where splits are known."""
    from larsnet.data.stemgmd import DEFAULT_PATTERN
    from larsnet.evaluation.sources import folder_clips

    names = list(HELD_OUT_KITS) if kits == "held-out" else None if kits == "seen" else kits
    # a folder's split is known only from our metadata.csv or GMD's info.csv
    has_split = (folder / "metadata.csv").is_file() or gmd_root is not None
    chosen = folder_clips(
        folder,
        kits=names,
        only_seen=True if kits == "seen" else None,
        split=split if has_split else None,
        gmd_root=gmd_root,
        pattern=pattern or DEFAULT_PATTERN,
        clips=clips,
        clip_seconds=clip_seconds,
        seed=seed,
        kit_status=status,
    )
    source = {
        "clips from": f"folder {folder}",
        "split": split if has_split else "unknown (no metadata.csv or --gmd): every performance",
        "kits": kits if isinstance(kits, str) else ", ".join(kits),
    }
    return source, chosen.examples, len(chosen)


def _gmd_source(
    gmd_root: Path | None,
    split: str,
    all_sessions: bool,
    kits: str | list[str],
    kit_assignment: str,
    status: KitStatus,
    clips: int | None,
    clip_seconds: float,
    seed: int,
    quiet: bool,
) -> tuple[dict[str, object], ExamplesOf, int]:
    """Clips of GMD performances rendered through kits by :class:`FixedEvalSet` (no augmentation)."""
    from larsnet.data.dataset import FixedEvalSet
    from larsnet.data.gmd import default_gmd_root
    from larsnet.evaluation.sources import examples_from_fixed_set, seen_kit_names

    if kits == "held-out":
        names = list(HELD_OUT_KITS)
    elif kits == "seen":
        names = seen_kit_names(status)
    else:
        names = list(kits)
    eval_sessions = split == "test" and not all_sessions

    def warn(message: str) -> None:
        if not quiet:
            click.echo(f"warning: skipped {message}", err=True)

    eval_set = FixedEvalSet.from_gmd(
        gmd_root or default_gmd_root(),
        split=split,
        kits=names,
        eval_session_only=eval_sessions,
        on_error=warn,
        clip_s=clip_seconds,
        seed=seed,
        kit_assignment=kit_assignment,
        max_clips=clips,
    )
    source = {
        "clips from": f"GMD {split} split" + (", eval sessions (the paper's 40 performances)" if eval_sessions else ""),
        "kits": ", ".join(names) + f" (assignment: {kit_assignment})",
    }
    return source, lambda kit_status: examples_from_fixed_set(eval_set, kit_status=kit_status), len(eval_set)
