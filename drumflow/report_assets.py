"""Pictures, measurements and preview files for the run report (:mod:`drumflow.report`).

No plotting library: PNGs are written with numpy and zlib (:func:`png_bytes`).
Waveforms show, per pixel column, the peak (light) and the RMS (dark) on a dB axis
(-60 .. 0 dBFS, mirrored), one lane per channel, so that stems compare; the
spectrogram is a log-frequency STFT magnitude (30 Hz .. Nyquist), 80 dB below the
loudest bin, in a magma-like colour map. Both cost O(frames) plus a fixed number of
FFTs (one per pixel column), whatever the length of the file.

Audio is float ``[shape=(channels, frames)]`` as everywhere in drumflow.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

WAVE_SIZE = (800, 96)  # width, height in pixels
WAVE_RANGE_DB = 60.0
SPEC_SIZE = (800, 160)
MIN_HZ = 30.0
RANGE_DB = 80.0
PREVIEW_MAX_RATE = 48000

_BACKGROUND = np.array([250, 251, 253], dtype=np.uint8)
_AXIS = np.array([210, 215, 225], dtype=np.uint8)
_RANGE = np.array([150, 178, 222], dtype=np.uint8)
_RMS = np.array([52, 92, 160], dtype=np.uint8)
# magma-like control points: position, r, g, b
_CMAP_POINTS = np.array([
    [0.00, 0, 0, 4], [0.13, 28, 16, 68], [0.25, 79, 18, 123], [0.38, 129, 37, 129], [0.50, 181, 54, 122],
    [0.63, 229, 80, 100], [0.75, 251, 135, 97], [0.88, 254, 194, 135], [1.00, 252, 253, 191]], dtype=np.float64)


def _colour_map() -> np.ndarray:
    """256 x RGB lookup table interpolated from the control points."""
    pos = np.linspace(0.0, 1.0, 256)
    return np.stack([np.interp(pos, _CMAP_POINTS[:, 0], _CMAP_POINTS[:, c]) for c in (1, 2, 3)], axis=1).astype(np.uint8)


CMAP = _colour_map()


# --------------------------------------------------------------------------- PNG


def png_bytes(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB image ``[shape=(height, width, 3)]`` uint8 as PNG file bytes."""
    img = np.ascontiguousarray(rgb, dtype=np.uint8)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an RGB image shaped (height, width, 3), got {img.shape}")
    height, width = img.shape[:2]
    raw = np.concatenate([np.zeros((height, 1), dtype=np.uint8), img.reshape(height, width * 3)], axis=1)  # filter 0

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bit, truecolour
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
            + chunk(b"IEND", b""))


def write_png(path: Path, rgb: np.ndarray) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(rgb))
    return path


# --------------------------------------------------------------------------- pictures


