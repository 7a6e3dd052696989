"""Small builders the larsnet tests share: random tiny models and drum-like audio."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from larsnet.checkpoint import save_model
from larsnet.model import LarsNet, ModelConfig


def tiny_model(width: int = 2, seed: int = 0) -> LarsNet:
    """A five-U-Net LarsNet with random weights and non-trivial BN statistics."""
    torch.manual_seed(seed)
    model = LarsNet(ModelConfig(arch_params={"width": width}))
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.uniform_(-0.1, 0.1)
            elif name.endswith("running_var"):
                buffer.uniform_(0.5, 2.0)
    return model.eval()


def tiny_model_file(path: Path, width: int = 2, seed: int = 0) -> Path:
    return save_model(tiny_model(width, seed), path, license="test", provenance={"made_by": "tests"})


def drum_like(seconds: float, rate: int = 44_100, seed: int = 0) -> np.ndarray:
    """Decaying noise bursts and tones: broadband, transient, stereo ``(2, N)`` float32."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros((2, n), np.float32)
    t = np.arange(int(0.3 * rate)) / rate
    for start in range(0, n, int(0.25 * rate)):
        hit = (rng.standard_normal(t.size) * 0.3 + np.sin(2 * np.pi * rng.uniform(50, 300) * t)) * np.exp(-t * 20)
        stop = min(n, start + t.size)
        out[:, start:stop] += hit[: stop - start] * np.array([[0.8], [0.6]])
    return np.clip(out * 0.5, -1, 1).astype(np.float32)
