"""Torch datasets of (mixture, five stems) examples: rendered on the fly, or read from disk.

- :class:`OnTheFlyDataset` renders random segments of GMD training performances, each
  stem through its own random training kit (kit mixing), with the LarsNet paper's
  augmentations plus room reverb and EQ. Nothing is stored, so the data never repeats
  and costs no disk. One core renders about 100 s of augmented audio per second
  (``bench/bench_sampler.py``), roughly ten times what training consumes here.
- :class:`FixedEvalSet` is the reproducible validation/test set: fixed clips of the
  GMD validation/test performances on the held-out kits, no augmentation, with a
  manifest of (performance, kit, start) so every evaluation scores the same audio.
- :class:`StemGMDDataset` reads fixed windows of StemGMD (or ``larsnet synth``
  output) from disk.

Every example is a pair of float32 tensors ``mixture (2, L)`` and ``stems (5, 2, L)``
in :data:`larsnet.stems.STEMS` order, with ``mixture == stems.sum(0)`` (summed in
that order).
"""
from __future__ import annotations

import csv
import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Literal, Sequence

import numpy as np
import soundfile as sf
import torch
from scipy import fft as sp_fft
from scipy import signal
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from larsnet.data.gmd import GmdRecord, read_gmd
from larsnet.data.kit import MappedKit, VelocityLayer
from larsnet.data.midi import Hit, Performance, read_drum_midi
from larsnet.data.sampler import render_pieces
from larsnet.data.stemgmd import DEFAULT_PATTERN, StemGMDItem, scan_stemgmd
from larsnet.errors import AudioInputError, LarsNetError, OptionError
from larsnet.stems import HELD_OUT_KITS, PIECES, PIECES_OF_STEM, SAMPLE_RATE, STEMS

HOP = 1024


def segment_samples_for_frames(frames: int, hop: int = HOP) -> int:
    """Samples that give exactly ``frames`` STFT frames with a centred STFT: ``(frames-1)*hop``."""
    return (frames - 1) * hop


DEFAULT_SEGMENT = segment_samples_for_frames(256)
"""261 120 samples (5.9 s): 256 STFT frames, the segment length the prototypes trained on."""

Example = tuple[torch.Tensor, torch.Tensor]


# --------------------------------------------------------------------------- loading


def load_performances(
    records: Sequence[GmdRecord], *, on_error: Callable[[str], None] | None = None
) -> tuple[list[GmdRecord], list[Performance]]:
    """Read every record's MIDI; bad files are reported through ``on_error`` and dropped.

    Returns the records that loaded and their performances, in input order. Takes
    about 10 ms per file (mido's parser), i.e. ~10 s for GMD's training split.
    """
    kept: list[GmdRecord] = []
    performances: list[Performance] = []
    for record in records:
        try:
            performances.append(read_drum_midi(record.midi_path))
            kept.append(record)
        except LarsNetError as exc:
            if on_error is not None:
                on_error(str(exc))
    return kept, performances


def _kits_by_name(names: Sequence[str]) -> list[MappedKit]:
    """Installed kits through discovery; ``synthetic-metal-<seed>`` names are generated
    (:mod:`larsnet.data.metal`), so a training command can mix them in by name."""
    from larsnet.data import discovery
    from larsnet.data.metal import make_metal_kit, metal_kit_seed

    kits = []
    for name in names:
        seed = metal_kit_seed(name)
        kits.append(make_metal_kit(seed) if seed is not None else discovery.get_kit(name))
    return kits


def _default_training_kit_names() -> list[str]:
    from larsnet.data import discovery

    return [e.name for e in discovery.training_kits()]


def _check_trainable(kits: Sequence[str | MappedKit]) -> None:
    """Refuse held-out kits, and (for kits named through discovery) kits sharing samples with one."""
    names = [k if isinstance(k, str) else k.name for k in kits]
    bad = [n for n in names if n in HELD_OUT_KITS]
    if any(isinstance(k, str) for k in kits):
        from larsnet.data import discovery

        entries = discovery.find_kits()
        tainted = {e.family for e in entries if e.held_out}
        bad += [e.name for e in entries if e.name in names and e.name not in bad and (e.held_out or e.family in tainted)]
    if bad:
        raise OptionError(
            f"kits {', '.join(bad)} are held out for testing (or share their samples); never train on them"
        )


def _to_tensors(mix: np.ndarray, stems: np.ndarray) -> Example:
    return torch.from_numpy(np.ascontiguousarray(mix)), torch.from_numpy(np.ascontiguousarray(stems))


def _mix_of(stems: np.ndarray) -> np.ndarray:
    """(5, 2, L) -> (2, L): the sum in STEMS order (the same order every time, so exact)."""
    mix = np.zeros(stems.shape[1:], dtype=np.float32)
    for s in range(stems.shape[0]):
        mix += stems[s]
    return mix


# --------------------------------------------------------------------------- augmentation


