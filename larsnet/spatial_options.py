"""The multichannel Wiener filter's user-facing settings: defaults, checks, and the keyword
arguments that carry them to ``separate``. Kept free of torch so that option parsing (the CLI,
batch options, graph nodes) does not load the model stack."""
from __future__ import annotations

import numbers

from larsnet.errors import OptionError

SPATIAL_ITERATIONS = 2
"""The rounds of the multichannel Wiener filter (:func:`larsnet.wiener.spatial_wiener`) that
``larsnet separate``, :func:`larsnet.separate` and the ``separate`` node run unless told otherwise
(with :data:`SPATIAL_MAX_HZ`). Over every bin, three rounds are what the example graphs run: on
the 90 held-out validation clips (``larsnet evaluate --split validation --wiener 1``, the
session-8 default model) the mean nSDR is 7.94 dB without the filter and 8.97 with it. On 40
validation clips (seed 9) below 5512.5 Hz, 1 / 2 / 3 rounds scored 8.30 / 8.48 / 8.52; with the
textbook power weights (before :data:`larsnet.wiener.SPATIAL_EXPONENT`), over every bin, one
round gave 8.18, three 8.36 and six 8.41 on the 90 clips. Each round adds less and costs as much."""

SPATIAL_MAX_HZ = 1378.125
"""The filter works on the bins below this frequency (128 of LarsNet's 2048); above it each stem is
the plain (alpha-Wiener) split. Where the drums overlap most, the kick, toms and snare bodies, is
where a stem's place between the speakers parts it from the others. On 40 held-out validation
clips (seed 9) the mean nSDR was 7.51 dB without the filter; with 3 rounds below 1378 / 2756 /
5512 / 11025 / 22050 Hz 8.45 / 8.48 / 8.52 / 8.59 / 8.63, and with 2 rounds below 1378 / 2756 /
4134 / 5512 / 11025 Hz 8.41 / 8.44 / 8.46 / 8.48 / 8.54. Separating 60 s in process (2 threads,
medians of 5) took 1.05 times the plain time with 2 rounds below 1378 Hz, 1.17 below 2756, 1.33
below 4134, and 1.35 with 3 rounds below 5512 (over every bin: 2.3-2.9 times). The band model's
plain stems are kept above the cutoff, so only the bins below it pay. The default keeps 81% of
the full filter's gain for 5-10% more time (``bench/bench_separate.py``: 1.1x); the example
graphs filter every bin."""

FULL_BAND_HZ = 22050.0
"""A top frequency that covers every bin (the Nyquist frequency at 44.1 kHz)."""


def default_iterations(mode: str = "overlap") -> int:
    """The rounds run when none are asked for: :data:`SPATIAL_ITERATIONS`, except in the ``official``
    mode, which reproduces the authors' inference path exactly (their checkpoints give their stems)."""
    return 0 if mode == "official" else SPATIAL_ITERATIONS


def resolve_spatial(iterations: int | None, max_hz: float | None, mode: str = "overlap") -> tuple[int, float]:
    """The filter settings to run with: the defaults where nothing was given (None)."""
    return (default_iterations(mode) if iterations is None else iterations,
            SPATIAL_MAX_HZ if max_hz is None else max_hz)


def check_spatial(iterations: int, max_hz: float = SPATIAL_MAX_HZ) -> None:
    """One-line errors for filter settings users give."""
    if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral) or iterations < 0:
        raise OptionError(f"spatial iterations must be a whole number >= 0, got {iterations!r}; 0 turns the filter off")
    if isinstance(max_hz, bool) or not isinstance(max_hz, numbers.Real) or not max_hz > 0:
        raise OptionError(f"the spatial filter's top frequency must be a number of Hz > 0, got {max_hz!r}")


def spatial_kwargs(iterations: int, max_hz: float = SPATIAL_MAX_HZ) -> dict[str, int | float]:
    """The filter's keyword arguments for ``separate(...)``: none when it is off, so separators
    without the filter (test doubles, other engines) still serve."""
    check_spatial(iterations, max_hz)
    return {"spatial_iterations": int(iterations), "spatial_max_hz": float(max_hz)} if iterations else {}
