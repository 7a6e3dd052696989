import csv
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from larsnet.cli import main
from larsnet.data.gmd import read_gmd, records_from_midi_dir
from larsnet.data.kit import MappedKit
from larsnet.data.synth import METADATA_COLUMNS, kit_folder_name, synthesize
from larsnet.data.synthetic import make_synthetic_kit
from larsnet.errors import KitError, OptionError
from larsnet.stems import PIECES
from tests.larsnet.data.builders import GROOVE, tiny_gmd, write_midi

FILES = {*(f"{p}.wav" for p in PIECES), "mixture.wav"}


def _kit(name: str, seed: int = 0) -> MappedKit:
    return make_synthetic_kit(name, seed=seed, layers=2, round_robin=2, length_scale=0.1)


@pytest.fixture
def fake_discovery(monkeypatch):
    """Make discovery find exactly the given kits: name -> kit, or the exception get_kit raises."""
    from larsnet.data import discovery

    def install(kits: dict[str, object]):
        def find_kits(extra_paths=(), **_):
            return [types.SimpleNamespace(name=n, license="CC0-1.0", held_out=False, kind="acoustic", family=n)
                    for n in kits]

        def get_kit(name, extra_paths=()):
            value = kits.get(name)
            if value is None:
                raise KitError(None, f"no kit named {name!r}")
            if isinstance(value, Exception):
                raise value
            return value

        monkeypatch.setattr(discovery, "find_kits", find_kits)
        monkeypatch.setattr(discovery, "get_kit", get_kit)
        return discovery

    return install


@pytest.fixture
def midi_dir(tmp_path: Path) -> Path:
    root = tmp_path / "midi"
    write_midi(root / "drummer1" / "session1" / "1_rock_120_beat_4-4.mid")
    write_midi(root / "drummer1" / "session1" / "2_funk_100_fill_4-4.mid", GROOVE[:5], bpm=100)
    return root


