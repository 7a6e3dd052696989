"""Audio files in and out: one convention, clear errors, bounded memory, atomic writes.

Everything in larsnet handles audio as float32 arrays shaped ``(channels, frames)`` plus
an int ``sample_rate``. This module is the only place that talks to files, so that the
checks users rely on live once:

- reading (wav, flac, ogg, mp3, aiff through libsndfile) fails with a one-line
  :class:`~larsnet.errors.AudioInputError` for a missing, corrupt, empty or non-finite
  file, or one with more than two channels (unless ``downmix``);
- mono is duplicated to stereo, other rates are resampled with soxr, statefully when
  streaming so that block borders leave no trace;
- writing goes to a temp file beside the target, renamed only on success, so a crash or
  Ctrl-C never leaves a half-written file; 16-bit output from float gets TPDF dither.
"""
from __future__ import annotations

import hashlib
import os
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Iterator

import numpy as np
import soundfile as sf
import soxr

from larsnet.errors import AudioInputError, OptionError
from larsnet.stems import SAMPLE_RATE

SUPPORTED_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
"""File name endings we read and write (lower case; matching is case-insensitive)."""

BIT_DEPTHS: tuple[int, ...] = (16, 24, 32)
"""Output bit depths: 16 and 24 bit integer PCM, 32 = 32-bit float."""

# extension -> (libsndfile container, subtype of a lossy codec or None for PCM formats)
_WRITE_FORMATS: dict[str, tuple[str, str | None]] = {
    ".wav": ("WAV", None),
    ".flac": ("FLAC", None),
    ".aiff": ("AIFF", None),
    ".aif": ("AIFF", None),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}
_PCM_SUBTYPES = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}
_FLOAT_SUBTYPES = {"FLOAT", "DOUBLE"}  # the only sample formats that can hold NaN/inf
_SCAN_FRAMES = 1 << 18
_VORBIS_MAX_RATE = 192_000  # libvorbis crashes the process (not an error) well above this
_WRITE_FRAMES = 1 << 16  # frames per libsndfile write: a single write of ~1M+ frames to Ogg Vorbis segfaults


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header without decoding it."""

    frames: int
    sample_rate: int
    channels: int
    format: str  # libsndfile container name, e.g. "WAV", "FLAC", "MP3"
    duration_s: float
    subtype: str = ""  # sample format, e.g. "PCM_16", "FLOAT", "VORBIS"


# --------------------------------------------------------------------------- helpers


def _describe_decode_error(exc: Exception) -> str:
    """libsndfile's own reason (without its repeated path), as one line."""
    reason = getattr(exc, "error_string", None) or str(exc)
    return " ".join(str(reason).split()).rstrip(".")


def _open(path: str | Path) -> sf.SoundFile:
    """Open ``path`` for reading, turning every way it can fail into an AudioInputError."""
    p = Path(path)
    if not p.exists():
        raise AudioInputError(p, "no such file")
    if not p.is_file():
        what = "a folder" if p.is_dir() else "not a regular file (a device or a pipe?)"
        raise AudioInputError(p, f"is {what}, not an audio file")
    if p.stat().st_size == 0:
        raise AudioInputError(p, "is empty (0 bytes)")
    try:
        f = sf.SoundFile(str(p))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioInputError(
            p, f"cannot be decoded: {_describe_decode_error(exc)} — is it really audio?"
        ) from None
    if f.frames == 0:
        f.close()
        raise AudioInputError(p, "is empty (0 audio frames)")
    return f


def _check_channels(channels: int, downmix: bool, path: str | Path | None) -> None:
    if channels > 2 and not downmix:
        raise AudioInputError(
            path, f"{channels} channels; pass --downmix to mix them to stereo (downmix=True in Python)"
        )


def _non_finite_error(path: str | Path | None, n_nan: int, n_inf: int, first: int, rate: int) -> AudioInputError:
    counts = " and ".join(
        part for part in (f"{n_nan} NaN" if n_nan else "", f"{n_inf} infinite" if n_inf else "") if part
    )
    return AudioInputError(
        path,
        f"contains {counts} samples, the first at frame {first} ({first / rate:.3f} s); "
        "repair or re-export the file",
    )


def _count_non_finite(data: np.ndarray) -> tuple[int, int, int]:
    """``data[frames, channels]`` -> (NaN count, inf count, first bad frame or -1)."""
    bad = ~np.isfinite(data)
    if not bad.any():
        return 0, 0, -1
    n_nan = int(np.isnan(data).sum())
    first = int(np.argmax(bad.any(axis=1)))
    return n_nan, int(bad.sum()) - n_nan, first


