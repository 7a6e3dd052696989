from pathlib import Path

import mido
import numpy as np
import pytest

from larsnet.data.gmd import read_gmd, records_from_midi_dir
from larsnet.data.midi import read_drum_midi
from larsnet.errors import MidiError, OptionError
from tests.larsnet.data.builders import GROOVE, write_midi


def test_reads_hits_with_gmd_mapping(tmp_path: Path):
    perf = read_drum_midi(write_midi(tmp_path / "g.mid"))
    assert len(perf.hits) == len(GROOVE)
    first = perf.hits[0]
    assert first.time_s == 0.0 and first.piece in ("kick", "hihat_closed")
    pieces = {(round(h.time_s, 6), h.pitch): h.piece for h in perf.hits}
    assert pieces[(0.75, 46)] == "hihat_open"  # beat 1.5 at 120 bpm
    assert pieces[(1.0, 44)] == "hihat_closed"  # pedal hat is the closed hat
    assert pieces[(1.625, 43)] == "floor_tom"
    assert perf.unknown_pitches == {} and perf.warnings == []
    assert perf.source.endswith("g.mid")


def test_times_honour_tempo_changes(tmp_path: Path):
    # 120 bpm for two beats (1 s), then 60 bpm: beat 3 is at 1 s + 1 s
    path = write_midi(tmp_path / "t.mid", [(0, 36, 100), (2, 38, 100), (3, 38, 90)], tempo_changes=[(2, 60)])
    times = [h.time_s for h in read_drum_midi(path).hits]
    assert times == pytest.approx([0.0, 1.0, 2.0])
    assert read_drum_midi(path).duration_s == pytest.approx(mido.MidiFile(path).length)


def test_only_note_on_with_velocity_counts(tmp_path: Path):
    perf = read_drum_midi(write_midi(tmp_path / "v.mid", [(0, 36, 100), (1, 38, 1)]))
    assert [h.velocity for h in perf.hits] == [100, 1]  # the velocity-0 note-offs are gone


def test_unknown_pitches_are_counted_and_reported(tmp_path: Path):
    path = write_midi(tmp_path / "u.mid", [(0, 36, 100), (0.5, 39, 90), (1, 39, 90), (1.5, 81, 50)])
    perf = read_drum_midi(path)
    assert [h.piece for h in perf.hits] == ["kick"]
    assert perf.unknown_pitches == {39: 2, 81: 1}
    assert len(perf.warnings) == 1
    assert "u.mid" in perf.warnings[0] and "39 (x2), 81 (x1)" in perf.warnings[0]


def test_melodic_channels_ignored_when_drum_channel_used(tmp_path: Path):
    path = tmp_path / "m.mid"
    mid = mido.MidiFile()
    track = mido.MidiTrack([
        mido.Message("note_on", note=36, velocity=90, channel=9, time=0),
        mido.Message("note_on", note=38, velocity=90, channel=0, time=0),  # a piano D2
        mido.Message("note_on", note=38, velocity=80, channel=9, time=480),
    ])
    mid.tracks.append(track)
    mid.save(path)
    assert [h.pitch for h in read_drum_midi(path).hits] == [36, 38]


def test_drum_notes_on_another_channel_still_read(tmp_path: Path):
    perf = read_drum_midi(write_midi(tmp_path / "c.mid", [(0, 36, 100), (1, 38, 100)], channel=0))
    assert [h.piece for h in perf.hits] == ["kick", "snare"]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt "), r"c\.mid: not a readable MIDI file"),
        (lambda p: p.write_bytes(b""), r"c\.mid: not a readable MIDI file"),
        (lambda p: p.write_bytes(write_midi(p).read_bytes()[:30]), r"c\.mid: (not a readable MIDI file|corrupt)"),
    ],
    ids=["not-midi", "empty-file", "truncated"],
)
def test_corrupt_files(tmp_path: Path, make, match):
    path = tmp_path / "c.mid"
    make(path)
    with pytest.raises(MidiError, match=match):
        read_drum_midi(path)


def test_missing_file(tmp_path: Path):
    with pytest.raises(MidiError, match=r"nope\.mid: no such MIDI file"):
        read_drum_midi(tmp_path / "nope.mid")


def test_zero_length(tmp_path: Path):
    path = tmp_path / "z.mid"
    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", note=36, velocity=100, time=0)]))
    mid.save(path)
    with pytest.raises(MidiError, match=r"z\.mid: zero-length MIDI file"):
        read_drum_midi(path)


def test_no_drum_notes(tmp_path: Path):
    path = tmp_path / "n.mid"
    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=500000, time=0),
        mido.Message("note_off", note=36, velocity=0, time=480),
        mido.Message("control_change", control=4, value=90, time=480),
    ]))
    mid.save(path)
    with pytest.raises(MidiError, match=r"n\.mid: no drum notes \(no note-on with velocity > 0\)"):
        read_drum_midi(path)


def test_only_unknown_pitches_is_no_drum_notes(tmp_path: Path):
    path = write_midi(tmp_path / "p.mid", [(0, 60, 100), (1, 64, 100)], channel=0)
    with pytest.raises(MidiError, match=r"p\.mid: no drum notes on the GMD pitch map \(pitches found: 60, 64\)"):
        read_drum_midi(path)


def test_real_gmd_performance(gmd_root: Path):
    record = next(r for r in read_gmd(gmd_root, split="test") if r.duration > 20)
    perf = read_drum_midi(record.midi_path)
    assert perf.duration_s == pytest.approx(record.duration, abs=0.05)
    assert len(perf.hits) > 20 and not perf.warnings
    assert np.all(np.diff(perf.arrays.time_s) >= 0)


def test_read_gmd_splits(gmd_root: Path):
    assert len(read_gmd(gmd_root, split="train")) == 897
    assert len(read_gmd(gmd_root, split=["validation", "test"])) == 253
    assert len(read_gmd(gmd_root)) == 1150
    record = read_gmd(gmd_root, split="test")[0]
    assert record.relative_stem == Path(record.midi_filename).with_suffix("").as_posix()
    with pytest.raises(OptionError, match="unknown split bogus"):
        read_gmd(gmd_root, split="bogus")


def test_read_gmd_missing_info(tmp_path: Path):
    with pytest.raises(OptionError, match=r"info\.csv: not found; point --gmd"):
        read_gmd(tmp_path)


def test_records_from_midi_dir(tmp_path: Path):
    write_midi(tmp_path / "a" / "b" / "one.mid")
    write_midi(tmp_path / "two.MIDI")
    (tmp_path / "notes.txt").write_text("x")
    records = records_from_midi_dir(tmp_path)
    assert [r.midi_filename for r in records] == ["a/b/one.mid", "two.MIDI"]
    assert records[0].session == "a/b" and records[0].drummer == "a" and records[0].split is None
    assert records[1].relative_stem == "two"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(OptionError, match=r"empty: no \.mid or \.midi files found"):
        records_from_midi_dir(empty)
    with pytest.raises(OptionError, match=r"missing: not a folder"):
        records_from_midi_dir(tmp_path / "missing")
