"""The notes a transcription produces, and the General MIDI drum pitches they use.

A :class:`Note` is one drum hit: when (seconds from the start of the audio), which GM
drum note, how hard (MIDI velocity 1..127) and from which of the five LarsNet stems it
was heard. The pitches are those the Groove MIDI Dataset records (a Roland TD-11:
toms on 48, 45, 43), so a written file read back with
:func:`larsnet.data.midi.read_drum_midi` lands on the same nine pieces.
"""
from __future__ import annotations

from dataclasses import dataclass

from larsnet.stems import GMD_PITCH_TO_PIECE, STEM_OF_PIECE

PIECE_PITCH: dict[str, int] = {
    "kick": 36,  # Bass Drum 1
    "snare": 38,  # Acoustic Snare
    "hi_tom": 48,  # Hi-Mid Tom
    "mid_tom": 45,  # Low Tom
    "floor_tom": 43,  # High Floor Tom
    "hihat_closed": 42,  # Closed Hi-Hat
    "hihat_open": 46,  # Open Hi-Hat
    "crash": 49,  # Crash Cymbal 1
    "ride": 51,  # Ride Cymbal 1
}
"""StemGMD piece -> the GM drum note written for it."""


@dataclass(frozen=True, order=True)
class Note:
    """One transcribed hit: onset ``time_s`` in seconds, GM drum ``pitch``, ``velocity`` 1..127, ``stem``."""

    time_s: float
    pitch: int
    velocity: int
    stem: str

    @property
    def piece(self) -> str:
        """The StemGMD piece of the pitch (``hihat_open``, ``floor_tom``, ...)."""
        return GMD_PITCH_TO_PIECE[self.pitch]


def note(time_s: float, piece: str, velocity: int) -> Note:
    """A :class:`Note` for a StemGMD piece, velocity clipped to 1..127."""
    return Note(float(time_s), PIECE_PITCH[piece], int(min(127, max(1, velocity))), STEM_OF_PIECE[piece])
