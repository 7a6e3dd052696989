"""``larsnet synth``: render a StemGMD-like dataset from drum MIDI and kits.

Only maps flags onto :func:`larsnet.data.synth.synthesize` and draws progress; the
library checks inputs, skips bad files and writes atomically.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from larsnet.data.gmd import GMD_ENV, SPLITS, default_gmd_root, read_gmd, records_from_midi_dir
from larsnet.data.synth import FORMATS, NAMINGS, synthesize
from larsnet.errors import OptionError


@click.command("synth")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--gmd", "gmd_root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"Groove MIDI Dataset folder holding info.csv [default: ${GMD_ENV} or ../shared/data/groove-midi].")
@click.option("--midi-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Render every .mid/.midi under this folder instead of GMD (no splits).")
@click.option("--split", type=click.Choice([*SPLITS, "all"]), default="all", show_default=True,
              help="GMD split to render.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Render only the first N performances.")
@click.option("--kits", "kit_names", multiple=True, metavar="NAME[,NAME...]",
              help="Kits to render with (names from `larsnet kits`); repeat or comma-separate. "
                   "[default: the acoustic training kits and the held-out kits]")
@click.option("--format", "audio_format", type=click.Choice(FORMATS), default="wav", show_default=True,
              help="16-bit WAV or FLAC.")
@click.option("--naming", type=click.Choice(NAMINGS), default="larsnet", show_default=True,
              help="Piece file names: larsnet's (floor_tom, crash) or StemGMD's (low_tom, crash_left).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option("--tail", "tail_s", type=click.FloatRange(min=0.0), default=2.0, show_default=True,
              help="Seconds kept after the performance ends, for ringing cymbals.")
@click.option("--gain-db", type=click.FloatRange(max=24.0), default=-6.0, show_default=True,
              help="Gain on every piece (headroom: nine pieces summed can clip).")
@click.option("--round-robin", type=click.Choice(["cycle", "random"]), default="cycle", show_default=True,
              help="Round-robin samples in turn per velocity layer, or drawn at random from --seed.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --round-robin random.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.pass_context
def command(
    ctx: click.Context,
    out_dir: Path,
    gmd_root: Path | None,
    midi_dir: Path | None,
    split: str,
    limit: int | None,
    kit_names: tuple[str, ...],
    audio_format: str,
    naming: str,
    jobs: int,
    tail_s: float,
    gain_db: float,
    round_robin: str,
    seed: int,
    quiet: bool,
) -> None:
    """Render drum MIDI through kits into nine piece stems + mixture per performance and kit.

    Output: OUT_DIR/<drummer>/<session>/<performance>/<kit>/<piece>.wav and mixture.wav
    (StemGMD's layout) plus OUT_DIR/metadata.csv. Reruns skip finished items; bad MIDI
    files or kits are reported, skipped, and make the exit code 1.
    """
    if midi_dir is not None and gmd_root is not None:
        raise OptionError("give either --gmd or --midi-dir, not both")
    if midi_dir is not None:
        if split != "all":
            raise OptionError("--split needs GMD's info.csv; a --midi-dir has no splits")
        records = records_from_midi_dir(midi_dir)
    else:
        records = read_gmd(gmd_root or default_gmd_root(), split=split)
    if limit is not None:
        records = records[:limit]
    kits = [name.strip() for value in kit_names for name in value.split(",") if name.strip()]
    if not kits:
        from larsnet.data import discovery

        entries = discovery.find_kits()
        kits = [e.name for e in discovery.training_kits(entries) + discovery.held_out_kits(entries)]
        if not kits:
            raise OptionError("no drum kits found; install them (scripts/install-kits.sh) or pass --kits")

    total = len(records) * len(kits)
    bar = tqdm(total=total, unit="item", desc="synth", file=sys.stderr, disable=quiet)

    def message(line: str) -> None:
        tqdm.write(line, file=sys.stderr)

    try:
        report = synthesize(
            records, kits, out_dir,
            audio_format=audio_format, naming=naming, jobs=jobs, tail_s=tail_s, gain_db=gain_db,
            round_robin=round_robin, seed=seed, progress=bar.update, on_message=message,
        )
    finally:
        bar.close()
    click.echo(report.summary())
    click.echo(f"metadata: {report.metadata_path}")
    if not report.ok:
        ctx.exit(1)
