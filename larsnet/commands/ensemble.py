"""``larsnet ensemble OUT.pt MODEL...``: one model file that separates with the mean of its members' masks."""
from __future__ import annotations

from pathlib import Path

import click


def _training_kits(models: list) -> list[str] | None:
    """Every kit any member trained on, so `larsnet evaluate --kits seen` scores the
    ensemble on them; None when a member's provenance lists none (the evaluation then
    falls back to every installed kit that is not held out)."""
    from larsnet.evaluation.sources import KitStatus

    kits: list[str] = []
    for model in models:
        status = KitStatus.from_provenance(getattr(model, "provenance", None))
        if status.train_kits is None:
            return None
        kits += [k for k in status.train_kits if k not in kits]
    return kits


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
    from larsnet.train.averaging import load_any

    loaded = [resolve_model(spec) if spec == "default" else load_any(spec) for spec in models]
    try:
        model = ensemble_of(loaded)
    except ValueError as exc:
        raise OptionError(f"cannot ensemble {', '.join(models)}: {exc}") from None
    licenses = sorted({getattr(m, "license", "unknown") for m in loaded})
    provenance: dict = {"ensemble_of": [{"source": spec, **getattr(m, "provenance", {})} for spec, m in zip(models, loaded)]}
    kits = _training_kits(loaded)
    if kits is not None:
        provenance["train_kits"] = kits
    written = save_model(model, out_path, license=" AND ".join(licenses), provenance=provenance, half=half)
    click.echo(f"wrote {written}: {len(model.members)} band models, separating with the mean of their masks")