@dataclass(frozen=True)
class Augmentation:
    """Probabilities and ranges of the augmentations.

    ``p_example``: share of examples that are augmented at all (the paper: half).
    Within an augmented example each stem independently gets: ``kit_swap`` (a
    different kit than the rest; only matters without kit mixing), ``doubling``
    (averaged with the same stem from another kit), ``pitch_shift`` (uniform in
    +-``pitch_semitones``, quantised to 1/4 semitone so shifted one-shots are reused
    from the sampler's cache), ``saturation`` (``tanh(beta x)/beta``, beta uniform in
    ``saturation_beta``), ``eq`` (random low and high shelf, +-``eq_db``), ``gain``
    (uniform in ``gain_db``), ``lr_swap``. ``reverb``: one generated room (decaying
    stereo noise, RT60 in ``reverb_rt60_s``) on all stems of the example, so it
    behaves like a room around the whole kit. ``eq_peak``: share of EQ'd stems that
    also get a random bell (200 Hz-8 kHz, +-``eq_db``); shelves tilt a kit, a bell
    moves the resonances (a snare's body, a tom's pitch) that tell one kit from another.
    It is 0 by default, so runs made before it existed draw the same examples.
    ``hats_from_cymbals``: share of hi-hat stems whose hats are played by a cymbal of the same
    kit: the open hat by its crash (or ride), choked by the next closed hat as any open hat is, and
    the closed hat by that cymbal cut short (an exponential fade, time constant uniform in
    ``hats_from_cymbals_fade_ms``). Why: ForzeeStereo's open hat is as dark and long as a crash
    (spectral centroid 2.4 kHz, about 0.9 s to -30 dB) and 75% of it goes to the cymbal stem;
    darker hats (``metal_tilt``, ``hat_pitch``) and generated metal kits did not change that.
    A real cymbal played on the hi-hat's part leaves only the part itself (the steady pattern,
    the choke) to say "hi-hat". 0 by default, as ``eq_peak``.
    ``hat_pitch``: share of hi-hat stems pitched down by whole semitones in ``hat_semitones``
    instead of the ``pitch_shift`` draw. The sampler resamples, so a hat an octave down is
    half as bright and rings twice as long. Why: ForzeeStereo's open hat (spectral centroid
    2.6 kHz, 1 s to -30 dB) is heard as a cymbal (78% of its energy goes there), for its long
    decay more than its colour, and no training kit has a hat that dark and long; a high shelf
    (``metal_tilt``) darkens a hat but cannot lengthen it. 0 by default, as ``eq_peak``.
    ``metal_tilt``: share of hi-hat and cymbal stems given a high shelf (2-6 kHz, gain
    uniform in ``metal_tilt_db``), mostly a cut. Why: brightness is the cue that tells
    a hat from a cymbal in our training kits (closed hats' spectral centroid 5-13 kHz,
    median about 10), and a darker hat is heard as a cymbal. ForzeeStereo's closed hat
    (5.7 kHz) loses 23% of its energy to the cymbals stem, its open hat (2.6 kHz) 78%
    (MODEL_CARD.md, "Where each piece goes"). 0 by default, as ``eq_peak``.
    ``stereo_spread``: share of stems made wide as a spaced microphone pair hears them
    (:func:`spread_stereo`): one channel delayed by up to ``stereo_delay_ms`` and each
    channel given its own early reflections, ``stereo_reflections`` of the direct energy.
    Why: nearly every training kit is a mono sample panned, so its two channels are
    copies; ForzeeStereo's snare and toms arrive 1-3 ms apart and its hats and snare keep
    coherence 0.4-0.5 above 1 kHz. Collapsing ForzeeStereo clips to mono raised the
    session-7 model's mean nSDR from 5.94 to 7.25 dB (20 validation clips), so the wide
    image, not the sounds, was much of what it got wrong there; run 13, fine-tuned with
    ``stereo_spread=1``, is the session-8 default. 0 by default, as ``eq_peak``.
    """

    p_example: float = 0.5
    kit_swap: float = 0.5
    doubling: float = 0.3
    pitch_shift: float = 0.3
    pitch_semitones: float = 3.0
    saturation: float = 0.3
    saturation_beta: tuple[float, float] = (1.0, 5.0)
    lr_swap: float = 0.5
    gain: float = 0.3
    gain_db: tuple[float, float] = (-12.0, 0.0)
    reverb: float = 0.3
    reverb_rt60_s: tuple[float, float] = (0.2, 0.8)
    reverb_wet: tuple[float, float] = (0.05, 0.3)
    eq: float = 0.3
    eq_db: float = 6.0
    eq_peak: float = 0.0
    hat_pitch: float = 0.0
    hat_semitones: tuple[float, float] = (-12.0, -3.0)
    hats_from_cymbals: float = 0.0
    hats_from_cymbals_fade_ms: tuple[float, float] = (20.0, 80.0)
    metal_tilt: float = 0.0
    metal_tilt_db: tuple[float, float] = (-15.0, 6.0)
    stereo_spread: float = 0.0
    stereo_delay_ms: float = 3.0
    stereo_reflections: tuple[float, float] = (0.2, 2.0)

    def __post_init__(self) -> None:
        for name in ("p_example", "kit_swap", "doubling", "pitch_shift", "saturation", "lr_swap", "gain", "reverb", "eq",
                     "eq_peak", "hat_pitch", "hats_from_cymbals", "metal_tilt", "stereo_spread"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise OptionError(f"augmentation probability {name} must be in [0, 1], got {value}")
        low, high = self.stereo_reflections
        if self.stereo_delay_ms < 0 or not 0.0 <= low <= high:
            raise OptionError(f"stereo_delay_ms must be >= 0 and stereo_reflections a range 0 <= low <= high, "
                              f"got {self.stereo_delay_ms} and {self.stereo_reflections}")
        low, high = self.hat_semitones
        if not low <= high:
            raise OptionError(f"hat_semitones must be a range LO,HI with LO <= HI, got {self.hat_semitones}")
        low, high = self.hats_from_cymbals_fade_ms
        if not 0.0 < low <= high:
            raise OptionError(f"hats_from_cymbals_fade_ms must be a range LO,HI with 0 < LO <= HI, "
                              f"got {self.hats_from_cymbals_fade_ms}")


NO_AUGMENTATION = Augmentation(p_example=0.0)

METAL_STEMS: tuple[str, ...] = ("hihat", "cymbals")
"""The stems :attr:`Augmentation.metal_tilt` applies to."""


def saturate(x: np.ndarray, beta: float) -> np.ndarray:
    """``tanh(beta x) / beta``: unity slope at 0, soft-clips peaks above ~1/beta."""
    return (np.tanh(beta * x) / beta).astype(np.float32)


def shelf_sos(kind: Literal["low", "high"], freq_hz: float, gain_db: float) -> np.ndarray:
    """RBJ-cookbook shelving biquad (slope 1) as a (1, 6) second-order section."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * freq_hz / SAMPLE_RATE
    cw, sw = np.cos(w0), np.sin(w0)
    alpha = sw / 2.0 * np.sqrt(2.0)
    k = 2.0 * np.sqrt(a) * alpha
    if kind == "low":
        b = [a * ((a + 1) - (a - 1) * cw + k), 2 * a * ((a - 1) - (a + 1) * cw), a * ((a + 1) - (a - 1) * cw - k)]
        den = [(a + 1) + (a - 1) * cw + k, -2 * ((a - 1) + (a + 1) * cw), (a + 1) + (a - 1) * cw - k]
    else:
        b = [a * ((a + 1) + (a - 1) * cw + k), -2 * a * ((a - 1) + (a + 1) * cw), a * ((a + 1) + (a - 1) * cw - k)]
        den = [(a + 1) - (a - 1) * cw + k, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - k]
    return np.array([[*(np.array(b) / den[0]), 1.0, den[1] / den[0], den[2] / den[0]]])


def peak_sos(freq_hz: float, gain_db: float, q: float) -> np.ndarray:
    """RBJ-cookbook peaking (bell) biquad as a (1, 6) second-order section."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * freq_hz / SAMPLE_RATE
    alpha = np.sin(w0) / (2.0 * q)
    cw = np.cos(w0)
    b = [1 + alpha * a, -2 * cw, 1 - alpha * a]
    den = [1 + alpha / a, -2 * cw, 1 - alpha / a]
    return np.array([[*(np.array(b) / den[0]), 1.0, den[1] / den[0], den[2] / den[0]]])


SPREAD_REFLECTIONS = 12
"""Early reflections per channel in :func:`spread_stereo`."""
SPREAD_WINDOW_S = (0.001, 0.03)
"""Where those reflections fall after the direct sound: the first 30 ms of a room."""


def spread_stereo(x: np.ndarray, rng: np.random.Generator, max_delay_ms: float,
                  reflections: tuple[float, float]) -> tuple[np.ndarray, dict]:
    """Make a stem ``x`` (2, L) wide, as a spaced pair of microphones would record it.

    One channel (either) is delayed by up to ``max_delay_ms`` (the path difference to
    an off-centre drum), and each channel gets its own :data:`SPREAD_REFLECTIONS`
    reflections at random times in :data:`SPREAD_WINDOW_S`, with a total energy a
    ratio (uniform in ``reflections``) of the direct sound. Different reflections
    comb-filter the two channels differently, so their level difference varies from
    one STFT bin to the next, as a stereo recording's does (with every stem spread, its
    spread over bins matches ForzeeStereo's: MODEL_CARD.md, "Session 8"). The level is
    kept: each channel's impulse response has unit energy. Returns the wide stem (2, L)
    and what was drawn.
    """
    delay = int(round(rng.uniform(0.0, max_delay_ms) * 1e-3 * SAMPLE_RATE))
    late = int(rng.integers(2))
    ratio = float(rng.uniform(*reflections))
    first, last = (int(t * SAMPLE_RATE) for t in SPREAD_WINDOW_S)
    ir = np.zeros((2, delay + last + 1), dtype=np.float64)
    for channel in range(2):
        start = delay if channel == late else 0
        ir[channel, start] = 1.0
        taps = rng.integers(first, last + 1, size=SPREAD_REFLECTIONS)
        gains = rng.standard_normal(SPREAD_REFLECTIONS) * np.exp(-taps / last)
        gains *= np.sqrt(ratio / (np.sum(gains**2) + 1e-12))
        np.add.at(ir[channel], start + taps, gains)
        ir[channel] /= np.sqrt(np.sum(ir[channel] ** 2))
    wide = signal.oaconvolve(x, ir, axes=-1)[:, : x.shape[-1]].astype(np.float32)
    return wide, {"delay_ms": round(1e3 * delay / SAMPLE_RATE, 3), "late_channel": late, "reflections": ratio}


def random_eq(x: np.ndarray, rng: np.random.Generator, max_db: float, *, peak: bool = False) -> np.ndarray:
    """A random low shelf (80-400 Hz) and high shelf (2-10 kHz), each +-``max_db``, and
    with ``peak`` a bell at 200 Hz-8 kHz (log-uniform, Q 0.7-2.5), +-``max_db``. x: (2, L)."""
    sections = [
        shelf_sos("low", rng.uniform(80.0, 400.0), rng.uniform(-max_db, max_db)),
        shelf_sos("high", rng.uniform(2000.0, 10000.0), rng.uniform(-max_db, max_db)),
    ]
    if peak:
        freq = float(np.exp(rng.uniform(np.log(200.0), np.log(8000.0))))
        sections.append(peak_sos(freq, rng.uniform(-max_db, max_db), rng.uniform(0.7, 2.5)))
    return signal.sosfilt(np.concatenate(sections), x, axis=-1).astype(np.float32)


def room_impulse_response(rng: np.random.Generator, rt60_s: float) -> np.ndarray:
    """A cheap stereo room: exponentially decaying noise, -60 dB after ``rt60_s``.

    Returns float32 (2, M) with unit energy per channel, a 5-20 ms pre-delay, and
    a one-pole low-pass so the tail darkens like a real room's. The channels get
    independent noise, which widens the image as a room does.
    """
    m = max(1, int(rt60_s * SAMPLE_RATE))
    pre = int(rng.uniform(0.005, 0.02) * SAMPLE_RATE)
    t = np.arange(m) / SAMPLE_RATE
    noise = rng.standard_normal((2, m)) * np.exp(-6.9078 * t / rt60_s)
    pole = rng.uniform(0.2, 0.6)
    noise = signal.lfilter([1.0 - pole], [1.0, -pole], noise, axis=-1)
    noise /= np.sqrt((noise**2).sum(axis=-1, keepdims=True)) + 1e-12
    return np.concatenate([np.zeros((2, pre)), noise], axis=1).astype(np.float32)


def convolve_tail(x: np.ndarray, ir: np.ndarray, keep: int) -> np.ndarray:
    """FFT-convolve ``x`` (..., 2, N) with ``ir`` (2, M) and keep the last ``keep`` samples of the first N.

    The caller renders ``N - keep`` samples of pre-roll so that the reverb of hits just
    before the segment is present at its start.
    """
    n = x.shape[-1]
    size = sp_fft.next_fast_len(n + ir.shape[-1] - 1, real=True)
    spec = sp_fft.rfft(x, size, axis=-1) * sp_fft.rfft(ir, size, axis=-1)
    return sp_fft.irfft(spec, size, axis=-1)[..., n - keep : n].astype(np.float32)


# --------------------------------------------------------------------------- on the fly


def cymbal_hat_kit(kit: MappedKit, fade_s: float) -> MappedKit | None:
    """``kit`` with its hats played by its crash (else its ride): the open hat is the cymbal as
    it is, the closed hat the cymbal faded out with time constant ``fade_s`` (cut at -60 dB).
    None when the kit has no cymbal or no hat. The other pieces are the kit's own objects."""
    cymbal = kit.pieces.get("crash") or kit.pieces.get("ride")
    if cymbal is None or not any(p in kit.pieces for p in ("hihat_closed", "hihat_open")):
        return None
    length = int(np.ceil(fade_s * np.log(1000.0) * SAMPLE_RATE))
    envelope = np.exp(-np.arange(length) / (fade_s * SAMPLE_RATE)).astype(np.float32)
    cut = [VelocityLayer(layer.lo, layer.hi, [s[:, :length] * envelope[: s.shape[1]] for s in layer.samples], layer.gain)
           for layer in cymbal.layers]
    closed = dataclasses.replace(cymbal, name=f"{cymbal.name} (cut short as a closed hat)", layers=cut)
    opened = dataclasses.replace(cymbal, name=f"{cymbal.name} (as an open hat)")
    return MappedKit(kit=kit.kit, pieces={**kit.pieces, "hihat_closed": closed, "hihat_open": opened}, report=kit.report)


class OnTheFlyDataset(IterableDataset):
    """Endless random training examples rendered from MIDI and kits.

    Example ``i`` of epoch ``e`` is generated from ``SeedSequence([seed, e, i])`` alone,
    so the stream is reproducible and identical whatever the number of DataLoader
    workers: worker ``w`` of ``W`` produces examples ``w, w+W, ...`` and the
    DataLoader interleaves them back in order. Call :meth:`set_epoch` between epochs
    to get new examples.

    ``performances``: the training performances (segments are drawn in proportion to
    their length, like windows every few seconds); ``kits``: the training kits;
    ``kit_mixing``: every stem from its own random kit (else one kit per example, and
    ``kit_swap`` moves stems to another); ``examples_per_epoch``: None = endless.

    ``focus``: ``{stem: probability}``. Uniform windows show toms and cymbals in a small
    share of segments (GMD plays them in fills and accents), and a model that rarely
    sees a stem learns to keep it silent (training-notes.md). With the given
    probability a segment is instead centred near a random hit of that stem, drawn
    uniformly over all its hits in all performances, so each hit is equally likely to
    be shown whatever performance it is in.
    """

    def __init__(
        self,
        performances: Sequence[Performance],
        kits: Sequence[MappedKit],
        *,
        segment_samples: int = DEFAULT_SEGMENT,
        seed: int = 0,
        augmentation: Augmentation = Augmentation(),
        kit_mixing: bool = True,
        examples_per_epoch: int | None = 1000,
        focus: dict[str, float] | None = None,
    ):
        super().__init__()
        if not performances:
            raise OptionError("OnTheFlyDataset needs at least one performance")
        if not kits:
            raise OptionError("OnTheFlyDataset needs at least one kit")
        if segment_samples <= 0:
            raise OptionError(f"segment_samples must be positive, got {segment_samples}")
        self.performances = list(performances)
        self.kits = list(kits)
        self.segment_samples = int(segment_samples)
        self.seed = int(seed)
        self.augmentation = augmentation
        self.kit_mixing = kit_mixing
        self.examples_per_epoch = examples_per_epoch
        self.epoch = 0
        lengths = np.array([max(p.duration_s, 1e-3) for p in self.performances])
        self._weights = lengths / lengths.sum()
        # kits that have at least one piece of each stem (a stem's kit is drawn among them)
        self._kits_for_stem = {
            stem: [i for i, k in enumerate(self.kits) if any(p in k.pieces for p in PIECES_OF_STEM[stem])]
            or list(range(len(self.kits)))
            for stem in STEMS
        }
        self.focus = dict(focus or {})
        unknown = sorted(set(self.focus) - set(STEMS))
        if unknown:
            raise OptionError(f"focus stems {', '.join(unknown)} unknown; choose from {', '.join(STEMS)}")
        if sum(self.focus.values()) > 1.0 or any(v < 0 for v in self.focus.values()):
            raise OptionError(f"focus probabilities must be >= 0 and sum to at most 1, got {self.focus}")
        self._focus_hits = {stem: self._hits_of_stem(stem) for stem, prob in self.focus.items() if prob > 0}
        self._cymbal_hat_kits: dict[int, MappedKit | None] = {}

    def _hits_of_stem(self, stem: str) -> tuple[np.ndarray, np.ndarray]:
        """(performance index, onset seconds) of every hit of ``stem``, over all performances."""
        wanted = np.array([i for i, piece in enumerate(PIECES) if piece in PIECES_OF_STEM[stem]])
        perf_idx, times = [], []
        for p, perf in enumerate(self.performances):
            arrays = perf.arrays
            t = arrays.time_s[np.isin(arrays.piece, wanted)]
            perf_idx.append(np.full(t.shape, p, dtype=np.int64))
            times.append(t)
        return np.concatenate(perf_idx), np.concatenate(times)

    def _draw_window(self, rng: np.random.Generator) -> tuple[int, int]:
        """(performance index, start sample): uniform over time, or near a focus hit."""
        L = self.segment_samples
        if self._focus_hits:
            u = rng.random()
            for stem, hits in self._focus_hits.items():
                u -= self.focus[stem]
                if u < 0 and hits[0].size:
                    h = int(rng.integers(hits[0].size))
                    p = int(hits[0][h])
                    # the hit lands anywhere in the first 90 % of the window, so its decay is heard too
                    start = int(round(hits[1][h] * SAMPLE_RATE - rng.uniform(0.0, 0.9) * L))
                    return p, max(0, start)
        p = int(rng.choice(len(self.performances), p=self._weights))
        perf_len = int(round(self.performances[p].duration_s * SAMPLE_RATE))
        start = int(rng.integers(0, max(1, perf_len - L) + 1)) if perf_len > L else 0
        return p, start

    @classmethod
    def from_gmd(
        cls,
        root: str | Path | None = None,
        *,
        kits: Sequence[str | MappedKit] | None = None,
        split: str = "train",
        on_error: Callable[[str], None] | None = None,
        segment_samples: int = DEFAULT_SEGMENT,
        seed: int = 0,
        augmentation: Augmentation = Augmentation(),
        kit_mixing: bool = True,
        examples_per_epoch: int | None = 1000,
        focus: dict[str, float] | None = None,
    ) -> "OnTheFlyDataset":
        """GMD's ``split`` with ``kits`` (names via discovery, or kits; default:
        :func:`~larsnet.data.discovery.training_kits`). Held-out kits are refused."""
        _, performances = load_performances(read_gmd(root, split=split), on_error=on_error)
        names = _default_training_kit_names() if kits is None else list(kits)
        _check_trainable(names)
        loaded = [k if isinstance(k, MappedKit) else _kits_by_name([k])[0] for k in names]
        return cls(performances, loaded, segment_samples=segment_samples, seed=seed, augmentation=augmentation,
                   kit_mixing=kit_mixing, examples_per_epoch=examples_per_epoch, focus=focus)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if self.examples_per_epoch is None:
            raise TypeError("an endless OnTheFlyDataset has no length")
        return self.examples_per_epoch

    def __iter__(self) -> Iterator[Example]:
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        index = worker
        while self.examples_per_epoch is None or index < self.examples_per_epoch:
            yield self[index]
            index += workers

    def __getitem__(self, index: int) -> Example:
        mix, stems, _ = self.render_example(index)
        return _to_tensors(mix, stems)

    def render_example(self, index: int) -> tuple[np.ndarray, np.ndarray, dict]:
        """Example ``index`` of the current epoch as numpy: mix (2, L), stems (5, 2, L), and what was drawn."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, int(index)]))
        aug = self.augmentation
        L = self.segment_samples
        p, start = self._draw_window(rng)
        perf = self.performances[p]
        augmented = rng.random() < aug.p_example
        draw = lambda prob: augmented and rng.random() < prob  # noqa: E731 - one draw per decision
        # The hat's own stream: turning hat_pitch on changes the hi-hat stem and nothing else.
        hat_rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, int(index), 1]))

        base_kit = int(rng.integers(len(self.kits)))
        stem_kits = {}
        for stem in STEMS:
            choices = self._kits_for_stem[stem]
            if self.kit_mixing:
                stem_kits[stem] = int(rng.choice(choices))
            else:
                stem_kits[stem] = base_kit if base_kit in choices else int(rng.choice(choices))
                if draw(aug.kit_swap):
                    stem_kits[stem] = int(rng.choice(choices))
        rt60 = float(rng.uniform(*aug.reverb_rt60_s)) if draw(aug.reverb) else 0.0
        ir = room_impulse_response(rng, rt60) if rt60 else None
        pre = ir.shape[1] if ir is not None else 0
        rr_seed = int(rng.integers(2**31))

        info: dict = {"performance": p, "start": start, "augmented": augmented, "stems": {}}
        stems = np.zeros((len(STEMS), 2, L + pre), dtype=np.float32)
        for s, stem in enumerate(STEMS):
            k = stem_kits[stem]
            semis = 0.0
            if draw(aug.pitch_shift):
                semis = round(rng.uniform(-aug.pitch_semitones, aug.pitch_semitones) * 4) / 4
            if aug.hat_pitch > 0 and stem == "hihat" and augmented and hat_rng.random() < aug.hat_pitch:
                semis = float(round(hat_rng.uniform(*aug.hat_semitones)))  # whole semitones: few cached resamplings
            cymbal_hats = None
            if aug.hats_from_cymbals > 0 and stem == "hihat" and augmented and hat_rng.random() < aug.hats_from_cymbals:
                cymbal_hats = self._cymbal_hats(k)
            kit = self.kits[k] if cymbal_hats is None else cymbal_hats
            x = self._render_stem(perf, kit, stem, start - pre, L + pre, rr_seed, semis)
            doubled = None
            if draw(aug.doubling) and len(self._kits_for_stem[stem]) > 1:
                doubled = int(rng.choice([c for c in self._kits_for_stem[stem] if c != k]))
                x = 0.5 * (x + self._render_stem(perf, self.kits[doubled], stem, start - pre, L + pre, rr_seed + 1, semis))
            spread = None
            if aug.stereo_spread > 0 and draw(aug.stereo_spread):  # no draw when off
                x, spread = spread_stereo(x, rng, aug.stereo_delay_ms, aug.stereo_reflections)
            eq = None
            if draw(aug.eq):
                bell = aug.eq_peak > 0 and rng.random() < aug.eq_peak
                x = random_eq(x, rng, aug.eq_db, peak=bell)
                eq = "shelves+bell" if bell else "shelves"
            tilt_db = None
            if aug.metal_tilt > 0 and stem in METAL_STEMS and draw(aug.metal_tilt):  # no draw when off
                tilt_db = float(rng.uniform(*aug.metal_tilt_db))
                x = signal.sosfilt(shelf_sos("high", rng.uniform(2000.0, 6000.0), tilt_db), x, axis=-1).astype(np.float32)
            if draw(aug.saturation):
                x = saturate(x, float(rng.uniform(*aug.saturation_beta)))
            gain_db = float(rng.uniform(*aug.gain_db)) if draw(aug.gain) else 0.0
            if gain_db:
                x = x * np.float32(10.0 ** (gain_db / 20.0))
            swap = draw(aug.lr_swap)
            if swap:
                x = x[::-1]
            stems[s] = x
            info["stems"][stem] = {"kit": self.kits[k].name, "semitones": semis, "doubled_with": doubled,
                                   "hats_from_cymbals": cymbal_hats is not None,
                                   "gain_db": gain_db, "lr_swap": swap, "eq": eq, "metal_tilt_db": tilt_db,
                                   "stereo_spread": spread}
        if ir is not None:
            wet = float(rng.uniform(*aug.reverb_wet))
            stems = stems[..., pre:] + np.float32(wet) * convolve_tail(stems, ir, L)
            info["reverb_rt60_s"] = rt60
        stems = np.ascontiguousarray(stems, dtype=np.float32)
        return _mix_of(stems), stems, info

    def _cymbal_hats(self, k: int) -> MappedKit | None:
        """Kit ``k`` with its hats played by its crash (else ride), built once per kit; None
        when it lacks a cymbal or a hat (see ``Augmentation.hats_from_cymbals``)."""
        if k not in self._cymbal_hat_kits:
            fade_rng = np.random.default_rng(np.random.SeedSequence([self.seed, k, 2]))
            fade_ms = float(fade_rng.uniform(*self.augmentation.hats_from_cymbals_fade_ms))
            self._cymbal_hat_kits[k] = cymbal_hat_kit(self.kits[k], fade_ms / 1000.0)
        return self._cymbal_hat_kits[k]

    @staticmethod
    def _render_stem(perf: Performance, kit: MappedKit, stem: str, start: int, n: int, seed: int, semis: float) -> np.ndarray:
        """One stem (2, n): its pieces from ``kit``, random round robin, summed."""
        block = render_pieces(perf, kit, PIECES_OF_STEM[stem], start, n, seed=seed,
                              round_robin="random", pitch_semitones=semis)
        out = block[0]
        for i in range(1, block.shape[0]):
            out += block[i]
        return out


# --------------------------------------------------------------------------- fixed evaluation


@dataclass(frozen=True)
class EvalClip:
    """One evaluation clip: which performance, which kit, where (seconds)."""

    performance: str
    kit: str
    start_s: float
    duration_s: float


class FixedEvalSet(Dataset):
    """Deterministic clips for validation/test: held-out kits, unity gains, no augmentation.

    Clip starts are drawn once from ``seed`` per performance (performances shorter than
    ``min_duration_s`` are left out, default: the clip length). ``kit_assignment``:
    ``"cycle"`` gives each performance one kit in turn (every piece of a clip from that
    kit), ``"all"`` renders every performance with every kit. :attr:`clips` and
    :meth:`write_manifest` record exactly what is scored.
    """

    def __init__(
        self,
        performances: Sequence[Performance],
        kits: Sequence[MappedKit],
        *,
        names: Sequence[str] | None = None,
        clip_s: float = 10.0,
        seed: int = 0,
        kit_assignment: Literal["cycle", "all"] = "cycle",
        min_duration_s: float | None = None,
        max_clips: int | None = None,
    ):
        if not kits:
            raise OptionError("FixedEvalSet needs at least one kit")
        if kit_assignment not in ("cycle", "all"):
            raise OptionError(f"kit_assignment must be 'cycle' or 'all', got {kit_assignment!r}")
        names = list(names) if names is not None else [p.source for p in performances]
        if len(names) != len(performances):
            raise ValueError("names must match performances one to one")
        self.kits = {k.name: k for k in kits}
        self.clip_samples = int(round(clip_s * SAMPLE_RATE))
        self._by_name = dict(zip(names, performances))
        min_len = clip_s if min_duration_s is None else min_duration_s
        chosen = [(n, p) for n, p in zip(names, performances) if p.duration_s >= min_len]
        self.clips: list[EvalClip] = []
        for i, (name, perf) in enumerate(chosen):
            rng = np.random.default_rng(np.random.SeedSequence([seed, i]))
            start = float(rng.uniform(0.0, max(0.0, perf.duration_s - clip_s)))
            start = round(start, 3)
            kit_names = list(self.kits) if kit_assignment == "all" else [list(self.kits)[i % len(self.kits)]]
            self.clips.extend(EvalClip(name, k, start, clip_s) for k in kit_names)
        if max_clips is not None:
            self.clips = self.clips[:max_clips]
        if not self.clips:
            raise OptionError(f"no performance is at least {min_len} s long; lower clip_s or min_duration_s")

    @classmethod
    def from_gmd(
        cls,
        root: str | Path | None = None,
        *,
        split: str = "test",
        kits: Sequence[str | MappedKit] = HELD_OUT_KITS,
        eval_session_only: bool = False,
        on_error: Callable[[str], None] | None = None,
        clip_s: float = 10.0,
        seed: int = 0,
        kit_assignment: Literal["cycle", "all"] = "cycle",
        min_duration_s: float | None = None,
        max_clips: int | None = None,
    ) -> "FixedEvalSet":
        """GMD's ``split`` (``eval_session_only``: the paper's 40 test performances) on
        ``kits`` (names via discovery, or kits; default: the held-out kits)."""
        records = read_gmd(root, split=split)
        if eval_session_only:
            records = [r for r in records if r.session.endswith("eval_session")]
        kept, performances = load_performances(records, on_error=on_error)
        loaded = [k if isinstance(k, MappedKit) else _kits_by_name([k])[0] for k in kits]
        return cls(performances, loaded, names=[r.id for r in kept], clip_s=clip_s, seed=seed,
                   kit_assignment=kit_assignment, min_duration_s=min_duration_s, max_clips=max_clips)

    def __len__(self) -> int:
        return len(self.clips)

    def render(self, index: int, *, preroll_s: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Clip ``index`` as numpy: mix (2, L), stems (5, 2, L).

        ``preroll_s``: also render that much of the performance before the clip (L grows
        by it; the clip's own samples are unchanged), for analyses that must not see the
        clip's first sample as the start of the sound.
        """
        mixture, stems, _ = self.render_with_pieces(index, preroll_s=preroll_s)
        return mixture, stems

    def render_with_pieces(self, index: int, *, preroll_s: float = 0.0) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """:meth:`render` plus the nine pieces the stems are summed from (piece -> (2, L)),
        so an evaluation can tell which piece of a stem goes astray."""
        clip = self.clips[index]
        perf, kit = self._by_name[clip.performance], self.kits[clip.kit]
        preroll = int(round(preroll_s * SAMPLE_RATE))
        start = int(round(clip.start_s * SAMPLE_RATE)) - preroll
        n = self.clip_samples + preroll
        pieces = render_pieces(perf, kit, PIECES, start, n, round_robin="cycle")
        stems = np.zeros((len(STEMS), 2, n), dtype=np.float32)
        for i, piece in enumerate(PIECES):
            stems[STEMS.index(_stem_of(piece))] += pieces[i]
        return _mix_of(stems), stems, dict(zip(PIECES, pieces))

    def __getitem__(self, index: int) -> Example:
        return _to_tensors(*self.render(index))

    def hits(self, index: int) -> list[Hit]:
        """The hits of clip ``index``: onsets in ``[start, start + duration)``, times relative to the clip."""
        clip = self.clips[index]
        end = clip.start_s + clip.duration_s
        return [dataclasses.replace(h, time_s=h.time_s - clip.start_s)
                for h in self._by_name[clip.performance].hits if clip.start_s <= h.time_s < end]

    def manifest(self) -> list[dict]:
        return [asdict(c) for c in self.clips]

    def write_manifest(self, path: str | Path) -> Path:
        """The clip list as CSV (performance, kit, start_s, duration_s)."""
        path = Path(path)
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=["performance", "kit", "start_s", "duration_s"])
            writer.writeheader()
            writer.writerows(self.manifest())
        return path


