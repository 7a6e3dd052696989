"""``separate``: LarsNet drum demixing into kick, snare, toms, hihat and cymbals."""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import Field

from drumflow.node import CheckInfo, Issue, NodeType, Params, Port, RunContext
from drumflow.ports import AUDIO, STEMS, Audio, StemSet
from larsnet.spatial_options import FULL_BAND_HZ, SPATIAL_ITERATIONS, SPATIAL_MAX_HZ, resolve_spatial, spatial_kwargs
from larsnet.stems import STEMS as STEM_NAMES


class SeparateParams(Params):
    model: str = Field("default", description="'default' (embedded model), a .pt model file or an official checkpoint folder")
    wiener: float | None = Field(None, gt=0.0, description="alpha-Wiener filter exponent (e.g. 1.0); null = masks only")
    spatial_iterations: int | None = Field(
        None, ge=0, description=f"rounds of the multichannel Wiener filter after the masks (0 = off; null = "
        f"{SPATIAL_ITERATIONS}, or 0 in the official mode): uses each stem's stereo image; lifts the kick, snare "
        "and toms most")
    spatial_max_hz: float = Field(
        SPATIAL_MAX_HZ, gt=0.0, description="the filter works below this frequency, the plain split above "
        f"({SPATIAL_MAX_HZ:g} Hz: about 1.1x the plain time; {FULL_BAND_HZ:g}: every bin, with 3 rounds about 2.5x, "
        "0.2 dB better)")
    device: str = Field("cpu", description="torch device: cpu, cuda, cuda:1, mps")
    mode: Literal["overlap", "official"] = Field(
        "overlap", description="overlap: crossfaded chunks (best); official: the reference implementation's chunking")


@lru_cache(maxsize=4)
def _separator(model: str, device: str) -> Any:
    """Models loaded once per process (workers each load their own)."""
    from larsnet.api import load_model

    return load_model(model, device=device)


@lru_cache(maxsize=32)
def _tree_sha256(path: str, stamp: tuple[Any, ...]) -> str:
    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(p) if p.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def _model_path(model: str) -> Path:
    if model == "default":
        from larsnet.checkpoint import DEFAULT_MODEL_PATH

        return Path(DEFAULT_MODEL_PATH)
    return Path(model)


def model_sha256(model: str) -> str:
    """Content hash of the model file or folder (memoised on size and mtime)."""
    p = _model_path(model)
    st = os.stat(p)
    return _tree_sha256(str(p), (st.st_size, st.st_mtime_ns))


class Separate(NodeType):
    name = "separate"
    description = "Separate a drum mix into five stems with LarsNet; one audio port per stem plus a stem set."
    version = "1"
    Params = SeparateParams
    inputs = (Port("in", AUDIO, "drum mix (any rate; resampled to 44.1 kHz)"),)
    outputs = tuple(Port(s, AUDIO, f"the {s} stem, 44.1 kHz stereo") for s in STEM_NAMES) + (
        Port("stems", STEMS, "all five stems as one stem set", warn_unused=False),
    )
    stem_outputs = True

    def prepare(self, params: dict[str, Any], base_dir: Path) -> dict[str, Any]:
        model = params.get("model")
        if isinstance(model, str) and model != "default":
            p = Path(model).expanduser()
            params = {**params, "model": str(p if p.is_absolute() else (base_dir / p).resolve())}
        return params

    def check(self, params: SeparateParams, info: CheckInfo) -> Iterable[Issue]:
        path = _model_path(params.model)
        if not path.exists():
            if params.model == "default":
                yield Issue("the embedded default model is missing from this install", ("model",),
                            f"reinstall drumflow, or pass a model: --set {info.node_id}.model=path/to/model.pt")
            else:
                yield Issue(f"model {params.model} does not exist", ("model",),
                            "give a .pt model file, an official checkpoint folder, or 'default'")
        if params.device != "cpu":
            import torch

            kind = params.device.split(":")[0]
            ok = (kind == "cuda" and torch.cuda.is_available()) or (
                kind == "mps" and getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available())
            if not ok:
                yield Issue(f"device '{params.device}' is not available here", ("device",), "use device: cpu")

    def fingerprint(self, params: SeparateParams) -> dict[str, Any]:
        return {"model_sha256": model_sha256(params.model)}

    def run(self, inputs: dict[str, Any], params: SeparateParams, ctx: RunContext) -> dict[str, Any]:
        from larsnet.audio import resample, to_stereo

        audio: Audio = inputs["in"]
        separator = _separator(params.model, params.device)
        wave = to_stereo(audio.samples)
        if audio.sample_rate != separator.sample_rate:
            wave = resample(wave, audio.sample_rate, separator.sample_rate)
        extra = spatial_kwargs(*resolve_spatial(params.spatial_iterations, params.spatial_max_hz, params.mode))
        stems = separator.separate(wave, wiener=params.wiener, mode=params.mode, progress=ctx.progress, **extra)
        out = {name: Audio(stems[name], separator.sample_rate) for name in separator.stems}
        return {**out, "stems": StemSet(out)}