def _scan_finite(f: sf.SoundFile, path: str | Path) -> None:
    """Refuse a float file holding NaN/inf before any work is done on it.

    Only FLOAT/DOUBLE files can hold them (integer PCM and lossy codecs decode to finite
    values), so only those pay for this extra pass; it reports the total count and the
    first position, which a per-block check could not.
    """
    if f.subtype not in _FLOAT_SUBTYPES:
        return
    n_nan = n_inf = 0
    first = -1
    offset = 0
    f.seek(0)
    for block in f.blocks(blocksize=_SCAN_FRAMES, dtype="float32", always_2d=True):
        b_nan, b_inf, b_first = _count_non_finite(block)
        if b_first >= 0 and first < 0:
            first = offset + b_first
        n_nan += b_nan
        n_inf += b_inf
        offset += len(block)
    f.seek(0)
    if first >= 0:
        raise _non_finite_error(path, n_nan, n_inf, first, f.samplerate)


def _downmix_gains(channels: int) -> np.ndarray:
    """``gains[2, channels]``: spread channels evenly from hard left to hard right.

    Multichannel drum files are mostly one microphone per channel with no layout tag
    (libsndfile reports none), so no surround convention can be assumed; constant-power
    panning in channel order is what a mixer's default would do. Each row is normalised
    so that a signal present on every channel keeps its level.
    """
    pan = np.linspace(0.0, 1.0, channels) * (np.pi / 2)
    gains = np.stack([np.cos(pan), np.sin(pan)])
    return (gains / gains.sum(axis=1, keepdims=True)).astype(np.float32)


