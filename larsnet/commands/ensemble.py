"""``larsnet ensemble OUT.pt MODEL...``: one model file that separates with the mean of its members' masks."""
from __future__ import annotations

from pathlib import Path

import click


@click.command("ensemble")
@click.argument("out_path", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("models", nargs=-1, required=True)
@click.option("--half/--full", default=True, show_default=True, help="Store float16 weights (half the size).")
def command(out_path: Path, models: tuple[str, ...], half: bool) -> None:
    """Combine band models (MODEL: 'default', a model file or a training state) into
    OUT.pt, which separates with the mean of their masks. Unlike `larsnet average`,
    the members may come from different runs and depths; it costs one network pass each."""
    from larsnet.band_ensemble import ensemble_of
    from larsnet.checkpoint import resolve_model, save_model
    from larsnet.errors import OptionError
    from larsnet.evaluation.sources import union_of_training_kits
    from larsnet.train.averaging import load_any

    loaded = [resolve_model(spec) if spec == "default" else load_any(spec) for spec in models]
    try:
        model = ensemble_of(loaded)
    except ValueError as exc:
        raise OptionError(f"cannot ensemble {', '.join(models)}: {exc}") from None
    licenses = sorted({getattr(m, "license", "unknown") for m in loaded})
    provenance: dict = {"ensemble_of": [{"source": spec, **getattr(m, "provenance", {})} for spec, m in zip(models, loaded)]}
    kits = union_of_training_kits([getattr(m, "provenance", None) for m in loaded])
    if kits is not None:
        provenance["train_kits"] = kits
    written = save_model(model, out_path, license=" AND ".join(licenses), provenance=provenance, half=half)
    click.echo(f"wrote {written}: {len(model.members)} band models, separating with the mean of their masks")
