"""One in-memory model of a drum kit, whatever format it came from.

Every loader (Hydrogen, SFZ, SF2, plain folders) produces a :class:`Kit`; the mapping
step assigns kit instruments to the nine StemGMD pieces (:class:`MappedKit`); the
sampler only ever sees a ``MappedKit``. Audio is always float32 shaped
``(2, frames)`` at 44.1 kHz by the time it is stored here, so the sampler never
resamples or pans on its hot path.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from larsnet.stems import SAMPLE_RATE


@dataclass
class VelocityLayer:
    """Samples played for MIDI velocities ``lo..hi`` (inclusive, 1..127).

    ``samples`` are round-robin alternatives: (2, frames) float32 at 44.1 kHz.
    """

    lo: int
    hi: int
    samples: list[np.ndarray]
    gain: float = 1.0

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("a velocity layer needs at least one sample")
        if not 0 <= self.lo <= self.hi <= 127:
            raise ValueError(f"bad velocity range {self.lo}..{self.hi}")


@dataclass
class Instrument:
    """One sounding instrument of a kit (a kick, a ride, a hi-hat articulation...).

    ``gain`` is linear, ``pan`` in [-1, 1] (constant-power, applied by the sampler
    on top of the stereo image of the samples). ``midi_notes`` are the notes the kit
    itself plays it on (used by the mapping); ``choke_group`` instruments silence
    each other (SFZ group/off_by, Hydrogen mute groups). Precisely: ``choke_group``
    is the group this instrument belongs to and ``chokes`` the groups whose sounding
    notes it cuts when it plays (a Hydrogen mute group ``g`` gives ``choke_group=g,
    chokes=(g,)``; an SFZ region ``group=2 off_by=1`` puts 2 into the ``chokes`` of
    group 1's instruments).
    """

    name: str
    layers: list[VelocityLayer]
    gain: float = 1.0
    pan: float = 0.0
    midi_notes: tuple[int, ...] = ()
    choke_group: int | None = None
    chokes: tuple[int, ...] = ()

    def layer_for(self, velocity: int) -> VelocityLayer:
        """The layer covering ``velocity``; the nearest one if the kit leaves a gap."""
        for layer in self.layers:
            if layer.lo <= velocity <= layer.hi:
                return layer
        return min(
            self.layers,
            key=lambda layer: min(abs(layer.lo - velocity), abs(layer.hi - velocity)),
        )


@dataclass
class Kit:
    """A loaded kit: instruments plus what is needed to credit and find it."""

    name: str
    instruments: list[Instrument]
    source: str = ""
    format: str = ""
    license: str = "unknown"
    author: str = ""
    sample_rate: int = SAMPLE_RATE
    warnings: list[str] = field(default_factory=list)
    """Things the loader skipped or guessed, for humans (empty slots, ignored opcodes)."""
    broken: dict[str, list[str]] = field(default_factory=dict)
    """Instruments dropped because files were missing or unreadable (name -> files);
    only filled when the kit was loaded with ``strict=False``."""

    def instrument(self, name: str) -> Instrument:
        for inst in self.instruments:
            if inst.name == name:
                return inst
        raise KeyError(name)


@dataclass
class MappingReport:
    """What the mapping did: piece -> instrument name, and what is missing or derived."""

    kit: str
    mapped: dict[str, str] = field(default_factory=dict)
    derived: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """How pieces were chosen when it is not obvious (overrides, fallbacks)."""


@dataclass
class MappedKit:
    """A kit with its instruments assigned to the nine StemGMD pieces.

    ``pieces`` maps a name from :data:`larsnet.stems.PIECES` to an instrument; a
    missing piece is simply absent (its stem stays silent).
    """

    kit: Kit
    pieces: dict[str, Instrument]
    report: MappingReport

    @property
    def name(self) -> str:
        return self.kit.name