def resampled_length(frames: int, rate_in: int, rate_out: int) -> int:
    """Frames that ``frames`` at ``rate_in`` last at ``rate_out`` (rounded, as soxr does).

    Every resampling path here produces exactly this many frames, so that output length
    equals input length at the output rate. A non-empty input never becomes empty.
    """
    if rate_in == rate_out or frames == 0:
        return frames
    return max(1, (frames * rate_out + rate_in // 2) // rate_in)


# --------------------------------------------------------------------------- arrays


def to_stereo(audio: np.ndarray, *, downmix: bool = False, path: str | Path | None = None) -> np.ndarray:
    """``audio[C, N]`` (or ``[N]`` mono) -> float32 ``[2, N]``.

    Mono is duplicated (the original LarsNet crashed on it); stereo passes through;
    more channels need ``downmix=True`` (see :func:`_downmix_gains`), else an
    AudioInputError naming ``path``.
    """
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"audio must be shaped (channels, frames), got {a.shape}")
    channels = a.shape[0]
    if channels == 1:
        return np.repeat(a, 2, axis=0)
    if channels == 2:
        return a
    _check_channels(channels, downmix, path)
    return _downmix_gains(channels) @ a


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """``audio[C, N]`` at ``rate_in`` -> float32 ``[C, resampled_length(N)]`` at ``rate_out``."""
    a = np.asarray(audio, dtype=np.float32)
    if rate_in == rate_out:
        return a
    out = soxr.resample(np.ascontiguousarray(a.T), rate_in, rate_out, quality="HQ")
    return _fit_length(out.T, resampled_length(a.shape[-1], rate_in, rate_out))


def _fit_length(a: np.ndarray, frames: int) -> np.ndarray:
    """Trim or zero-pad ``a[C, n]`` to ``frames`` (guards soxr's rounding, normally a no-op)."""
    n = a.shape[-1]
    if n > frames:
        return np.ascontiguousarray(a[:, :frames])
    if n < frames:
        return np.pad(a, ((0, 0), (0, frames - n)))
    return np.ascontiguousarray(a)


class StreamResampler:
    """Stateful resampling of consecutive blocks ``[C, n]``; same result as one call.

    ``process`` may return fewer frames than it was given (soxr keeps a delay line);
    ``flush`` returns the rest so that the total is exactly
    ``resampled_length(total_in)`` — or ``total_frames`` when the caller knows the
    length it needs (writing back at the input rate must restore the input length,
    which rounding twice does not guarantee).
    """

    def __init__(self, rate_in: int, rate_out: int, channels: int = 2):
        self.rate_in = rate_in
        self.rate_out = rate_out
        self.channels = channels
        self.frames_in = 0
        self.frames_out = 0
        self._stream = (
            None
            if rate_in == rate_out
            else soxr.ResampleStream(rate_in, rate_out, channels, dtype="float32", quality="HQ")
        )

    def process(self, block: np.ndarray) -> np.ndarray:
        """``block[C, n]`` -> ``[C, m]`` resampled frames available so far."""
        b = np.asarray(block, dtype=np.float32)
        self.frames_in += b.shape[-1]
        out = b if self._stream is None else self._stream.resample_chunk(np.ascontiguousarray(b.T)).T
        self.frames_out += out.shape[-1]
        return out

    def flush(self, total_frames: int | None = None) -> np.ndarray:
        """The last ``[C, m]`` frames; trims or pads so that the total is exact.

        Frames already returned cannot be taken back: if more than ``total_frames`` were
        returned before, a ValueError says so (soxr's delay makes that impossible for
        the small corrections rounding needs).
        """
        if self._stream is None:
            tail = np.zeros((self.channels, 0), np.float32)
        else:
            empty = np.zeros((0, self.channels), np.float32)
            tail = self._stream.resample_chunk(empty, last=True).T
        target = resampled_length(self.frames_in, self.rate_in, self.rate_out) if total_frames is None else total_frames
        need = target - self.frames_out
        if need < 0:
            raise ValueError(f"resampler already returned {self.frames_out} frames, more than {target}")
        tail = _fit_length(tail, need)
        self.frames_out += tail.shape[-1]
        return tail


# --------------------------------------------------------------------------- reading


def audio_info(path: str | Path) -> AudioInfo:
    """Header facts about ``path``; AudioInputError if it is missing, corrupt or empty."""
    with _open(path) as f:
        return AudioInfo(
            frames=f.frames,
            sample_rate=f.samplerate,
            channels=f.channels,
            format=f.format,
            duration_s=f.frames / f.samplerate,
            subtype=f.subtype,
        )


def read_audio(
    path: str | Path, *, sample_rate: int | None = SAMPLE_RATE, downmix: bool = False
) -> tuple[np.ndarray, int]:
    """Whole file -> (float32 ``[2, N]`` at ``sample_rate``, the file's own rate).

    ``sample_rate=None`` keeps the file's rate. Memory is the whole file; for long
    files use :func:`iter_audio_blocks`.
    """
    with _open(path) as f:
        _check_channels(f.channels, downmix, path)
        rate = f.samplerate
        try:
            data = f.read(dtype="float32", always_2d=True)  # [N, C]
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioInputError(
                path, f"cannot be decoded: {_describe_decode_error(exc)} — is it really audio?"
            ) from None
    if len(data) == 0:
        raise AudioInputError(path, "is empty (0 audio frames)")
    n_nan, n_inf, first = _count_non_finite(data)
    if first >= 0:
        raise _non_finite_error(path, n_nan, n_inf, first, rate)
    audio = to_stereo(data.T, downmix=downmix, path=path)
    if sample_rate is not None and sample_rate != rate:
        audio = resample(audio, rate, sample_rate)
    return audio, rate


class AudioBlockReader(Iterator[np.ndarray]):
    """Iterator over float32 stereo blocks ``[2, n]`` of one file, resampled on the fly.

    Memory is one block whatever the file's length. Blocks are never empty; their
    sizes vary when resampling. The file is checked when the reader is created
    (missing, corrupt, empty, channels, NaN/inf in float files), so the caller can fail
    before creating any output. After exhaustion, ``frames_read`` is the number of
    frames decoded at the file's rate and ``frames_out`` is
    ``resampled_length(frames_read)``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        block_frames: int,
        sample_rate: int | None = SAMPLE_RATE,
        downmix: bool = False,
    ):
        if block_frames <= 0:
            raise ValueError(f"block_frames must be positive, got {block_frames}")
        self.path = Path(path)
        self.block_frames = block_frames
        self.downmix = downmix
        self._file: sf.SoundFile | None = _open(path)
        try:
            _check_channels(self._file.channels, downmix, path)
            _scan_finite(self._file, path)
        except BaseException:
            self.close()
            raise
        self.source_rate: int = self._file.samplerate
        self.sample_rate: int = self.source_rate if sample_rate is None else sample_rate
        self.frames_read = 0
        self.frames_out = 0
        self._resampler = StreamResampler(self.source_rate, self.sample_rate, channels=2)
        self._done = False

    def __iter__(self) -> "AudioBlockReader":
        return self

    def __next__(self) -> np.ndarray:
        while not self._done:
            try:
                out = self._step()
            except BaseException:
                self._done = True
                self.close()
                raise
            if out.shape[-1]:
                self.frames_out += out.shape[-1]
                return out
        raise StopIteration

    def _step(self) -> np.ndarray:
        """Decode one block; at the end flush the resampler and close the file."""
        assert self._file is not None
        try:
            data = self._file.read(self.block_frames, dtype="float32", always_2d=True)  # [n, C]
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioInputError(
                self.path, f"cannot be decoded: {_describe_decode_error(exc)} — is it really audio?"
            ) from None
        if len(data) == 0:
            self.close()
            self._done = True
            if self.frames_read == 0:
                raise AudioInputError(self.path, "is empty (0 audio frames)")
            return self._resampler.flush()
        n_nan, n_inf, first = _count_non_finite(data)
        if first >= 0:  # a non-float file that still decoded to NaN/inf: report this block
            raise _non_finite_error(self.path, n_nan, n_inf, self.frames_read + first, self.source_rate)
        self.frames_read += len(data)
        return self._resampler.process(to_stereo(data.T, downmix=self.downmix, path=self.path))

    def close(self) -> None:
        """Release the file early (also done automatically at the end)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "AudioBlockReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_audio_blocks(
    path: str | Path,
    *,
    block_frames: int,
    sample_rate: int | None = SAMPLE_RATE,
    downmix: bool = False,
) -> AudioBlockReader:
    """Stream ``path`` as stereo float32 blocks ``[2, n]`` at ``sample_rate``.

    ``block_frames`` counts frames at the file's rate. See :class:`AudioBlockReader`.
    """
    return AudioBlockReader(path, block_frames=block_frames, sample_rate=sample_rate, downmix=downmix)


