"""Where tracks run: in this process, or in a local process pool — one interface.

Both take a picklable job function and picklable jobs, and yield results as they
finish. Only plain data crosses process boundaries (the graph spec, a track, options):
workers rebuild the graph and build pedalboard chains themselves, since pedalboard
objects cannot be pickled. A cluster executor (Ray, ...) would implement the same two
methods.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence


class Executor(Protocol):
    jobs: int
    in_process: bool  # True: ``fn`` may be any callable; False: it and the items must pickle

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        """Yield ``fn(item)`` for every item as each finishes; stop submitting when closed."""

    def close(self) -> None:
        """Cancel what has not started."""


class InProcessExecutor:
    jobs = 1
    in_process = True

    def __init__(self) -> None:
        self._closed = False

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        for item in items:
            if self._closed:
                return
            yield fn(item)

    def close(self) -> None:
        self._closed = True


def _init_worker(threads: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover
        pass
    if initializer is not None:
        initializer(*initargs)


class ProcessPoolTrackExecutor:
    """A local pool of ``jobs`` processes (spawned: no fork of a process holding torch threads)."""

    in_process = False

    def __init__(self, jobs: int, *, threads_per_job: int | None = None,
                 initializer: Callable[..., None] | None = None, initargs: Iterable[Any] = ()):
        self.jobs = jobs
        threads = threads_per_job or max(1, (os.cpu_count() or 1) // jobs)
        self._pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(threads, initializer, tuple(initargs)))
        self._closed = False

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        pending: set[Future[Any]] = {self._pool.submit(fn, item) for item in items}
        try:
            while pending and not self._closed:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)


def make_executor(jobs: int) -> Executor:
    """``--jobs 1``: this process; more: a local pool of that many processes."""
    return InProcessExecutor() if jobs <= 1 else ProcessPoolTrackExecutor(jobs)
