"""The built-in node types, one module each; registered through the ``drumflow.nodes`` entry points."""
from __future__ import annotations

from drumflow.node import Port
from drumflow.ports import AUDIO

AUDIO_IN = Port("in", AUDIO, "audio to process")
AUDIO_OUT = Port("out", AUDIO, "processed audio")


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))