# --------------------------------------------------------------------------- writing


def _write_format(path: Path, format: str | None) -> tuple[str, str | None]:
    ext = f".{format.lower().lstrip('.')}" if format else path.suffix.lower()
    try:
        return _WRITE_FORMATS[ext]
    except KeyError:
        supported = ", ".join(sorted({e.lstrip(".") for e in _WRITE_FORMATS}))
        raise OptionError(
            f"{path}: cannot write {ext or 'files without an extension'!r}; use one of: {supported}"
        ) from None


def _quantize(block: np.ndarray, bits: int, rng: np.random.Generator | None) -> np.ndarray:
    """float ``[n, C]`` -> C-contiguous integers at ``bits`` (16 -> int16, 24 -> int32 << 8), clipped.

    We quantise ourselves instead of leaving it to libsndfile so that rounding, the TPDF
    dither and the clip to [-1, 1 - 1 LSB] are explicit and identical for every format.
    TPDF dither: the sum of two independent uniform variables of 1 LSB width gives a
    triangular density over +-1 LSB, which makes the quantisation error independent of
    the signal (no distortion on quiet fades, only a flat noise floor).

    16 bit is computed in float32, which resolves 1/256 LSB at full scale: exact enough
    for rounding, and half the memory traffic of float64 (writing five stems was a fifth
    of separation time). 24 bit needs float64.
    """
    scale = float(1 << (bits - 1))
    dtype = np.float32 if bits == 16 else np.float64
    y = np.multiply(block, dtype(scale), dtype=dtype, order="C")
    if rng is not None:
        y += rng.random(y.shape, dtype=dtype)
        y -= rng.random(y.shape, dtype=dtype)
    np.rint(y, out=y)
    np.clip(y, -scale, scale - 1, out=y)
    if bits == 16:
        return y.astype(np.int16)
    return y.astype(np.int32) << (32 - bits)


