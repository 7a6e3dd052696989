"""Weight averaging of checkpoints from one run (stochastic weight averaging, SWA).

At the learning rates that make progress on this CPU, consecutive checkpoints of a
run scatter around a good solution: validation nSDR swings by a dB or more between
checkpoints 200 steps apart, and the toms stem flips between learned and silent.
The mean of the weights of several late checkpoints lies nearer the centre of that
scatter and separates better than any one of them (Izmailov et al., "Averaging
Weights Leads to Wider Optima and Better Generalization", UAI 2018). BatchNorm
running statistics are averaged like the weights; integer counters keep the first
checkpoint's value.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from larsnet.checkpoint import load_model_file
from larsnet.errors import CheckpointError
from larsnet.model import SeparationModel, build_model
from larsnet.train.trainer import TRAIN_STATE_FORMAT, model_from_train_state


def load_any(path: str | Path) -> SeparationModel:
    """A model file of ours, or the model inside a training state (``last.pt``, snapshots)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such checkpoint; pass model files (.pt) or training states (last.pt)")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(payload, dict) and payload.get("format") == TRAIN_STATE_FORMAT:
        model = model_from_train_state(payload)
        model.license = payload.get("config", {}).get("license", "unknown")
        model.provenance = {**payload.get("provenance", {}), "steps": payload.get("step")}
        return model.eval()
    return load_model_file(path)


def average_models(models: Sequence[SeparationModel], names: Sequence[str] | None = None) -> SeparationModel:
    """A new model whose floating-point weights and buffers are the mean of ``models``'."""
    if not models:
        raise ValueError("nothing to average")
    names = list(names) if names is not None else [str(i) for i in range(len(models))]
    first = models[0]
    for model, name in zip(models[1:], names[1:]):
        if model.config != first.config:
            raise CheckpointError(Path(name), f"has another architecture or config than {names[0]}; "
                                  "average only checkpoints of one run")
    states = [m.state_dict() for m in models]
    averaged = {}
    for key, value in states[0].items():
        if value.is_floating_point():
            averaged[key] = torch.stack([s[key].float() for s in states]).mean(0).to(value.dtype)
        else:
            averaged[key] = value.clone()
    result = build_model(first.config)
    result.load_state_dict(averaged)
    result.license = getattr(first, "license", "unknown")
    result.provenance = dict(getattr(first, "provenance", {}))
    return result.eval()
