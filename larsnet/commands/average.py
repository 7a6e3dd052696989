"""``larsnet average OUT.pt CHECKPOINT...``: one model from the mean of a run's checkpoints."""
from __future__ import annotations

from pathlib import Path

import click


@click.command("average")
@click.argument("out_path", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--half/--full", default=True, show_default=True, help="Store float16 weights (half the size).")
def command(out_path: Path, sources: tuple[Path, ...], half: bool) -> None:
    """Average the weights of SOURCES (model files, or training states such as
    runs/x/snapshots/*.pt from `larsnet train --snapshot-every`) into OUT.pt."""
    from larsnet.checkpoint import save_model
    from larsnet.evaluation.sources import union_of_training_kits
    from larsnet.train.averaging import average_models, load_any

    models = [load_any(path) for path in sources]
    model = average_models(models, [str(p) for p in sources])
    steps = [m.provenance.get("steps") for m in models]
    # each member's own record (runs may differ in data and augmentation), not the first one's
    provenance: dict = {"averaged_from": [{"source": str(p), **m.provenance} for p, m in zip(sources, models)],
                        "averaged_steps": steps}
    kits = union_of_training_kits([m.provenance for m in models])
    if kits is not None:
        provenance["train_kits"] = kits
    written = save_model(model, out_path, license=model.license, provenance=provenance, half=half)
    click.echo(f"wrote {written}: the mean of {len(models)} checkpoints")