class AudioWriter:
    """Write ``[channels, n]`` float blocks to ``path`` atomically.

    Data goes to a hidden temp file in the target's folder (same filesystem, so the
    final :func:`os.replace` is atomic); :meth:`close` renames it, :meth:`abort` or an
    exception inside the ``with`` block removes it. Parent folders are created.

    ``bit_depth`` 16/24 writes integer PCM (16 with TPDF dither if ``dither``), 32 writes
    32-bit float, unclipped (float keeps overs: that is why one asks for it). The format
    comes from ``format`` (e.g. ``"flac"``) or the extension; Ogg Vorbis and MP3 take
    float samples (clipped to [-1, 1]) and ignore ``bit_depth``/``dither``. ``seed``
    fixes the dither noise; by default it derives from the path, so outputs are
    reproducible and different files get independent noise.
    """

    def __init__(
        self,
        path: str | Path,
        sample_rate: int,
        channels: int = 2,
        *,
        bit_depth: int = 16,
        dither: bool = True,
        format: str | None = None,
        seed: int | None = None,
    ):
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.bit_depth = int(bit_depth)
        if self.bit_depth not in BIT_DEPTHS:
            raise OptionError(f"bit depth {bit_depth} is not supported; use 16, 24 or 32 (float)")
        container, codec = _write_format(self.path, format)
        if codec is None and container == "FLAC" and self.bit_depth == 32:
            raise OptionError(f"{self.path}: FLAC cannot hold 32-bit float; use bit depth 16 or 24, or a .wav file")
        if codec == "VORBIS" and not 1 <= self.sample_rate <= _VORBIS_MAX_RATE:
            raise OptionError(
                f"{self.path}: Ogg Vorbis cannot be written at {self.sample_rate} Hz "
                f"(at most {_VORBIS_MAX_RATE}); write .wav or .flac instead"
            )
        self._lossy = codec is not None
        subtype = codec or _PCM_SUBTYPES[self.bit_depth]
        self._int_bits = 0 if self._lossy or self.bit_depth == 32 else self.bit_depth
        if dither and self._int_bits == 16:
            if seed is None:
                seed = zlib.crc32(str(self.path.resolve()).encode())
            self._rng: np.random.Generator | None = np.random.default_rng(seed)
        else:
            self._rng = None
        self.frames_written = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OptionError(f"{self.path}: cannot create its folder: {exc.strerror or exc}") from None
        self._tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            self._file: sf.SoundFile | None = sf.SoundFile(
                str(self._tmp), "w", self.sample_rate, self.channels, subtype, format=container
            )
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
            self._tmp.unlink(missing_ok=True)
            raise OptionError(
                f"{self.path}: cannot write {container} {subtype} at {self.sample_rate} Hz: "
                f"{_describe_decode_error(exc)}"
            ) from None

    def write(self, block: np.ndarray) -> None:
        """Append ``block[channels, n]`` (float; n may be 0)."""
        if self._file is None:
            raise ValueError(f"{self.path}: writer is closed")
        b = np.asarray(block)
        if b.ndim != 2 or b.shape[0] != self.channels:
            raise ValueError(f"expected a block shaped ({self.channels}, frames), got {b.shape}")
        if b.shape[1] == 0:
            return
        if not np.isfinite(b).all():
            raise ValueError(f"{self.path}: refusing to write NaN/inf samples")
        frames = b.T  # [n, C], soundfile's layout
        if self._int_bits:
            data = _quantize(frames, self._int_bits, self._rng)
        elif self._lossy:
            data = np.ascontiguousarray(np.clip(frames, -1.0, 1.0), dtype=np.float32)
        else:
            data = np.ascontiguousarray(frames, dtype=np.float32)
        for start in range(0, len(data), _WRITE_FRAMES):  # one huge write crashes libsndfile's Vorbis encoder
            self._file.write(np.ascontiguousarray(data[start:start + _WRITE_FRAMES]))
        self.frames_written += b.shape[1]

    def close(self) -> Path:
        """Finish the file and move it into place; returns the final path."""
        if self._file is None:
            return self.path
        try:
            self._file.close()
            self._file = None
            os.replace(self._tmp, self.path)
        except OSError as exc:  # e.g. the target is a folder, or the disk is full
            self.abort()
            raise OptionError(f"{self.path}: cannot write: {exc.strerror or exc}") from None
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Drop everything written so far; the target is left as it was."""
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "AudioWriter":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_audio(
    path: str | Path,
    audio: np.ndarray,
    sample_rate: int,
    *,
    bit_depth: int = 16,
    dither: bool = True,
    format: str | None = None,
) -> Path:
    """Write ``audio[C, N]`` (or ``[N]`` mono) atomically; see :class:`AudioWriter`."""
    a = np.asarray(audio)
    if a.ndim == 1:
        a = a[None, :]
    with AudioWriter(path, sample_rate, a.shape[0], bit_depth=bit_depth, dither=dither, format=format) as w:
        w.write(a)
    return Path(path)


def file_sha256(path: str | Path, *, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (cache keys for inputs)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            h.update(chunk)
    return h.hexdigest()
