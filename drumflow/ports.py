"""The values that travel between nodes, and the typed ports they travel through.

``audio``: :class:`Audio`, float32 samples shaped ``(channels, frames)`` plus a sample rate.
``stems``: :class:`StemSet`, an ordered mapping stem name -> :class:`Audio`.

Port types are plain named objects in :data:`PORT_TYPES`; a later node type (MIDI,
sample packs, ...) registers its own with :func:`register_port_type` together with how
its values are stored in the cache (:meth:`PortType.dump` / :meth:`PortType.load`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import numpy as np


@dataclass(frozen=True, eq=False)
class Audio:
    """float32 ``samples[channels, frames]`` at ``sample_rate`` Hz. Never mutated in place."""

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        s = np.asarray(self.samples)
        if s.ndim != 2:
            raise ValueError(f"audio must be shaped (channels, frames), got {s.shape}")
        if s.dtype != np.float32:
            s = s.astype(np.float32)
        if s.flags.writeable:  # freeze: nodes must copy, never edit what they were given
            s = s.view()
            s.flags.writeable = False
        object.__setattr__(self, "samples", s)
        object.__setattr__(self, "sample_rate", int(self.sample_rate))

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def with_samples(self, samples: np.ndarray) -> "Audio":
        return Audio(np.asarray(samples, dtype=np.float32), self.sample_rate)

    def __repr__(self) -> str:
        return f"Audio({self.channels}ch x {self.frames} @ {self.sample_rate} Hz)"


@dataclass(frozen=True, eq=False)
class StemSet(Mapping[str, Audio]):
    """Stem name -> :class:`Audio`, in the model's stem order."""

    stems: Mapping[str, Audio] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Audio:
        return self.stems[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.stems)

    def __len__(self) -> int:
        return len(self.stems)

    def __repr__(self) -> str:
        return f"StemSet({', '.join(self.stems)})"


# (arrays to store, JSON-able description) <- value ; value <- (arrays, description)
Dump = Callable[[Any], tuple[dict[str, np.ndarray], Any]]
Load = Callable[[Mapping[str, np.ndarray], Any], Any]


@dataclass(frozen=True)
class PortType:
    """A kind of value a port carries; ``dump``/``load`` make it cacheable."""

    name: str
    description: str
    python_type: type
    dump: Dump
    load: Load

    def __str__(self) -> str:
        return self.name


def _dump_audio(a: Audio) -> tuple[dict[str, np.ndarray], Any]:
    return {"samples": a.samples}, {"sample_rate": a.sample_rate}


def _load_audio(arrays: Mapping[str, np.ndarray], meta: Any) -> Audio:
    return Audio(arrays["samples"], meta["sample_rate"])


def _dump_stems(s: StemSet) -> tuple[dict[str, np.ndarray], Any]:
    return {name: a.samples for name, a in s.items()}, {name: a.sample_rate for name, a in s.items()}


def _load_stems(arrays: Mapping[str, np.ndarray], meta: Any) -> StemSet:
    return StemSet({name: Audio(arrays[name], rate) for name, rate in meta.items()})


AUDIO = PortType("audio", "float32 samples (channels, frames) + sample rate", Audio, _dump_audio, _load_audio)
STEMS = PortType("stems", "stem name -> audio (kick, snare, toms, hihat, cymbals)", StemSet, _dump_stems, _load_stems)

PORT_TYPES: dict[str, PortType] = {"audio": AUDIO, "stems": STEMS}


def register_port_type(port_type: PortType) -> PortType:
    """Add a port type for new nodes (e.g. ``midi``); re-registering the same object is a no-op."""
    known = PORT_TYPES.get(port_type.name)
    if known is not None and known is not port_type:
        raise ValueError(f"port type {port_type.name!r} is already registered")
    PORT_TYPES[port_type.name] = port_type
    return port_type
