"""Model files: our self-describing format, the authors' checkpoints, and conversion.

Our format is one ``.pt`` file per model holding plain data only (loadable with
``weights_only=True``, so a file from the internet never runs code)::

    {"format": "larsnet-model", "format_version": 1,
     "config": ModelConfig.to_dict(),      # arch name + sizes + STFT + stems + rate
     "state_dict": {...},                  # float16 or float32 tensors
     "license": "...", "provenance": {...}, "sha256": "<of the state dict bytes>"}

The authors' release is a folder ``pretrained_larsnet_models/<stem>/
pretrained_<stem>_unet.pth`` of training checkpoints; only ``model_state_dict``
matters and it is loaded strictly.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import torch

from larsnet.errors import CheckpointError
from larsnet.model import LarsNet, ModelConfig, SeparationModel, build_model
from larsnet.stems import STEMS

__all__ = [
    "ModelConfig",
    "DEFAULT_MODEL_PATH",
    "save_model",
    "load_model_file",
    "load_official",
    "convert_official",
    "resolve_model",
    "find_official_files",
]

FORMAT = "larsnet-model"
FORMAT_VERSION = 1
DEFAULT_MODEL_PATH = Path(__file__).parent / "weights" / "default.pt"
OFFICIAL_LICENSE = "CC BY-NC 4.0 (LarsNet pretrained weights, Mezza et al. 2024)"


def _state_digest(state_dict: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        digest.update(key.encode())
        digest.update(state_dict[key].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def save_model(
    model: SeparationModel,
    path: str | Path,
    *,
    license: str = "unknown",
    provenance: dict[str, Any] | None = None,
    half: bool = False,
) -> Path:
    """Write ``model`` in our format; ``half`` stores float tensors as float16 (half the size).

    Written to a temporary file and renamed, so an interrupted save never leaves a
    truncated model behind.
    """
    path = Path(path)
    state = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        if half and value.is_floating_point():
            value = value.half()
        state[key] = value.contiguous()
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "state_dict": state,
        "license": license,
        "provenance": dict(provenance or {}),
        "sha256": _state_digest(state),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)
    return path


def _torch_load(path: Path) -> Any:
    if not path.exists():
        raise CheckpointError(path, "no such file; pass --model default, a .pt model or an official checkpoint folder")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - turn any unpickling failure into one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(path, f"cannot be read as a weights-only torch file ({first})") from exc


def _load_state_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], path: Path, what: str) -> None:
    """Load strictly, turning key and shape problems into one line that names them."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {_short(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_short(unexpected)}")
    if shapes:
        problems.append(f"wrong shapes {_short(shapes)}")
    if problems:
        raise CheckpointError(path, f"{what} does not match the model: " + "; ".join(problems))
    module.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=True)


def _short(items: list[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def load_model_file(path: str | Path) -> SeparationModel:
    """Load one of our ``.pt`` model files (any registered architecture)."""
    path = Path(path)
    payload = _torch_load(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        if isinstance(payload, dict) and "model_state_dict" in payload:
            raise CheckpointError(
                path,
                "this is one U-Net of an official LarsNet checkpoint; pass the folder that holds "
                "all five, or convert it with `larsnet convert FOLDER OUT.pt`",
            )
        raise CheckpointError(path, "not a larsnet model file (expected a dict with format 'larsnet-model')")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(path, f"made by a newer larsnet (format {payload['format_version']}); upgrade drumflow")
    try:
        config = ModelConfig.from_dict(payload["config"])
        model = build_model(config)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(path, f"bad model config: {exc}") from exc
    state = payload.get("state_dict")
    if not isinstance(state, dict):
        raise CheckpointError(path, "has no state_dict")
    if payload.get("sha256") and _state_digest(state) != payload["sha256"]:
        raise CheckpointError(path, "weights do not match their recorded sha256; the file is corrupt, download or copy it again")
    _load_state_strict(model, state, path, "state_dict")
    model.license = payload.get("license", "unknown")
    model.provenance = payload.get("provenance", {})
    model.source = str(path)
    return model.eval()


def find_official_files(folder: str | Path) -> dict[str, Path]:
    """Locate the five ``pretrained_<stem>_unet.pth`` files under an official release folder.

    Accepts the folder that holds ``pretrained_larsnet_models/`` or that folder itself.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(folder, "no such folder")
    roots = [folder / "pretrained_larsnet_models", folder]
    for root in roots:
        files = {stem: root / stem / f"pretrained_{stem}_unet.pth" for stem in STEMS}
        if any(p.exists() for p in files.values()):
            missing = [str(p.relative_to(folder)) for p in files.values() if not p.exists()]
            if missing:
                raise CheckpointError(folder, f"official checkpoint folder is incomplete: missing {_short(missing)}")
            return files
    raise CheckpointError(
        folder,
        "no official LarsNet checkpoints found; expected pretrained_larsnet_models/<stem>/pretrained_<stem>_unet.pth "
        f"for stems {', '.join(STEMS)}",
    )


def load_official(folder: str | Path) -> LarsNet:
    """Build the published LarsNet from the authors' five checkpoint files, strictly."""
    files = find_official_files(folder)
    model = LarsNet(ModelConfig())
    for stem, path in files.items():
        checkpoint = _torch_load(path)
        if not isinstance(checkpoint, dict) or "model_state_dict" not in checkpoint:
            raise CheckpointError(path, "not an official LarsNet checkpoint (no 'model_state_dict' entry)")
        _load_state_strict(model.unets[stem], checkpoint["model_state_dict"], path, f"{stem} U-Net")
    model.license = OFFICIAL_LICENSE
    model.provenance = {"source": "official LarsNet release", "folder": str(Path(folder).resolve())}
    model.source = str(folder)
    return model.eval()


def convert_official(folder: str | Path, out_path: str | Path, *, half: bool = False) -> Path:
    """The authors' five files -> one model file of ours (same weights, self-describing)."""
    model = load_official(folder)
    return save_model(model, out_path, license=OFFICIAL_LICENSE, provenance=model.provenance, half=half)


def resolve_model(spec: str | Path | None = "default") -> SeparationModel:
    """``"default"`` (embedded model), a ``.pt`` file of ours, or an official folder."""
    if spec is None or str(spec) == "default":
        if not DEFAULT_MODEL_PATH.exists():
            raise CheckpointError(
                DEFAULT_MODEL_PATH,
                "the embedded default model is missing from this install; reinstall drumflow or pass --model PATH",
            )
        return load_model_file(DEFAULT_MODEL_PATH)
    path = Path(spec).expanduser()
    if path.is_dir():
        return load_official(path)
    if not path.exists():
        raise CheckpointError(path, "no such model file or folder; pass --model default, a .pt model or an official checkpoint folder")
    return load_model_file(path)