def test_layout_metadata_and_audio(midi_dir: Path, tmp_path: Path):
    out = tmp_path / "out"
    report = synthesize(records_from_midi_dir(midi_dir), [_kit("Kit A"), _kit("Kit B", 1)], out, tail_s=0.5)
    assert report.ok and report.rendered == 4 and report.existing == 0
    item = out / "drummer1" / "session1" / "1_rock_120_beat_4-4" / "kit_a"
    assert {p.name for p in item.iterdir()} == FILES
    info = sf.info(str(item / "kick.wav"))
    assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "PCM_16")
    # the mixture on disk is the sum of the stems on disk, up to the 16-bit quantisation of each file
    mix = sf.read(str(item / "mixture.wav"))[0]
    stems = sum(sf.read(str(item / f"{p}.wav"))[0] for p in PIECES)
    assert np.abs(mix - stems).max() <= 5 / 32768 and np.abs(mix).max() > 0.01
    assert not sf.read(str(item.parent.parent / "2_funk_100_fill_4-4" / "kit_a" / "ride.wav"))[0].any()  # never played

    with open(out / "metadata.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames) == METADATA_COLUMNS
    assert {"drummer", "session", "style", "bpm", "beat_type", "time_signature", "split", "kit"} <= set(METADATA_COLUMNS)
    assert len(rows) == 4
    row = next(r for r in rows if r["folder"] == "drummer1/session1/1_rock_120_beat_4-4/kit_a")
    assert row["kit"] == "Kit A" and row["drummer"] == "drummer1" and row["session"] == "drummer1/session1"
    assert row["mixture"] == row["folder"] + "/mixture.wav" and row["floor_tom"] == row["folder"] + "/floor_tom.wav"
    assert float(row["duration"]) == pytest.approx(4.85 * 0.5, abs=0.01)  # last note-off + 1 beat at 120 bpm


def test_gmd_columns_are_kept(tmp_path: Path):
    gmd = tiny_gmd(tmp_path / "gmd", n=1)
    out = tmp_path / "out"
    report = synthesize(read_gmd(gmd, split="test"), [_kit("K")], out, tail_s=0.2)
    assert report.ok and report.rendered == 1
    row = next(csv.DictReader(open(out / "metadata.csv")))
    assert (row["split"], row["style"], row["bpm"], row["beat_type"], row["time_signature"]) == ("test", "rock", "120", "beat", "4-4")
    assert (out / row["folder"]).parent == out / Path(row["midi_filename"]).with_suffix("")


def test_flac_and_stemgmd_naming(midi_dir: Path, tmp_path: Path):
    out = tmp_path / "out"
    records = records_from_midi_dir(midi_dir)[:1]
    synthesize(records, [_kit("K")], out, audio_format="flac", naming="stemgmd", tail_s=0.2)
    names = {p.name for p in (out / "drummer1/session1/1_rock_120_beat_4-4/k").iterdir()}
    assert {"low_tom.flac", "crash_left.flac", "hi_tom.flac", "mixture.flac"} <= names and len(names) == 10


def test_second_run_skips_completed_items(midi_dir: Path, tmp_path: Path):
    out, kits = tmp_path / "out", [_kit("K")]
    records = records_from_midi_dir(midi_dir)
    synthesize(records, kits, out, tail_s=0.2)
    kick = out / "drummer1/session1/1_rock_120_beat_4-4/k/kick.wav"
    stamp = kick.stat().st_mtime_ns
    again = synthesize(records, kits, out, tail_s=0.2)
    assert (again.rendered, again.existing, again.ok) == (0, 2, True)
    assert kick.stat().st_mtime_ns == stamp
    # an interrupted item (a file missing) is rendered again, and only that one
    (out / "drummer1/session1/2_funk_100_fill_4-4/k/snare.wav").unlink()
    third = synthesize(records, kits, out, tail_s=0.2)
    assert (third.rendered, third.existing) == (1, 1)
    assert len(list(csv.DictReader(open(out / "metadata.csv")))) == 2
    assert not list(out.rglob("*.tmp"))


def test_bad_midi_files_are_skipped_and_the_rest_goes_on(midi_dir: Path, tmp_path: Path):
    (midi_dir / "corrupt.mid").write_bytes(b"not a midi file at all")
    write_midi(midi_dir / "melody.mid", [(0, 60, 100)], channel=0)
    write_midi(midi_dir / "unknown.mid", [(0, 36, 100), (1, 39, 100)])
    messages: list[str] = []
    report = synthesize(records_from_midi_dir(midi_dir), [_kit("K1"), _kit("K2", 1)], tmp_path / "out",
                        tail_s=0.2, on_message=messages.append)
    assert report.rendered == 6  # two good files + the one with an unknown pitch, two kits each
    reasons = {s.what.rsplit("/", 1)[-1]: (s.reason, s.items) for s in report.skipped}
    assert set(reasons) == {"corrupt.mid", "melody.mid"}
    assert reasons["corrupt.mid"][1] == 2
    assert "not a readable MIDI file" in reasons["corrupt.mid"][0]
    assert "no drum notes on the GMD pitch map" in reasons["melody.mid"][0]
    assert any("unknown.mid" in w and "39 (x1)" in w for w in report.warnings)
    assert sum("corrupt.mid" in m for m in messages) == 1  # reported once, not once per kit
    assert "skipped 4 item(s)" in report.summary()


def test_bad_kit_is_skipped_and_the_rest_goes_on(midi_dir: Path, tmp_path: Path, fake_discovery):
    fake_discovery({
        "Good": _kit("Good"),
        "Broken": KitError("/kits/Broken/drumkit.xml", "maps no kick or snare; add a mapping file"),
    })
    messages: list[str] = []
    report = synthesize(records_from_midi_dir(midi_dir), ["Broken", "Good", "Missing"], tmp_path / "out",
                        tail_s=0.2, on_message=messages.append)
    assert report.rendered == 2
    skipped = {s.what: s for s in report.skipped}
    assert set(skipped) == {"kit 'Broken'", "kit 'Missing'"}
    assert skipped["kit 'Broken'"].items == 2
    assert "drumkit.xml: maps no kick or snare" in skipped["kit 'Broken'"].reason
    assert sum("Broken" in m for m in messages) == 1
    assert (tmp_path / "out/drummer1/session1/1_rock_120_beat_4-4/good/mixture.wav").exists()


def test_parallel_jobs_match_serial(midi_dir: Path, tmp_path: Path):
    records, kits = records_from_midi_dir(midi_dir), [_kit("K1"), _kit("K2", 1)]
    serial = synthesize(records, kits, tmp_path / "a", tail_s=0.2)
    parallel = synthesize(records, kits, tmp_path / "b", tail_s=0.2, jobs=2)
    assert serial.rendered == parallel.rendered == 4
    for f in (tmp_path / "a").rglob("*.wav"):
        other = tmp_path / "b" / f.relative_to(tmp_path / "a")
        assert np.array_equal(sf.read(str(f))[0], sf.read(str(other))[0])


def test_options_are_checked(midi_dir: Path, tmp_path: Path):
    records = records_from_midi_dir(midi_dir)
    with pytest.raises(OptionError, match="format must be one of wav, flac"):
        synthesize(records, [_kit("K")], tmp_path, audio_format="mp3")
    with pytest.raises(OptionError, match="no kits to render with"):
        synthesize(records, [], tmp_path)
    with pytest.raises(OptionError, match="would share the folder 'a_b'"):
        synthesize(records, [_kit("A B"), _kit("a-b")], tmp_path)


def test_kit_folder_name():
    assert kit_folder_name("The Black Pearl 1.0") == "the_black_pearl_1_0"
    assert kit_folder_name("AVL Red Zeppelin 4pc") == "avl_red_zeppelin_4pc"


def test_cli_synth(midi_dir: Path, tmp_path: Path, fake_discovery, capsys):
    fake_discovery({"Good": _kit("Good"), "Broken": KitError("/kits/broken.sfz", "sample kick.wav is missing")})
    out = tmp_path / "out"
    code = main(["synth", str(out), "--midi-dir", str(midi_dir), "--kits", "Good", "--tail", "0.2", "-q"])
    assert code == 0
    assert "rendered 2, already done 0, skipped 0" in capsys.readouterr().out
    code = main(["synth", str(out), "--midi-dir", str(midi_dir), "--kits", "Good,Broken", "--tail", "0.2", "-q"])
    captured = capsys.readouterr()
    assert code == 1
    assert "rendered 0, already done 2, skipped 2" in captured.out
    assert "skipped kit 'Broken'" in captured.err and "broken.sfz: sample kick.wav is missing" in captured.err


def test_cli_gmd_split_and_limit(tmp_path: Path, fake_discovery, capsys):
    fake_discovery({"Good": _kit("Good")})
    gmd = tiny_gmd(tmp_path / "gmd", n=3)
    out = tmp_path / "out"
    code = main(["synth", str(out), "--gmd", str(gmd), "--split", "validation", "--limit", "2", "--tail", "0.1", "-q"])
    assert code == 0
    rows = list(csv.DictReader(open(out / "metadata.csv")))
    assert len(rows) == 2 and {r["split"] for r in rows} == {"validation"}


def test_cli_rejects_split_with_midi_dir(midi_dir: Path, tmp_path: Path, capsys):
    code = main(["synth", str(tmp_path / "o"), "--midi-dir", str(midi_dir), "--split", "train"])
    assert code == 2
    assert "--split needs GMD's info.csv" in capsys.readouterr().err


@pytest.mark.kits
def test_real_kit_by_name(gmd_root: Path, tmp_path: Path):
    discovery = pytest.importorskip("larsnet.data.discovery")
    if "The Black Pearl 1.0" not in {e.name for e in discovery.find_kits()}:
        pytest.skip("The Black Pearl 1.0 not installed (scripts/install-kits.sh)")
    record = min((r for r in read_gmd(gmd_root, split="test")), key=lambda r: r.duration)
    report = synthesize([record], ["The Black Pearl 1.0"], tmp_path, tail_s=0.5)
    assert report.ok and report.rendered == 1
    row = next(csv.DictReader(open(tmp_path / "metadata.csv")))
    assert row["kit"] == "The Black Pearl 1.0" and row["kit_license"] != "unknown" and row["held_out"] == "0"
    kick = sf.read(str(tmp_path / row["kick"]))[0]
    assert np.abs(kick).max() > 0.01
