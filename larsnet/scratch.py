"""Work tensors reused from one chunk to the next.

Why this exists: glibc serves every allocation above its mmap threshold (32 MB at most)
with fresh pages from the kernel, and the first write to each page faults and zeroes
it. Separating one 23.8 s chunk with LarsNet's 4096/1024 STFT allocates about 500 MB
of such tensors (masked spectra, iSTFT frames, overlap-add sums), and those faults
cost as much time as the network itself. Reusing the same tensors for every chunk
of a file removes them.

Buffers are per thread (two threads sharing a separator never share a buffer) and
are dropped when the owner is pickled, so a separator can still be sent to worker
processes.
"""
from __future__ import annotations

import threading

import torch


class ScratchBuffers:
    """Named reusable tensors: ``get(name, shape, ...)`` returns the same tensor while
    the shape, dtype and device stay the same, a new one otherwise.

    Contents are whatever the previous user left (``zero=True`` zeroes a buffer only
    when it is created), so callers overwrite what they read. A returned buffer is only valid until
    the next ``get`` of the same name on the same thread, so never hand one to a
    caller who might keep it.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def get(
        self,
        name: str,
        shape: tuple[int, ...],
        dtype: torch.dtype,
        device: torch.device,
        *,
        zero: bool = False,
    ) -> torch.Tensor:
        store: dict[str, torch.Tensor] = self._local.__dict__.setdefault("store", {})
        tensor = store.get(name)
        if tensor is None or tuple(tensor.shape) != tuple(shape) or tensor.dtype != dtype or tensor.device != device:
            store.pop(name, None)  # free the old size before allocating the new one
            tensor = (torch.zeros if zero else torch.empty)(shape, dtype=dtype, device=device)
            store[name] = tensor
        return tensor

    def clear(self) -> None:
        """Release this thread's buffers (memory goes back to the allocator)."""
        self._local.__dict__.pop("store", None)

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self._local = threading.local()
