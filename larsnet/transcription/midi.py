"""Write transcribed notes as a General MIDI drum file.

Type 1 Standard MIDI File, 480 ticks per beat: track 0 holds the name, tempo and a 4/4
time signature; track 1 the drums on channel 10, each note-on followed by its note-off
a 32nd note later (earlier if the same pitch is struck again sooner). With no
``bpm`` the file is written at 120 bpm, so ticks map to seconds exactly as
transcribed; with a ``bpm`` (e.g. from quantisation) a DAW's bar lines fall on the beat.
The file is written beside its target and renamed when complete.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import mido

from larsnet.data.midi import DRUM_CHANNEL
from larsnet.errors import OptionError
from larsnet.transcription.notes import Note

TICKS_PER_BEAT = 480
DEFAULT_BPM = 120.0
NOTE_BEATS = 1.0 / 8.0
"""Note length: a 32nd note (drum samplers play one-shots to the end anyway)."""


def notes_to_midi(notes: Sequence[Note], bpm: float | None = None, *, name: str = "drums") -> mido.MidiFile:
    """The :class:`mido.MidiFile` of ``notes`` (see the module docstring)."""
    tempo_bpm = DEFAULT_BPM if bpm is None else float(bpm)
    if not tempo_bpm > 0:
        raise OptionError(f"bpm must be > 0, got {bpm}")
    ticks_per_s = TICKS_PER_BEAT * tempo_bpm / 60.0
    length = max(1, int(round(NOTE_BEATS * TICKS_PER_BEAT)))
    ons: dict[tuple[int, int], int] = {}  # (tick, pitch) -> velocity; one note per tick and pitch
    for n in notes:
        if not 0 <= n.pitch <= 127 or not 1 <= n.velocity <= 127:
            raise OptionError(f"note {n}: pitch must be 0..127 and velocity 1..127")
        key = (max(0, int(round(n.time_s * ticks_per_s))), n.pitch)
        ons[key] = max(ons.get(key, 0), n.velocity)
    next_on: dict[tuple[int, int], int] = {}
    last: dict[int, int] = {}
    for tick, pitch in sorted(ons, reverse=True):
        if pitch in last:
            next_on[(tick, pitch)] = last[pitch]
        last[pitch] = tick
    events: list[tuple[int, int, mido.Message]] = []  # (tick, order: offs first, message)
    for (tick, pitch), velocity in ons.items():
        # the next hit of the same pitch ends this note (its note-off sorts before that note-on)
        off = min(tick + length, next_on.get((tick, pitch), tick + length))
        events.append((tick, 1, mido.Message("note_on", channel=DRUM_CHANNEL, note=pitch, velocity=velocity)))
        events.append((off, 0, mido.Message("note_off", channel=DRUM_CHANNEL, note=pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1], e[2].note))

    meta = mido.MidiTrack([
        mido.MetaMessage("track_name", name=name, time=0),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0),
        mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
        mido.MetaMessage("end_of_track", time=0),
    ])
    drums = mido.MidiTrack([mido.MetaMessage("track_name", name="drums (GM channel 10)", time=0)])
    now = 0
    for tick, _, msg in events:
        drums.append(msg.copy(time=tick - now))
        now = tick
    drums.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.extend([meta, drums])
    return midi


def write_midi(notes: Sequence[Note], path: str | Path, bpm: float | None = None) -> Path:
    """Write ``notes`` to ``path`` as a GM drum MIDI file (atomically); returns the path."""
    path = Path(path)
    midi = notes_to_midi(notes, bpm, name=path.stem)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        midi.save(str(tmp))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
