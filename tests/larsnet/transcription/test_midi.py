"""write_midi: a valid GM drum file that parses back with mido and our own reader."""
from __future__ import annotations

from pathlib import Path

import mido
import pytest

from larsnet.data.midi import read_drum_midi
from larsnet.errors import OptionError
from larsnet.transcription import Note, transcribe, write_midi

from .conftest import Rendered


def messages(path: Path) -> list[tuple[float, mido.Message]]:
    """(seconds, message) of every channel message, tempo-aware (mido's own merge)."""
    out, now = [], 0.0
    for msg in mido.MidiFile(path):
        now += msg.time
        if not msg.is_meta:
            out.append((now, msg))
    return out


def test_notes_come_back_at_their_times_on_channel_10(tmp_path: Path) -> None:
    notes = [Note(0.0, 36, 100, "kick"), Note(0.5, 42, 60, "hihat"), Note(0.5, 38, 110, "snare"),
             Note(1.234, 46, 127, "hihat"), Note(2.0, 49, 1, "cymbals")]
    path = write_midi(notes, tmp_path / "out" / "drums.mid")
    midi = mido.MidiFile(path)
    assert (midi.type, midi.ticks_per_beat, len(midi.tracks)) == (1, 480, 2)
    ons = [(round(t, 3), m.note, m.velocity) for t, m in messages(path) if m.type == "note_on"]
    assert ons == [(0.0, 36, 100), (0.5, 38, 110), (0.5, 42, 60), (1.234, 46, 127), (2.0, 49, 1)]
    assert {m.channel for _, m in messages(path)} == {9}
    # every note-on is followed by its note-off a 32nd note later (62.5 ms at 120 bpm)
    ticks = 960  # per second at 120 bpm
    offs = [(round(t * ticks), m.note) for t, m in messages(path) if m.type == "note_off"]
    assert sorted(offs) == sorted((round(n.time_s * ticks) + 60, n.pitch) for n in notes)
    performance = read_drum_midi(path)
    assert [h.piece for h in performance.hits] == ["kick", "snare", "hihat_closed", "hihat_open", "crash"]


def test_a_bpm_sets_the_tempo_but_keeps_the_times(tmp_path: Path) -> None:
    path = write_midi([Note(0.75, 36, 90, "kick"), Note(1.5, 36, 90, "kick")], tmp_path / "a.mid", bpm=80)
    tempos = [m.tempo for m in mido.MidiFile(path).tracks[0] if m.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(80)]
    assert [round(t, 3) for t, m in messages(path) if m.type == "note_on"] == [0.75, 1.5]
    assert mido.MidiFile(path).tracks[1][1].time == 480  # 0.75 s at 80 bpm: one beat


def test_fast_repeats_end_before_the_next_hit_and_duplicates_merge(tmp_path: Path) -> None:
    notes = [Note(1.0, 38, 50, "snare"), Note(1.02, 38, 60, "snare"), Note(1.02, 38, 90, "snare")]
    path = write_midi(notes, tmp_path / "roll.mid")
    events = [(round(t, 4), m.type, m.velocity) for t, m in messages(path)]
    assert events == [(1.0, "note_on", 50), (1.0198, "note_off", 0), (1.0198, "note_on", 90), (1.0823, "note_off", 0)]


def test_no_notes_still_make_a_valid_file(tmp_path: Path) -> None:
    path = write_midi([], tmp_path / "empty.mid")
    midi = mido.MidiFile(path)
    assert messages(path) == [] and len(midi.tracks) == 2
    assert midi.tracks[1][-1].type == "end_of_track"


def test_transcribed_stems_round_trip(tmp_path: Path, rendered: Rendered) -> None:
    notes = transcribe(rendered.stems, 44_100)
    path = write_midi(notes, tmp_path / "groove.mid")
    back = read_drum_midi(path)
    assert len(back.hits) == len(notes)
    assert [(round(h.time_s, 3), h.pitch, h.velocity) for h in back.hits] == \
        sorted((round(round(n.time_s * 960) / 960, 3), n.pitch, n.velocity) for n in notes)
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temp file left


def test_bad_notes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="velocity 1..127"):
        write_midi([Note(0.0, 36, 0, "kick")], tmp_path / "x.mid")
    with pytest.raises(OptionError, match="bpm must be > 0"):
        write_midi([], tmp_path / "x.mid", bpm=0)
    assert not (tmp_path / "x.mid").exists()
