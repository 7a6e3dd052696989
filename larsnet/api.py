"""The small public surface: load a model, separate an array or a file.

    >>> import larsnet
    >>> model = larsnet.load_model()                # the embedded default
    >>> stems = model.separate(audio)               # audio: (2, N) float32 at 44.1 kHz
    >>> stems = larsnet.separate("drums.flac")      # any rate, mono or stereo
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from larsnet.checkpoint import resolve_model
from larsnet.separator import Separator
from larsnet.spatial_options import SPATIAL_ITERATIONS, SPATIAL_MAX_HZ, spatial_kwargs


def load_model(spec: str | Path = "default", device: str | torch.device = "cpu") -> Separator:
    """``"default"``, one of our ``.pt`` files, or an official checkpoint folder."""
    return Separator(resolve_model(spec), device=device)


def separate(
    audio: np.ndarray | str | Path,
    *,
    model: Separator | str | Path | None = None,
    sample_rate: int | None = None,
    wiener: float | None = None,
    spatial_iterations: int = SPATIAL_ITERATIONS,
    spatial_max_hz: float = SPATIAL_MAX_HZ,
) -> dict[str, np.ndarray]:
    """Separate an array ``(channels, frames)`` or an audio file into ``{stem: (2, N)}``.

    Arrays at another ``sample_rate`` are resampled to 44.1 kHz and the stems come
    back at that same rate and length; files are read at 44.1 kHz. ``wiener``,
    ``spatial_iterations`` and ``spatial_max_hz``: see :meth:`larsnet.separator.Separator.separate`;
    the multichannel Wiener filter is on (:data:`~larsnet.spatial_options.SPATIAL_ITERATIONS` rounds
    below :data:`~larsnet.spatial_options.SPATIAL_MAX_HZ`), ``spatial_iterations=0`` turns it off.
    """
    from larsnet import audio as audio_io  # imported here: the I/O stack is not needed for arrays

    spatial = spatial_kwargs(spatial_iterations, spatial_max_hz)
    separator = model if isinstance(model, Separator) else load_model(model or "default")
    if isinstance(audio, (str, Path)):
        wave, _ = audio_io.read_audio(audio, sample_rate=separator.sample_rate)
        return separator.separate(wave, wiener=wiener, **spatial)
    rate = separator.sample_rate if sample_rate is None else int(sample_rate)
    wave = np.asarray(audio, dtype=np.float32)
    if rate == separator.sample_rate:
        return separator.separate(wave, wiener=wiener, **spatial)
    resampled = audio_io.resample(wave, rate, separator.sample_rate)
    stems = separator.separate(resampled, wiener=wiener, **spatial)
    length = wave.shape[-1]
    return {name: _fit(audio_io.resample(stem, separator.sample_rate, rate), length) for name, stem in stems.items()}


def _fit(audio: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad the last axis to ``length`` (a round trip through soxr may be +-1)."""
    if audio.shape[-1] >= length:
        return audio[..., :length]
    return np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, length - audio.shape[-1])])
