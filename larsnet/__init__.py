"""larsnet: LarsNet drum demixing (Mezza et al., 2024), reimplemented, plus its data engine.

Public surface::

    load_model(spec="default", device="cpu") -> Separator
    separate(audio_or_path, *, model=None, sample_rate=None, wiener=None) -> {stem: array}
    Separator.separate(audio, wiener=None) / Separator.separate_stream(blocks)
    STEMS, SAMPLE_RATE

torch is imported on first use of the model API only, so commands that never touch a
model (``larsnet kits``, ``larsnet synth``, ``drumflow validate``) start quickly.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from larsnet.errors import LarsNetError
from larsnet.stems import SAMPLE_RATE, STEMS

if TYPE_CHECKING:
    from larsnet.api import load_model, separate
    from larsnet.separator import Separator

__all__ = ["load_model", "separate", "Separator", "LarsNetError", "STEMS", "SAMPLE_RATE"]
__version__ = "0.1.0"

_LAZY = {"load_model": "larsnet.api", "separate": "larsnet.api", "Separator": "larsnet.separator"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'larsnet' has no attribute {name!r}")
