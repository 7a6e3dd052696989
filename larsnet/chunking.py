"""Overlap-add over long audio in bounded memory (the shape of demucs' ``apply.py``).

The input arrives as a stream of blocks; it is cut into chunks of ``chunk`` samples
that overlap by ``overlap`` samples; each chunk is processed on its own and the
results are cross-faded with complementary raised-cosine ramps (``w_out + w_in == 1``
at every sample), so an identity process returns its input and a process whose
outputs sum to its input (alpha-Wiener) keeps that property across chunk borders.
Only about two chunks of audio are ever held, whatever the file length.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

Process = Callable[[np.ndarray], np.ndarray]
"""``chunk[C, L] -> out[S, C, L]``: any per-chunk transform that keeps the length."""


def fade_in(length: int) -> np.ndarray:
    """Raised-cosine ramp 0 -> 1 over ``length`` samples; ``1 - fade_in`` fades out."""
    t = (np.arange(length, dtype=np.float64) + 0.5) / length
    return (np.sin(0.5 * np.pi * t) ** 2).astype(np.float32)


def chunk_count(total: int, chunk: int, overlap: int) -> int:
    """Chunks the stream of ``total`` samples will be cut into (for progress bars)."""
    if total <= chunk:
        return 1
    step = chunk - overlap
    return 1 + -(-(total - chunk) // step)


class _Buffer:
    """Input samples not yet consumed, as one growing-and-shrinking array."""

    def __init__(self, blocks: Iterable[np.ndarray]):
        self._blocks = iter(blocks)
        self._parts: list[np.ndarray] = []
        self._size = 0
        self.exhausted = False

    def fill(self, size: int) -> None:
        """Read blocks until at least ``size`` samples are held or the stream ends."""
        while self._size < size and not self.exhausted:
            try:
                block = np.asarray(next(self._blocks), dtype=np.float32)
            except StopIteration:
                self.exhausted = True
                break
            if block.ndim != 2:
                raise ValueError(f"blocks must be (channels, frames), got shape {block.shape}")
            if block.shape[-1]:
                self._parts.append(block)
                self._size += block.shape[-1]

    def peek(self, size: int) -> np.ndarray:
        joined = np.concatenate(self._parts, axis=-1) if len(self._parts) > 1 else self._parts[0]
        self._parts = [joined]
        return joined[:, :size]

    def drop(self, size: int) -> None:
        joined = self.peek(self._size)
        self._parts = [joined[:, size:]] if size < self._size else []
        self._size = max(self._size - size, 0)

    @property
    def size(self) -> int:
        return self._size


def overlap_add(
    process: Process,
    blocks: Iterable[np.ndarray],
    *,
    chunk: int,
    overlap: int,
    on_chunk: Callable[[], None] | None = None,
) -> Iterator[np.ndarray]:
    """Run ``process`` over ``blocks`` chunk by chunk; yield ``out[S, C, n]`` blocks in order.

    The yielded blocks add up to exactly the input length. Each chunk starts
    ``chunk - overlap`` samples after the previous one; the last chunk may be shorter.
    """
    if not 0 <= overlap < chunk:
        raise ValueError(f"need 0 <= overlap < chunk, got overlap={overlap}, chunk={chunk}")
    ramp = fade_in(overlap) if overlap else np.zeros(0, np.float32)
    buffer = _Buffer(blocks)
    pending: np.ndarray | None = None  # processed tail overlapping the next chunk: (S, C, overlap)
    while True:
        # One sample more than a chunk tells whether another chunk follows this one.
        buffer.fill(chunk + 1)
        if buffer.size == 0:
            if pending is not None:  # stream ended exactly at a chunk border: flush the tail
                yield pending
            return
        last = buffer.exhausted and buffer.size <= chunk
        piece = buffer.peek(min(chunk, buffer.size))
        out = process(piece)
        if on_chunk is not None:
            on_chunk()
        length = piece.shape[-1]
        if pending is not None:
            head = min(overlap, length)
            out[..., :head] = pending[..., :head] * (1.0 - ramp[:head]) + out[..., :head] * ramp[:head]
        if last:
            yield out
            return
        # Everything but the last `overlap` samples is final; the tail waits for the next chunk.
        keep = length - overlap
        yield out[..., :keep]
        pending = out[..., keep:].copy()
        buffer.drop(keep)
