"""Procedural hi-hats and cymbals: modal synthesis with random metal, for training data.

The default model confuses a held-out kit's hats with its cymbals (an open hat lands in
the cymbal stem, a closed hat in the snare's): our 19 training kits hold only a few dozen
hats and cymbals, and a model can learn each of them by its timbre instead of by what
makes a hat a hat (a short, choked, repeated stroke) and a cymbal a cymbal (a long
wash, struck seldom). A *metal kit* made here has a hi-hat and two cymbals whose
timbre is drawn at random from a wide family, so timbre alone stops telling them apart.

Each instrument is one random plate: a few hundred inharmonic modes, log-uniform between
a low and a high frequency, each a decaying sine whose time constant falls with
frequency (``tau(f) = tau_1k * (f / 1 kHz) ** -kappa``: a struck plate loses its top
first), plus a band of decaying noise (the sizzle) and a few milliseconds of stick click.
The closed and open hat are the same plate, damped differently (as a real hat is the same
pair of cymbals, pressed together or not). Softer velocity layers are darker, as struck
metal is. The two channels get their own mode phases and amplitudes (two overhead
microphones) and the instrument a random pan.

Kits are named ``synthetic-metal-<seed>`` so a training command line and a checkpoint's
provenance say exactly which were used (:func:`metal_kit_seed` parses the name); the same
seed always gives the same samples.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np
from scipy import signal

from larsnet.data.kit import Instrument, Kit, MappedKit, MappingReport, VelocityLayer
from larsnet.stems import SAMPLE_RATE

METAL_KIT_PREFIX = "synthetic-metal-"
METAL_PIECES: tuple[str, ...] = ("hihat_closed", "hihat_open", "crash", "ride")
LAYERS = 3
ROUND_ROBIN = 2
TAIL_DB = -60.0
"""A sample lasts until its slowest mode has decayed this far (or the damping's ``max_s``)."""


@dataclass(frozen=True)
class Plate:
    """One random plate: what stays the same across an instrument's layers and round robin."""

    freqs: np.ndarray  # (M,) Hz
    amps: np.ndarray  # (M,) linear, before the velocity tilt
    kappa: float  # decay-vs-frequency exponent
    noise_band: tuple[float, float]  # Hz
    noise_share: float  # noise level against the modes' (linear)
    pan: float  # -1 (left) .. 1 (right)


@dataclass(frozen=True)
class Damping:
    """How a plate is played: the decay at 1 kHz, the longest sample, the click level."""

    tau_1k_s: float
    max_s: float
    click: float
    kappa: float | None = None
    """Overrides the plate's decay-vs-frequency exponent: a closed hat is pressed shut, which
    damps its low modes as hard as its high ones."""


def metal_kit_name(seed: int) -> str:
    return f"{METAL_KIT_PREFIX}{int(seed)}"


def metal_kit_seed(name: str) -> int | None:
    """The seed of a ``synthetic-metal-<seed>`` kit name, or None for any other name."""
    m = re.fullmatch(re.escape(METAL_KIT_PREFIX) + r"(\d+)", name.strip())
    return int(m.group(1)) if m else None


def _plate(rng: np.random.Generator, *, f_lo: tuple[float, float], modes: tuple[int, int],
           tilt_db: tuple[float, float]) -> Plate:
    """A random plate: modes log-uniform from a low edge drawn in ``f_lo`` to 9-18 kHz, their
    levels tilted by a slope drawn in ``tilt_db`` (dB per octave) with random scatter."""
    lo = float(np.exp(rng.uniform(*np.log(f_lo))))
    hi = float(rng.uniform(9000.0, 18000.0))
    m = int(rng.integers(*modes))
    freqs = np.exp(rng.uniform(np.log(lo), np.log(hi), m))
    tilt_db_per_octave = rng.uniform(*tilt_db)
    amps = (freqs / 1000.0) ** (tilt_db_per_octave / 6.02) * rng.lognormal(0.0, 0.6, m)
    band_lo = float(rng.uniform(lo, 4000.0))
    return Plate(freqs=freqs, amps=amps / np.sqrt(np.sum(amps**2)), kappa=float(rng.uniform(0.2, 0.9)),
                 noise_band=(band_lo, float(min(19000.0, rng.uniform(2.0, 5.0) * band_lo))),
                 noise_share=float(rng.uniform(0.1, 0.9)), pan=float(rng.uniform(-0.6, 0.6)))


def _modes(freqs: np.ndarray, amps: np.ndarray, taus: np.ndarray, phases: np.ndarray, n: int,
           block: int = 1024) -> np.ndarray:
    """``sum_i amps_i * exp(-t / taus_i) * sin(2 pi freqs_i t + phases_i)`` for ``n`` samples, (n,) float64.

    Mode ``i`` at sample ``b * block + m`` is ``c_i z_i ** (b * block) * z_i ** m`` with
    ``z_i = exp(-1 / (tau_i sr) + 2 pi j f_i / sr)``, so the whole sum is one complex
    matrix product (blocks x modes) @ (modes x block): a few hundred modes over seconds
    of audio take milliseconds instead of a Python loop over modes."""
    lam = -1.0 / (taus * SAMPLE_RATE) + 2j * np.pi * freqs / SAMPLE_RATE  # (M,)
    blocks = -(-n // block)
    within = np.exp(lam[:, None] * np.arange(block))  # (M, block)
    starts = amps * np.exp(1j * phases) * np.exp(lam[None, :] * (np.arange(blocks)[:, None] * block))  # (blocks, M)
    return (starts @ within).imag.reshape(-1)[:n]


def _strike(plate: Plate, damping: Damping, brightness: float, rng: np.random.Generator) -> np.ndarray:
    """One hit (2, n) float32, peak-normalised to 0.5: the modes, the noise band, the click.

    ``brightness`` in (0, 1]: 1 is the hardest stroke; softer ones lose their top by
    up to 6 dB per octave above 1 kHz."""
    kappa = plate.kappa if damping.kappa is None else damping.kappa
    taus = damping.tau_1k_s * (plate.freqs / 1000.0) ** -kappa * rng.lognormal(0.0, 0.25, len(plate.freqs))
    life = -TAIL_DB / 20.0 * np.log(10.0)  # time constants until TAIL_DB
    n = max(64, int(np.ceil(min(float(taus.max()) * life, damping.max_s) * SAMPLE_RATE)))
    tilt = (np.maximum(plate.freqs, 1000.0) / 1000.0) ** (-6.0 * (1.0 - brightness) / 6.02)
    t_full = np.arange(n) / SAMPLE_RATE
    out = np.stack([_modes(plate.freqs, plate.amps * tilt * rng.lognormal(0.0, 0.3, len(plate.freqs)), taus,
                           rng.uniform(0.0, 2 * np.pi, len(plate.freqs)), n) for _ in range(2)])
    # the noise band decays like the modes near its centre; the click is a few ms of broadband noise
    centre = float(np.sqrt(plate.noise_band[0] * plate.noise_band[1]))
    tau_noise = damping.tau_1k_s * (centre / 1000.0) ** -kappa
    sos = signal.butter(2, [plate.noise_band[0], plate.noise_band[1]], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal((2, n)), axis=-1) * np.exp(-t_full / tau_noise)
    mode_rms = np.sqrt(np.mean(out[:, : max(1, n // 8)] ** 2)) + 1e-12
    noise_rms = np.sqrt(np.mean(noise[:, : max(1, n // 8)] ** 2)) + 1e-12
    out += noise * (plate.noise_share * mode_rms / noise_rms)
    click_n = int(rng.uniform(0.001, 0.004) * SAMPLE_RATE)
    click = rng.standard_normal((2, click_n)) * np.exp(-np.arange(click_n) / (click_n / 4.0))
    out[:, :click_n] += click * damping.click * brightness * np.abs(out).max()
    angle = (plate.pan + 1.0) * np.pi / 4.0
    out *= np.array([[np.cos(angle)], [np.sin(angle)]]) * np.sqrt(2.0)
    fade = min(n, int(0.005 * SAMPLE_RATE))
    out[:, n - fade:] *= np.linspace(1.0, 0.0, fade)
    return (0.5 * out / (np.abs(out).max() + 1e-12)).astype(np.float32)


def _instrument(name: str, plate: Plate, damping: Damping, rng: np.random.Generator) -> Instrument:
    bounds = np.linspace(0, 127, LAYERS + 1).round().astype(int)
    layers = []
    for li in range(LAYERS):
        brightness = (li + 1) / LAYERS
        level = 0.4 + 0.6 * brightness
        samples = [_strike(plate, damping, brightness, rng) * np.float32(level) for _ in range(ROUND_ROBIN)]
        layers.append(VelocityLayer(lo=1 if li == 0 else int(bounds[li]) + 1, hi=int(bounds[li + 1]), samples=samples))
    return Instrument(name=name, layers=layers)


@functools.lru_cache(maxsize=None)
def make_metal_kit(seed: int) -> MappedKit:
    """The metal kit ``synthetic-metal-<seed>``: a hi-hat (closed, open) and a crash and a
    ride, every one from its own random plate. Cached per process: treat it as read-only."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x6D6574]))
    hat = _plate(rng, f_lo=(300.0, 3000.0), modes=(120, 260), tilt_db=(-3.0, 5.0))
    instruments = {
        "hihat_closed": _instrument("Hi-hat closed", hat, Damping(float(rng.uniform(0.006, 0.045)), 0.6,
                                                                  float(rng.uniform(0.5, 2.0)),
                                                                  kappa=float(rng.uniform(-0.2, 0.3))), rng),
        "hihat_open": _instrument("Hi-hat open", hat, Damping(float(rng.uniform(0.25, 1.2)), 3.0,
                                                              float(rng.uniform(0.2, 1.0))), rng),
        "crash": _instrument("Crash", _plate(rng, f_lo=(150.0, 1200.0), modes=(150, 300), tilt_db=(-4.0, 3.0)),
                             Damping(float(rng.uniform(0.6, 2.5)), 5.0, float(rng.uniform(0.1, 0.6))), rng),
        "ride": _instrument("Ride", _plate(rng, f_lo=(200.0, 1500.0), modes=(100, 240), tilt_db=(-4.0, 3.0)),
                            Damping(float(rng.uniform(0.8, 3.0)), 5.0, float(rng.uniform(0.3, 1.5))), rng),
    }
    name = metal_kit_name(seed)
    kit = Kit(name=name, instruments=list(instruments.values()), source="generated", format="synthetic",
              license="CC0-1.0 (generated by larsnet)", author="larsnet")
    report = MappingReport(kit=name, mapped={p: inst.name for p, inst in instruments.items()},
                           missing=[p for p in ("kick", "snare", "hi_tom", "mid_tom", "floor_tom")])
    return MappedKit(kit=kit, pieces=instruments, report=report)
