"""Reading one-shot samples for the kit loaders, and the pitch shift they share.

Kits store every sample as float32 ``(2, frames)`` at 44.1 kHz (see :mod:`.kit`), so
the conversion happens once, here, at load time: other rates are resampled with soxr,
mono is duplicated into both channels (the instrument's pan then places it), more than
two channels are folded to stereo. Errors become :class:`~larsnet.errors.KitError`
naming the sample file, because a kit loader is the only caller.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from larsnet.errors import KitError
from larsnet.stems import SAMPLE_RATE

SAMPLE_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".aif", ".aiff", ".ogg")
"""File types a kit's one-shots may use (whatever libsndfile reads)."""


def read_sample(path: str | Path) -> np.ndarray:
    """One sample file as float32 ``(2, frames)`` at 44.1 kHz.

    Raises KitError if the file is missing, unreadable, empty or not finite.
    """
    path = Path(path)
    if not path.is_file():
        raise KitError(path, "sample file not found")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise KitError(path, f"cannot read sample ({exc}); re-export it as WAV or FLAC") from exc
    if data.shape[0] == 0:
        raise KitError(path, "sample is empty (0 frames)")
    if not np.isfinite(data).all():
        raise KitError(path, "sample contains NaN or infinite values")
    audio = to_stereo(data.T)
    if rate != SAMPLE_RATE:
        audio = resample(audio, rate, SAMPLE_RATE)
    return audio


def to_stereo(audio: np.ndarray) -> np.ndarray:
    """``(channels, frames)`` -> float32 ``(2, frames)``.

    Mono is duplicated; for more than two channels the even channels are averaged
    into the left and the odd ones into the right, which keeps a surround or
    multi-mic sample's overall image instead of dropping channels.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None, :]
    if audio.shape[0] == 1:
        return np.repeat(audio, 2, axis=0)
    if audio.shape[0] == 2:
        return np.ascontiguousarray(audio)
    return np.stack([audio[0::2].mean(axis=0), audio[1::2].mean(axis=0)]).astype(np.float32)


def resample(audio: np.ndarray, rate_in: float, rate_out: float) -> np.ndarray:
    """Resample ``(2, frames)`` float32 with soxr (high quality); returns a new array."""
    if rate_in == rate_out:
        return np.ascontiguousarray(audio, dtype=np.float32)
    out = soxr.resample(np.ascontiguousarray(audio.T), rate_in, rate_out, quality="HQ")
    return np.ascontiguousarray(out.T, dtype=np.float32)


def pitch_shift(audio: np.ndarray, semitones: float) -> np.ndarray:
    """Shift pitch by resampling, as a sampler would: up is shorter, down is longer.

    Used for SFZ ``tune``, Hydrogen layer pitch and the derived third tom. Changing
    the duration with the pitch is what a drum tuned higher or lower does, so no
    time-stretching is wanted.
    """
    if abs(semitones) < 1e-6:
        return audio
    ratio = 2.0 ** (semitones / 12.0)
    return resample(audio, SAMPLE_RATE * ratio, SAMPLE_RATE)


def trim_silence(audio: np.ndarray, floor_db: float = -80.0) -> np.ndarray:
    """Drop the trailing frames quieter than ``floor_db`` below the peak."""
    env = np.abs(audio).max(axis=0)
    peak = float(env.max()) if env.size else 0.0
    if peak <= 0.0:
        return audio[:, :1]
    loud = np.nonzero(env > peak * 10.0 ** (floor_db / 20.0))[0]
    return np.ascontiguousarray(audio[:, : int(loud[-1]) + 1])
