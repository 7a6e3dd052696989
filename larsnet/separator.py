"""Waveform in, stems out: STFT, the model's masks, alpha-Wiener, iSTFT, chunking.

This is the one place that composes the front end (:mod:`larsnet.stft`), a model
(:mod:`larsnet.model`), the post-filter (:mod:`larsnet.wiener`) and the long-audio
strategy (:mod:`larsnet.chunking`). Two strategies:

* ``"overlap"`` (default): ~23.8 s chunks overlapping by ~1.4 s, cross-faded; memory
  is bounded whatever the file length and chunk borders see context on both sides.
* ``"official"``: the authors' grid, for bit-level comparisons: whole-file STFT, the
  spectrogram cut into non-overlapping 512-frame chunks, zero-padded at the end.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch

from larsnet.chunking import chunk_count, overlap_add
from larsnet.errors import AudioInputError, OptionError
from larsnet.masking import BandMaskApplier, apply_masks, masked_shape
from larsnet.model import SeparationModel
from larsnet.scratch import ScratchBuffers
from larsnet.stft import Stft, magnitude
from larsnet.spatial_options import SPATIAL_MAX_HZ, check_spatial
from larsnet.wiener import spatial_wiener, wiener_shares

Progress = Callable[[int, "int | None"], None]
"""``progress(done_chunks, total_chunks_or_None)``, called after every chunk."""

OFFICIAL_CHUNK_FRAMES = 512
DEFAULT_CHUNK_FRAMES = 1024
DEFAULT_OVERLAP_FRAMES = 64


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """``cpu``, ``cuda[:N]``, ``mps`` or ``auto`` (cuda, then mps, then cpu), checked."""
    name = str(device)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise OptionError(f"device {name!r} requested but CUDA is not available here; use -d cpu or -d auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise OptionError("device 'mps' requested but Apple MPS is not available here; use -d cpu or -d auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise OptionError(f"unknown device {name!r}; use cpu, cuda, mps or auto") from None


def check_alpha(wiener: float | None) -> None:
    if wiener is not None and not (np.isfinite(wiener) and wiener > 0):
        raise OptionError(f"Wiener alpha must be > 0, got {wiener}; omit -w to disable the filter")


def spatial_bins(max_hz: float, sample_rate: int, n_fft: int, n_bins: int) -> int:
    """How many of the lowest bins the filter covers for ``max_hz`` (at least one)."""
    return int(min(n_bins, max(1, round(max_hz * n_fft / sample_rate))))


def as_stereo(audio: np.ndarray) -> np.ndarray:
    """Accept ``(N,)`` or ``(1|2, N)``; return float32 ``(2, N)``; refuse non-finite samples."""
    array = np.asarray(audio, dtype=np.float32)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[0] not in (1, 2):
        raise AudioInputError(
            None, f"audio must be shaped (channels, frames) with 1 or 2 channels, got {array.shape}"
        )
    if array.shape[0] == 1:
        array = np.repeat(array, 2, axis=0)
    if array.shape[1] == 0:
        raise AudioInputError(None, "audio is empty (0 frames)")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise AudioInputError(None, f"audio holds {bad} NaN or infinite samples")
    return array


def pad_frames(mag: torch.Tensor, count: int, *, mirror: bool) -> torch.Tensor:
    """``mag[C, F, T]`` with ``count`` frames appended: the last frames mirrored (repeated
    where there are fewer than ``count + 1``), or zeros when ``mirror`` is False."""
    if not mirror:
        return torch.nn.functional.pad(mag, (0, count))
    mode = "reflect" if count < mag.shape[-1] else "replicate"
    return torch.nn.functional.pad(mag, (0, count), mode=mode)


class Separator:
    """A model ready to separate waveforms at its sample rate (44.1 kHz)."""

    def __init__(
        self,
        model: SeparationModel,
        device: str | torch.device = "cpu",
        *,
        chunk_frames: int = DEFAULT_CHUNK_FRAMES,
        overlap_frames: int = DEFAULT_OVERLAP_FRAMES,
    ):
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        config = model.config
        self.stft = Stft(config.n_fft, config.hop_length, config.win_length)
        self.n_bins = config.n_bins
        step = chunk_frames - overlap_frames
        if chunk_frames % model.time_multiple or step <= 0 or step % model.time_multiple:
            raise ValueError(
                f"chunk_frames and chunk_frames - overlap_frames must be positive multiples of "
                f"{model.time_multiple}, got {chunk_frames} and {overlap_frames}"
            )
        # A chunk of (frames - 1) * hop samples gives exactly `frames` STFT frames, and
        # chunks start every `step` frames: a multiple of the network's stride, so every
        # chunk sees the same time grid as a whole-file pass and agrees with it away
        # from chunk borders (strided convolutions are not shift-invariant otherwise).
        self.chunk = (chunk_frames - 1) * config.hop_length
        self.overlap = self.chunk - step * config.hop_length
        interpolation = model.band_interpolation
        self._band_applier = None if interpolation is None else BandMaskApplier(interpolation).to(self.device)
        self._scratch = ScratchBuffers()

    def release_buffers(self) -> None:
        """Free the work buffers kept between chunks (a few hundred MB), e.g. before a
        long pause; the next separation allocates them again."""
        self._scratch.clear()
        self.stft.release_buffers()

    @property
    def stems(self) -> tuple[str, ...]:
        return self.model.stems

    @property
    def sample_rate(self) -> int:
        return self.model.config.sample_rate

    # --- the per-chunk path -------------------------------------------------------
    def _masks(self, mag: torch.Tensor, grid: int | None, predict: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """``mag[C, n_fft/2+1, T] -> predict(...)[S, C, K, T]`` over the model's bins (no
        Nyquist): bin masks (K = n_bins) or band masks.

        ``grid=None`` runs the whole spectrogram at once, padded to the model's time
        multiple by mirroring its last frames; ``grid=512`` cuts it into zero-padded
        512-frame chunks, as the official code does.

        Why mirror: the networks' receptive field spans seconds, so padding frames reach
        far back into the audio. Zeros read as a sudden silence and the masks near the
        end suffer. On the 10 s test clips (432 frames), padding to a multiple of 32
        with zeros cost a depth-5 model 0.47 dB of mean nSDR against mirrored frames;
        a depth-4 model, which needs no padding there, lost 0.23 dB when zero-padded to
        32 (MODEL_CARD.md, run 6)."""
        frames = mag.shape[-1]
        step = grid or -(-frames // self.model.time_multiple) * self.model.time_multiple
        total = -(-frames // step) * step
        visible = mag[:, : self.n_bins]
        if total != frames:
            visible = pad_frames(visible, total - frames, mirror=grid is None)  # (C, F, total)
        parts = [predict(visible[None, ..., start : start + step])[0] for start in range(0, total, step)]
        masks = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)
        return masks[..., :frames]

    @torch.inference_mode()
    def _process(self, wave: np.ndarray, wiener: float | None, grid: int | None = None,
                 spatial_iterations: int = 0, spatial_max_hz: float = SPATIAL_MAX_HZ) -> np.ndarray:
        """``wave[C, L] -> stems[S, C, L]`` for one chunk (or a whole file)."""
        length = wave.shape[-1]
        x = self.stft.pad_end(torch.from_numpy(np.ascontiguousarray(wave)).to(self.device))
        spec = self.stft.forward(x)  # (C, F, T) complex
        mag = magnitude(spec)
        if spatial_iterations:
            return self._spatial(spec, mag, wiener, grid, spatial_iterations, length, spatial_max_hz)
        if wiener is not None and not (wiener == 1 and self.model.masks_sum_to_one):
            masks = self._masks(mag, grid, self.model.masks)  # (S, C, n_bins, T)
            masks = wiener_shares(masks * mag[:, : masks.shape[-2]], wiener)
            apply = apply_masks
        elif self._band_applier is not None:
            masks = self._masks(mag, grid, self.model.band_masks)  # (S, C, bands, T)
            apply = self._band_applier
        else:
            masks = self._masks(mag, grid, self.model.masks)
            apply = apply_masks
        # One stem at a time from masks to waveform: the masked spectrum and the iSTFT
        # frames of one stem (34 MB each per 23.8 s chunk) are reused for the next, instead
        # of five stems' worth (170 MB each) being allocated and page-faulted per chunk.
        stems = torch.empty((masks.shape[0], *wave.shape), dtype=mag.dtype)
        out = self._scratch.get("masked", masked_shape(1, spec), mag.dtype, mag.device)
        for s in range(masks.shape[0]):
            stems[s] = self.stft.inverse(apply(spec, masks[s : s + 1], out), length)[0]
        return stems.numpy()

    def _spatial(self, spec: torch.Tensor, mag: torch.Tensor, wiener: float | None, grid: int | None,
                 iterations: int, length: int, max_hz: float) -> np.ndarray:
        """The multichannel Wiener path (:func:`larsnet.wiener.spatial_wiener`) on the bins below
        ``max_hz``, started from the alpha-Wiener split (alpha 1 if ``wiener`` is None)."""
        max_bin = spatial_bins(max_hz, self.model.config.sample_rate, self.model.config.n_fft, self.n_bins)
        if self._band_applier is not None and self.model.masks_sum_to_one and wiener in (None, 1):
            return self._spatial_low_bins(spec, mag, grid, iterations, length, max_bin)
        masks = self._masks(mag, grid, self.model.masks)  # (S, C, n_bins, T)
        estimates = masks.mul_(mag[:, : masks.shape[-2]])
        stems_count, bins = estimates.shape[0], estimates.shape[-2]
        out = self._scratch.get("spatial", masked_shape(stems_count, spec), mag.dtype, mag.device)
        out[..., bins:, :].zero_()
        target = torch.view_as_complex(out).transpose(-1, -2)  # (S, C, F, T) view, time-major
        spatial_wiener(estimates, spec[:, :bins], iterations, alpha=wiener or 1.0, out=target[:, :, :bins],
                       max_bin=max_bin)
        stems = torch.empty((stems_count, spec.shape[0], length), dtype=mag.dtype)
        for s in range(stems_count):
            stems[s] = self.stft.inverse(target[s : s + 1], length)[0]
        return stems.numpy()

    def _spatial_low_bins(self, spec: torch.Tensor, mag: torch.Tensor, grid: int | None, iterations: int,
                          length: int, max_bin: int) -> np.ndarray:
        """The filter for a share-mask band model (ours): every stem is the plain path's estimate
        from its band masks, with the bins below ``max_bin`` replaced by the filtered ones. Only
        those bins pay for bin masks (from the few bands that reach them) and the filter, and
        only their spectra are held for all stems at once (10 MB per chunk below 1378 Hz)."""
        band = self._masks(mag, grid, self.model.band_masks)  # (S, C, K, T)
        interpolation = self.model.band_interpolation[:, :max_bin]
        reach = int(torch.nonzero(interpolation.abs().sum(dim=1)).max()) + 1  # bands that reach these bins
        low = torch.matmul(band[..., :reach, :].transpose(-1, -2), interpolation[:reach])  # (S, C, T, f)
        filtered = spatial_wiener(low.transpose(-1, -2).mul_(mag[:, :max_bin]), spec[:, :max_bin], iterations)
        stems = torch.empty((band.shape[0], spec.shape[0], length), dtype=mag.dtype)
        plain = self._scratch.get("masked", masked_shape(1, spec), mag.dtype, mag.device)
        for s in range(band.shape[0]):
            stem = self._band_applier(spec, band[s : s + 1], plain)
            stem[0, :, :max_bin] = filtered[s]
            stems[s] = self.stft.inverse(stem, length)[0]
        return stems.numpy()

    # --- public API ---------------------------------------------------------------
    def separate(
        self,
        audio: np.ndarray,
        *,
        wiener: float | None = None,
        mode: str = "overlap",
        progress: Progress | None = None,
        spatial_iterations: int = 0,
        spatial_max_hz: float = SPATIAL_MAX_HZ,
    ) -> dict[str, np.ndarray]:
        """``audio[2, N]`` (or mono) at :attr:`sample_rate` -> ``{stem: array[2, N]}``.

        ``wiener``: the alpha-Wiener exponent (None: the model's masks as they are).
        ``spatial_iterations``: rounds of the multichannel Wiener filter after it
        (:func:`larsnet.wiener.spatial_wiener`): better stems, most of all the kick and toms.
        0 (off) here, the primitive; :func:`larsnet.separate`, ``larsnet separate`` and the
        ``separate`` node run :data:`~larsnet.spatial_options.SPATIAL_ITERATIONS`.
        ``spatial_max_hz``: the filter works below this frequency, the alpha-Wiener split above
        (:data:`~larsnet.spatial_options.SPATIAL_MAX_HZ`: about 1.1 times the plain time; over all bins
        2.3-2.9 times).
        """
        check_alpha(wiener)
        check_spatial(spatial_iterations, spatial_max_hz)
        stereo = as_stereo(audio)
        if mode == "official":
            stems = self._process(stereo, wiener, grid=OFFICIAL_CHUNK_FRAMES, spatial_iterations=spatial_iterations,
                                  spatial_max_hz=spatial_max_hz)
            if progress:
                progress(1, 1)
        elif mode == "overlap":
            stems = np.concatenate(
                [b for b in self._stream_arrays([stereo], wiener, progress, stereo.shape[-1], spatial_iterations,
                                                spatial_max_hz)],
                axis=-1,
            )
        else:
            raise OptionError(f"unknown mode {mode!r}; use 'overlap' or 'official'")
        return {stem: stems[i] for i, stem in enumerate(self.stems)}

    def separate_stream(
        self,
        blocks: Iterable[np.ndarray],
        *,
        wiener: float | None = None,
        progress: Progress | None = None,
        total_frames: int | None = None,
        spatial_iterations: int = 0,
        spatial_max_hz: float = SPATIAL_MAX_HZ,
    ) -> Iterator[dict[str, np.ndarray]]:
        """Separate a stream of ``block[2, n]``; yield ``{stem: array[2, m]}`` in order.

        The yielded blocks add up to the input length; about two chunks are held in
        memory at any time. ``total_frames`` (if known) lets ``progress`` show a total.
        ``wiener``, ``spatial_iterations`` and ``spatial_max_hz`` as in :meth:`separate`.
        """
        check_alpha(wiener)
        check_spatial(spatial_iterations, spatial_max_hz)
        for out in self._stream_arrays(blocks, wiener, progress, total_frames, spatial_iterations, spatial_max_hz):
            yield {stem: out[i] for i, stem in enumerate(self.stems)}

    def chunks_for(self, frames: int) -> int:
        """Chunks a file of ``frames`` samples takes in the default mode."""
        return chunk_count(frames, self.chunk, self.overlap)

    def _stream_arrays(
        self,
        blocks: Iterable[np.ndarray],
        wiener: float | None,
        progress: Progress | None,
        total_frames: int | None,
        spatial_iterations: int = 0,
        spatial_max_hz: float = SPATIAL_MAX_HZ,
    ) -> Iterator[np.ndarray]:
        total = None if total_frames is None else self.chunks_for(total_frames)
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, total)

        checked = (as_stereo(block) for block in blocks)
        yield from overlap_add(
            lambda wave: self._process(wave, wiener, spatial_iterations=spatial_iterations, spatial_max_hz=spatial_max_hz),
            checked,
            chunk=self.chunk,
            overlap=self.overlap,
            on_chunk=tick,
        )