def _columns(x: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel column of one channel ``x[frames]``: (peak |x|, rms), each ``[width]``."""
    n = x.shape[0]
    if n == 0:
        return np.zeros(width), np.zeros(width)
    starts = np.minimum((np.arange(width) * n) // width, n - 1)
    peak = np.maximum.reduceat(np.abs(x), starts)
    counts = np.diff(np.append(starts, n)).clip(min=1)
    rms = np.sqrt(np.add.reduceat(x.astype(np.float64) ** 2, starts) / counts)
    return peak, rms


def _db_height(amp: np.ndarray) -> np.ndarray:
    """Amplitude -> 0..1 on a dB axis from -WAVE_RANGE_DB (0) to 0 dBFS (1)."""
    with np.errstate(divide="ignore"):
        db = 20.0 * np.log10(np.maximum(amp, 1e-12))
    return np.clip((db + WAVE_RANGE_DB) / WAVE_RANGE_DB, 0.0, 1.0)


def waveform_image(samples: np.ndarray, size: tuple[int, int] = WAVE_SIZE) -> np.ndarray:
    """RGB ``[shape=(height, width, 3)]``: one lane per channel (the first two), mirrored around
    its centre line, height = level on a dB axis (-60 dBFS at the line, 0 dBFS at the lane's
    edge), so that quiet stems stay visible and levels still compare between pictures."""
    width, height = size
    x = np.asarray(samples, dtype=np.float32)[:2]
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = _BACKGROUND
    lane_h = height // x.shape[0]
    rows = np.arange(lane_h)[:, None]
    half = (lane_h - 1) / 2.0
    for i, channel in enumerate(x):
        peak, rms = _columns(channel, width)
        reach, rms_reach = half * _db_height(peak), half * _db_height(rms)
        lane = img[i * lane_h:(i + 1) * lane_h]
        lane[int(round(half))] = _AXIS
        lane[(np.abs(rows - half) <= reach) & (reach > 0)] = _RANGE
        lane[(np.abs(rows - half) <= rms_reach) & (rms_reach > 0)] = _RMS
        if i:
            lane[0] = _AXIS
    return img


def spectrogram_image(samples: np.ndarray, sample_rate: int, size: tuple[int, int] = SPEC_SIZE) -> np.ndarray:
    """RGB ``[shape=(height, width, 3)]``: log-frequency magnitude of the channel mean, top = Nyquist."""
    width, height = size
    mono = np.asarray(samples, dtype=np.float32).mean(axis=0)
    n_fft = int(2 ** round(np.log2(max(256, sample_rate * 0.046))))  # ~46 ms
    if mono.shape[0] < n_fft:
        mono = np.pad(mono, (0, n_fft - mono.shape[0]))
    starts = np.linspace(0, mono.shape[0] - n_fft, width).astype(np.int64)
    frames = mono[starts[:, None] + np.arange(n_fft)[None, :]]  # [width, n_fft]: one frame per column
    spec = np.abs(np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1))  # [width, bins]
    with np.errstate(divide="ignore"):
        db = 20.0 * np.log10(spec)
    top = db.max() if np.isfinite(db.max()) else 0.0
    level = np.clip((db - (top - RANGE_DB)) / RANGE_DB, 0.0, 1.0)  # [width, bins] in 0..1
    freqs = np.geomspace(min(MIN_HZ, sample_rate / 4), sample_rate / 2, height)[::-1]  # row 0 = highest
    pos = freqs / sample_rate * n_fft  # fractional bin of each row
    lo = np.floor(pos).astype(np.int64).clip(0, level.shape[1] - 1)
    hi = (lo + 1).clip(max=level.shape[1] - 1)
    frac = (pos - lo)[:, None]
    rows = level[:, lo].T * (1 - frac) + level[:, hi].T * frac  # [height, width]
    return CMAP[np.round(rows * 255).astype(np.uint8)]


# --------------------------------------------------------------------------- numbers


def peak_dbfs(samples: np.ndarray) -> float:
    """Sample peak in dBFS; ``-inf`` for silence."""
    x = np.asarray(samples)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return 20.0 * float(np.log10(peak)) if peak > 0 else float("-inf")


def loudness_lufs(samples: np.ndarray, sample_rate: int) -> float | None:
    """Integrated loudness (ITU-R BS.1770, pyloudnorm); None if shorter than one 400 ms block,
    ``-inf`` if everything is below the gate (near silence)."""
    import pyloudnorm

    x = np.asarray(samples, dtype=np.float64)
    meter = pyloudnorm.Meter(sample_rate)
    if x.shape[1] < int(meter.block_size * sample_rate):
        return None
    if x.shape[0] > 5:  # pyloudnorm weights up to 5 channels
        x = x[:2]
    return float(meter.integrated_loudness(x.T))


# --------------------------------------------------------------------------- preview audio


def write_preview(path: Path, samples: np.ndarray, sample_rate: int) -> Path:
    """A small Ogg Vorbis file every browser plays (resampled to 48 kHz when above it)."""
    from larsnet.audio import AudioWriter

    x = np.asarray(samples, dtype=np.float32)
    if sample_rate > PREVIEW_MAX_RATE:
        import soxr

        x = np.ascontiguousarray(soxr.resample(x.T, sample_rate, PREVIEW_MAX_RATE).T, dtype=np.float32)
        sample_rate = PREVIEW_MAX_RATE
    x = np.nan_to_num(x)
    with AudioWriter(path, sample_rate, x.shape[0], format="ogg") as writer:
        writer.write(x)
    return Path(path)