def _stem_of(piece: str) -> str:
    return next(stem for stem in STEMS if piece in PIECES_OF_STEM[stem])


# --------------------------------------------------------------------------- from disk


class StemGMDDataset(Dataset):
    """Fixed windows of StemGMD-layout stems on disk (real StemGMD or our synth output).

    Windows of ``segment_samples`` start every ``hop_samples`` (the paper: 11.85 s
    every 2 s); the last partial window of an item is zero-padded. The mixture is the
    sum of the stems, not the mixture file, so ``mixture == stems.sum(0)`` holds here
    too. Files must be 44.1 kHz (StemGMD's and our synth's rate).
    """

    def __init__(
        self,
        items: Sequence[StemGMDItem] | str | Path,
        *,
        segment_samples: int = DEFAULT_SEGMENT,
        hop_samples: int = 2 * SAMPLE_RATE,
        pattern: str = DEFAULT_PATTERN,
        kits: Sequence[str] | None = None,
        split: str | Sequence[str] | None = None,
        gmd_root: str | Path | None = None,
    ):
        """``items`` from :func:`scan_stemgmd`, or a dataset root scanned with ``pattern``,
        ``kits``, ``split`` and ``gmd_root`` (see there)."""
        if isinstance(items, (str, Path)):
            items = scan_stemgmd(items, pattern=pattern, kits=kits, split=split, gmd_root=gmd_root)
        self.items = list(items)
        self.segment_samples = int(segment_samples)
        self.windows: list[tuple[int, int]] = []
        for i, item in enumerate(self.items):
            info = sf.info(str(item.any_file))
            if info.samplerate != SAMPLE_RATE:
                raise AudioInputError(item.any_file, f"is {info.samplerate} Hz; StemGMD data must be {SAMPLE_RATE} Hz")
            last = max(0, info.frames - self.segment_samples)
            starts = list(range(0, last + 1, hop_samples))
            if starts[-1] < last:
                starts.append(last)
            self.windows.extend((i, s) for s in starts)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> Example:
        item_index, start = self.windows[index]
        item = self.items[item_index]
        L = self.segment_samples
        stems = np.zeros((len(STEMS), 2, L), dtype=np.float32)
        for piece in PIECES:
            path = item.files.get(piece)
            if path is None:
                continue
            stems[STEMS.index(_stem_of(piece))] += _read_window(path, start, L)
        return _to_tensors(_mix_of(stems), stems)


def _read_window(path: Path, start: int, n: int) -> np.ndarray:
    """Frames ``[start, start+n)`` of a file as float32 (2, n), zero-padded, mono duplicated."""
    try:
        data = sf.read(str(path), frames=n, start=start, dtype="float32", always_2d=True)[0]
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioInputError(path, f"cannot be decoded: {exc}") from None
    out = np.zeros((2, n), dtype=np.float32)
    if data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    out[:, : len(data)] = data[:, :2].T
    return out
