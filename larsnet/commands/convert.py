"""``larsnet convert OFFICIAL_DIR OUT.pt``: the authors' five checkpoints -> one model file of ours.

A thin layer over :func:`larsnet.checkpoint.convert_official`, which loads every U-Net
strictly (so a wrong key or shape is reported before anything is written) and saves
atomically.
"""
from __future__ import annotations

from pathlib import Path

import click


@click.command("convert")
@click.argument("official_dir", type=click.Path(path_type=Path))
@click.argument("out_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--half", is_flag=True, help="Store weights as float16 (half the file size).")
def command(official_dir: Path, out_path: Path, half: bool) -> None:
    """Convert an official LarsNet checkpoint folder (pretrained_larsnet_models/) to OUT.pt."""
    from larsnet.checkpoint import convert_official  # torch is imported only when needed

    written = convert_official(official_dir, out_path, half=half)
    click.echo(f"wrote {written}")
