"""larsnet: LarsNet drum demixing (Mezza et al., 2024), reimplemented, plus its data engine.

Public surface::

    load_model(spec="default", device="cpu") -> Separator
    separate(audio_or_path, *, model=None, sample_rate=None, wiener=None) -> {stem: array}
    Separator.separate(audio, wiener=None) / Separator.separate_stream(blocks)
    STEMS, SAMPLE_RATE
"""
from larsnet.api import load_model, separate
from larsnet.errors import LarsNetError
from larsnet.separator import Separator
from larsnet.stems import SAMPLE_RATE, STEMS

__all__ = ["load_model", "separate", "Separator", "LarsNetError", "STEMS", "SAMPLE_RATE"]
__version__ = "0.1.0"
