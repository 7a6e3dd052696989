"""What a kit file says about itself, read without decoding or rendering any audio.

Listing kits (``larsnet kits``) and planning the mapping need only instrument names,
MIDI notes and file lists. Reading them is milliseconds, whereas loading a kit decodes
hundreds of samples or renders an SF2; so every loader offers an ``inspect_*``
function returning a :class:`KitInfo`, and the mapping is planned from it the same way
for a listing and for a real load.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class InstrumentInfo:
    """One instrument as declared by the kit file."""

    name: str
    midi_notes: tuple[int, ...] = ()
    layers: int = 0
    samples: int = 0
    missing: list[str] = field(default_factory=list)
    """Sample files the kit names but that do not exist."""


@dataclass
class KitInfo:
    """A kit's metadata: enough to list it, credit it and plan its mapping."""

    name: str
    format: str
    source: str
    instruments: list[InstrumentInfo]
    license: str = "unknown"
    author: str = ""
    sample_rates: tuple[int, ...] = ()
    """Distinct sample rates of the files when known (44100 after loading anyway)."""

    @property
    def missing_files(self) -> list[str]:
        return [f for inst in self.instruments for f in inst.missing]
