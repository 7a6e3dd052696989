"""``larsnet separate``: the original ``separate.py -i DIR [-o DIR] [-w ALPHA] [-d DEVICE]``, extended.

Only maps flags onto :mod:`larsnet.batch` and draws progress; every check and every
file operation lives in the library. Options are validated before the model loads, so
a typo fails in milliseconds, not after loading 50 MB of weights.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from larsnet.batch import LAYOUTS, MODES, BatchReporter, Failure, Job, SeparateOptions, run_batch
from larsnet.commands.help_texts import spatial_options
from larsnet.spatial_options import resolve_spatial

DEVICES = ("cpu", "cuda", "mps", "auto")


class TqdmReporter(BatchReporter):
    """A bar over files and, below it, one over the current file's chunks (stderr)."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self._files: tqdm | None = None
        self._chunks: tqdm | None = None

    def batch_started(self, jobs: int) -> None:
        if not self.quiet and jobs:
            self._files = tqdm(total=jobs, unit="file", desc="files", position=0, file=sys.stderr)

    def file_started(self, job: Job, duration_s: float) -> None:
        if self.quiet:
            return
        self._chunks = tqdm(
            total=None, unit="chunk", desc=job.input.relative.as_posix(), position=1, leave=False, file=sys.stderr
        )

    def file_progress(self, done: int, total: int | None) -> None:
        if self._chunks is not None:
            if total is not None and self._chunks.total != total:
                self._chunks.total = total
            self._chunks.n = done
            self._chunks.refresh()

    def file_finished(self, job: Job, failure: Failure | None) -> None:
        if self._chunks is not None:
            self._chunks.close()
            self._chunks = None
        if self._files is not None:
            self._files.update(1)

    def error(self, failure: Failure) -> None:
        tqdm.write(f"error: {failure.message}", file=sys.stderr)

    def close(self) -> None:
        if self._files is not None:
            self._files.close()
            self._files = None


@click.command("separate")
@click.argument("inputs", nargs=-1, metavar="[INPUT]...")
@click.option(
    "-i", "--input", "input_opts", multiple=True, metavar="PATH",
    help="Audio file, folder (searched recursively) or glob; repeatable, also positional.",
)
@click.option(
    "-o", "--output", "out_dir", default="separated_stems", show_default=True,
    type=click.Path(file_okay=False, path_type=Path), help="Output folder.",
)
@click.option(
    "-w", "--wiener", type=float, default=None, metavar="ALPHA",
    help="Apply the alpha-Wiener filter with exponent ALPHA > 0 (stems then sum to the mix).",
)
@spatial_options()
@click.option(
    "-d", "--device", type=click.Choice(DEVICES), default="cpu", show_default=True,
    help="Torch device; auto picks cuda, then mps, then cpu.",
)
@click.option(
    "--model", "model_spec", default="default", show_default=True, metavar="SPEC",
    help="'default', a .pt model file of ours, or an official checkpoint folder.",
)
@click.option(
    "--layout", type=click.Choice(LAYOUTS), default="stem", show_default=True,
    help="stem: OUT/<stem>/<subdir>/<track>.wav (as the original); track: OUT/<subdir>/<track>/<stem>.wav.",
)
@click.option(
    "--name-template", default=None, metavar="TEMPLATE",
    help="Output path under OUT, e.g. '{reldir}/{track}/{stem}.{ext}'; overrides --layout.",
)
@click.option(
    "--bit-depth", type=click.Choice(["16", "24", "32"]), default="16", show_default=True,
    help="Output sample format; 32 is float.",
)
@click.option("--no-dither", is_flag=True, help="No TPDF dither when writing 16-bit files.")
@click.option("--keep-rate", is_flag=True, help="Write stems at the input's sample rate instead of 44.1 kHz.")
@click.option("--downmix", is_flag=True, help="Mix files with more than two channels down to stereo.")
@click.option(
    "--mode", type=click.Choice(MODES), default="overlap", show_default=True,
    help="overlap: cross-faded chunks, bounded memory; official: the authors' 512-frame grid, whole file in memory.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or summary; errors are still shown.")
@click.pass_context
def command(
    ctx: click.Context,
    inputs: tuple[str, ...],
    input_opts: tuple[str, ...],
    out_dir: Path,
    wiener: float | None,
    spatial_iterations: int | None,
    spatial_max_hz: float | None,
    device: str,
    model_spec: str,
    layout: str,
    name_template: str | None,
    bit_depth: str,
    no_dither: bool,
    keep_rate: bool,
    downmix: bool,
    mode: str,
    quiet: bool,
) -> None:
    """Separate drum recordings into kick, snare, toms, hihat and cymbals stems.

    Inputs may be files, folders or globs (quote them to let larsnet expand them):
    wav, flac, ogg, mp3, aiff; any rate; mono or stereo. A bad file is reported and
    skipped; the exit code is 1 if any input failed.
    """
    specs = [*input_opts, *inputs]
    if not specs:
        raise click.UsageError("give at least one input: larsnet separate -i FOLDER (or FILE or 'GLOB')")
    rounds, top_hz = resolve_spatial(spatial_iterations, spatial_max_hz, mode)
    options = SeparateOptions(
        out_dir=out_dir,
        layout=layout,
        name_template=name_template,
        wiener=wiener,
        spatial_iterations=rounds,
        spatial_max_hz=top_hz,
        mode=mode,
        bit_depth=int(bit_depth),
        dither=not no_dither,
        keep_rate=keep_rate,
        downmix=downmix,
    )
    from larsnet.api import load_model  # torch is imported only when a command needs it
    from larsnet.separator import resolve_device

    resolve_device(device)  # an unavailable device fails before the weights are read
    separator = load_model(model_spec, device=device)
    reporter = TqdmReporter(quiet=quiet)
    try:
        result = run_batch(specs, separator, options, reporter)
    finally:
        reporter.close()
    if result.failures or not quiet:
        lines = result.summary()
        if not result.failures:
            lines[0] += f" into {out_dir}"
        click.echo("\n".join(lines), err=True)
    ctx.exit(result.exit_code)
