"""Builders for the data-engine tests: drum MIDI files written with mido, and kits whose
one-shots are constant blocks so a test can tell which layer and round-robin sample
played from the rendered values alone."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable, Sequence

import mido
import numpy as np

from larsnet.data.kit import Instrument, Kit, MappedKit, MappingReport, VelocityLayer
from larsnet.data.midi import Hit, Performance
from larsnet.stems import PIECES, SAMPLE_RATE

# A short groove on GMD pitches: (beat, pitch, velocity)
GROOVE: list[tuple[float, int, int]] = [
    (0.0, 36, 110), (0.0, 42, 80), (0.5, 42, 60), (1.0, 38, 100), (1.0, 42, 80),
    (1.5, 46, 70), (2.0, 36, 120), (2.0, 44, 50), (2.5, 48, 90), (3.0, 45, 90),
    (3.25, 43, 95), (3.5, 49, 127), (3.75, 51, 64), (3.75, 38, 30),
]


def write_midi(
    path: Path,
    notes: Iterable[tuple[float, int, int]] = GROOVE,
    *,
    bpm: float = 120.0,
    tempo_changes: Sequence[tuple[float, float]] = (),
    channel: int = 9,
    ticks_per_beat: int = 480,
    note_beats: float = 0.1,
    tail_beats: float = 1.0,
) -> Path:
    """A type-1 file: track 0 holds tempo (``bpm``, then ``(beat, bpm)`` changes), track 1 the notes.

    ``notes`` are ``(beat, pitch, velocity)``; each gets a note-off ``note_beats`` later
    (written as note_on velocity 0, as many drum files do).
    """
    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    tempo_track = mido.MidiTrack()
    events = [(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))]
    events += [(int(round(b * ticks_per_beat)), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(t), time=0))
               for b, t in tempo_changes]
    _append(tempo_track, events)
    notes_track = mido.MidiTrack()
    ev = []
    last = 0
    for beat, pitch, vel in notes:
        on = int(round(beat * ticks_per_beat))
        off = int(round((beat + note_beats) * ticks_per_beat))
        ev.append((on, mido.Message("note_on", note=pitch, velocity=vel, channel=channel, time=0)))
        ev.append((off, mido.Message("note_on", note=pitch, velocity=0, channel=channel, time=0)))
        last = max(last, off)
    ev.append((last + int(tail_beats * ticks_per_beat), mido.MetaMessage("marker", text="end", time=0)))
    _append(notes_track, ev)
    mid.tracks.extend([tempo_track, notes_track])
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(path)
    return path


def _append(track: mido.MidiTrack, events: list[tuple[int, mido.Message]]) -> None:
    now = 0
    for tick, msg in sorted(events, key=lambda e: e[0]):
        track.append(msg.copy(time=tick - now))
        now = tick


def constant_kit(
    name: str = "Const",
    *,
    pieces: Sequence[str] = PIECES,
    layers: Sequence[tuple[int, int]] = ((1, 63), (64, 127)),
    round_robin: int = 3,
    length: int = 200,
    lengths: dict[str, int] | None = None,
) -> MappedKit:
    """Every sample is a constant block: value ``0.1*(layer+1) + 0.01*(rr+1)`` on both channels."""
    instruments = {}
    for piece in pieces:
        n = (lengths or {}).get(piece, length)
        vlayers = [
            VelocityLayer(lo, hi, [np.full((2, n), 0.1 * (li + 1) + 0.01 * (r + 1), np.float32)
                                   for r in range(round_robin)])
            for li, (lo, hi) in enumerate(layers)
        ]
        instruments[piece] = Instrument(name=piece, layers=vlayers)
    kit = Kit(name=name, instruments=list(instruments.values()), license="test")
    return MappedKit(kit=kit, pieces=instruments, report=MappingReport(kit=name, mapped={p: p for p in pieces}))


def performance(hits: Sequence[tuple[float, str, int]], duration_s: float | None = None) -> Performance:
    """A Performance from ``(time_s, piece, velocity)``."""
    hs = sorted((Hit(t, p, v, 0) for t, p, v in hits), key=lambda h: h.time_s)
    return Performance(hits=hs, duration_s=duration_s if duration_s is not None else hs[-1].time_s + 0.1)


def write_info_csv(root: Path, rows: Sequence[dict]) -> Path:
    """A GMD-style info.csv under ``root``."""
    cols = ["drummer", "session", "id", "style", "bpm", "beat_type", "time_signature",
            "midi_filename", "audio_filename", "duration", "split"]
    path = root / "info.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for row in rows:
            w.writerow({c: row.get(c, "") for c in cols})
    return path


def tiny_gmd(root: Path, n: int = 3, splits: Sequence[str] = ("train", "validation", "test")) -> Path:
    """A GMD-shaped folder: ``n`` short performances per split with an info.csv."""
    rows = []
    i = 0
    for split in splits:
        for k in range(n):
            i += 1
            drummer = f"drummer{1 + i % 2}"
            session = f"{drummer}/session1" if split == "train" else f"{drummer}/eval_session"
            fname = f"{session}/{i}_rock_120_beat_4-4.mid"
            write_midi(root / fname, [(b + 0.01 * k, p, v) for b, p, v in GROOVE])
            rows.append(dict(drummer=drummer, session=session, id=f"{session}/{i}", style="rock", bpm=120,
                             beat_type="beat", time_signature="4-4", midi_filename=fname,
                             audio_filename=fname.replace(".mid", ".wav"), duration=2.5, split=split))
    write_info_csv(root, rows)
    return root


def at(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE))
