from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from larsnet.data.gmd import read_gmd
from larsnet.data.stemgmd import DEFAULT_PATTERN, STEMGMD_FILE_NAMES, pattern_regex, scan_stemgmd
from larsnet.data.synth import synthesize
from larsnet.data.synthetic import make_synthetic_kit
from larsnet.errors import OptionError
from larsnet.stems import PIECES
from tests.larsnet.data.builders import tiny_gmd, write_info_csv


def _wav(path: Path, value: float = 0.1, frames: int = 1000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.full((frames, 2), value), 44100, subtype="PCM_16")


def _fake_stemgmd(root: Path) -> Path:
    """StemGMD's own tree and file names, no mixture."""
    for perf in ("drummer1/eval_session/1_funk-groove1_138_beat_4-4", "drummer2/session1/5_rock_90_beat_4-4"):
        for kit in ("brooklyn", "east_bay"):
            for name in STEMGMD_FILE_NAMES.values():
                _wav(root / perf / kit / f"{name}.wav")
    (root / "README.txt").write_text("not audio")
    return root


def test_reads_real_stemgmd_layout(tmp_path: Path):
    items = scan_stemgmd(_fake_stemgmd(tmp_path / "StemGMD"))
    assert len(items) == 4
    first = items[0]
    assert (first.drummer, first.session, first.performance, first.kit) == (
        "drummer1", "eval_session", "1_funk-groove1_138_beat_4-4", "brooklyn")
    assert set(first.files) == set(PIECES)  # low_tom -> floor_tom, crash_left -> crash
    assert first.files["floor_tom"].name == "low_tom.wav" and first.files["crash"].name == "crash_left.wav"
    assert first.mixture is None and first.split is None
    assert first.performance_path == "drummer1/eval_session/1_funk-groove1_138_beat_4-4"


def test_kit_and_split_filters(tmp_path: Path):
    root = _fake_stemgmd(tmp_path / "StemGMD")
    assert {i.kit for i in scan_stemgmd(root, kits=["East_Bay"])} == {"east_bay"}
    gmd = tmp_path / "gmd"
    gmd.mkdir()
    write_info_csv(gmd, [
        dict(midi_filename="drummer1/eval_session/1_funk-groove1_138_beat_4-4.mid", split="test"),
        dict(midi_filename="drummer2/session1/5_rock_90_beat_4-4.mid", split="train"),
    ])
    test = scan_stemgmd(root, split="test", gmd_root=gmd)
    assert {i.performance for i in test} == {"1_funk-groove1_138_beat_4-4"} and len(test) == 2
    with pytest.raises(OptionError, match="cannot filter by split: no split known"):
        scan_stemgmd(root, split="test")


def test_nothing_found_shows_expected_layout(tmp_path: Path):
    (tmp_path / "flat").mkdir()
    _wav(tmp_path / "flat" / "kick.wav")
    with pytest.raises(OptionError, match=r"no drum stems found with pattern .*expected e\.g\. .*"
                                          r"drummer1/session1/1_funk_80_beat_4-4/<kit>/kick\.wav.*found e\.g\. 'kick\.wav'"):
        scan_stemgmd(tmp_path / "flat")
    with pytest.raises(OptionError, match="missing: not a folder; expected a StemGMD-style dataset"):
        scan_stemgmd(tmp_path / "missing")


def test_unknown_piece_names_are_named(tmp_path: Path):
    _wav(tmp_path / "d" / "s" / "p" / "k" / "cowbell.wav")
    with pytest.raises(OptionError, match="file names cowbell are not pieces"):
        scan_stemgmd(tmp_path)


def test_custom_pattern(tmp_path: Path):
    _wav(tmp_path / "kitX" / "song1" / "kick.flac")
    _wav(tmp_path / "kitX" / "song1" / "snare.flac")
    items = scan_stemgmd(tmp_path, pattern="{kit}/{performance}/{piece}.{ext}")
    assert len(items) == 1 and items[0].kit == "kitX" and set(items[0].files) == {"kick", "snare"}
    with pytest.raises(OptionError, match=r"unknown field \{song\}"):
        scan_stemgmd(tmp_path, pattern="{kit}/{song}/{piece}.wav")
    with pytest.raises(OptionError, match=r"needs a \{piece\} field"):
        pattern_regex("{kit}/{performance}.wav")


def test_default_pattern_does_not_match_deeper_paths():
    regex = pattern_regex(DEFAULT_PATTERN)
    assert regex.match("d/s/p/k/kick.wav")
    assert not regex.match("x/d/s/p/k/kick.wav") and not regex.match("d/s/p/k/kick.mp3")


def test_reads_our_synth_output_with_splits(tmp_path: Path):
    gmd = tiny_gmd(tmp_path / "gmd", n=1)
    out = tmp_path / "out"
    kit = make_synthetic_kit("Kit One", length_scale=0.1)
    synthesize(read_gmd(gmd), [kit], out, tail_s=0.1)
    items = scan_stemgmd(out)
    assert len(items) == 3 and {i.kit for i in items} == {"kit_one"}
    assert all(set(i.files) == set(PIECES) and i.mixture is not None for i in items)
    assert {i.split for i in items} == {"train", "validation", "test"}  # from metadata.csv
    assert len(scan_stemgmd(out, split=["validation"])) == 1
