from pathlib import Path

import numpy as np
import pytest

from larsnet.data.folder import is_folder_kit, load_sonic_pi
from larsnet.data.loaders import detect_format, inspect_kit, load_kit
from larsnet.data.mapping import map_kit
from larsnet.errors import KitError
from tests.larsnet.data.kitfactory import make_folder_kit, write_wav

SONIC_PI = Path("/usr/share/sonic-pi/samples")


def test_piece_folders_layers_and_round_robin(tmp_path: Path):
    root = make_folder_kit(tmp_path / "My Kit")
    assert is_folder_kit(root) and detect_format(root)[0] == "folder"
    kit = load_kit(root)
    assert kit.name == "My Kit" and kit.license == "CC0-1.0, do what you like"
    kick = kit.instrument("kick")
    assert [(l.lo, l.hi) for l in kick.layers] == [(1, 64), (65, 127)]  # _v1, _v2
    assert np.abs(kick.layers[0].samples[0]).max() < np.abs(kick.layers[1].samples[0]).max()
    snare = kit.instrument("snare")
    assert len(snare.layers) == 1 and len(snare.layers[0].samples) == 2  # _rr1, _rr2
    hat_open = kit.instrument("hihat_open")  # soft/ and hard/ sub-folders
    assert len(hat_open.layers) == 2
    assert kit.instrument("HH").midi_notes == (42,)  # alias, case-insensitive
    assert kit.instrument("cowbell").midi_notes == ()


def test_aliases_map_to_pieces(tmp_path: Path):
    mapped = map_kit(load_kit(make_folder_kit(tmp_path / "k")))
    assert mapped.report.mapped == {"kick": "kick", "snare": "snare", "hi_tom": "tom1", "floor_tom": "tom3",
                                    "hihat_closed": "HH", "hihat_open": "hihat_open", "ride": "ride"}
    assert mapped.report.derived == {"mid_tom": "tom1 -3 semitones"}
    assert mapped.report.missing == ["crash"] and mapped.report.unused == ["cowbell"]


def test_flat_files_named_after_pieces(tmp_path: Path):
    write_wav(tmp_path / "kick_soft.wav", amplitude=0.2)
    write_wav(tmp_path / "kick_hard.wav", amplitude=0.9)
    write_wav(tmp_path / "snare.wav", noise=True)
    write_wav(tmp_path / "mid_tom_v1.wav")
    write_wav(tmp_path / "notes.wav")  # not a piece: ignored
    kit = load_kit(tmp_path)
    assert sorted(i.name for i in kit.instruments) == ["kick", "mid_tom", "snare"]
    kick = kit.instrument("kick")
    assert len(kick.layers) == 2
    assert np.abs(kick.layers[0].samples[0]).max() < np.abs(kick.layers[1].samples[0]).max()


def test_inspect_counts_without_loading(tmp_path: Path):
    info = inspect_kit(make_folder_kit(tmp_path / "k"))
    counts = {i.name: (i.layers, i.samples) for i in info.instruments}
    assert counts["kick"] == (2, 2) and counts["snare"] == (1, 2)


def test_a_folder_without_pieces_is_not_a_kit(tmp_path: Path):
    (tmp_path / "stuff").mkdir()
    with pytest.raises(KitError, match=r"not a kit: expected drumkit.xml, an .sfz, an .sf2, or piece folders"):
        load_kit(tmp_path)


def test_a_single_sample_is_not_a_kit(tmp_path: Path):
    with pytest.raises(KitError, match=r"kick.wav: a single sample is not a kit"):
        load_kit(write_wav(tmp_path / "kick.wav"))


def test_unknown_file_type(tmp_path: Path):
    (tmp_path / "kit.zip").write_bytes(b"PK")
    with pytest.raises(KitError, match=r"kit.zip: unknown kit format"):
        load_kit(tmp_path / "kit.zip")


def test_missing_path(tmp_path: Path):
    with pytest.raises(KitError, match=r"nowhere: no such kit file or folder"):
        load_kit(tmp_path / "nowhere")


def test_unreadable_sample(tmp_path: Path):
    root = make_folder_kit(tmp_path / "k")
    (root / "ride" / "ride.wav").write_bytes(b"RIFF....garbage")
    with pytest.raises(KitError, match=r"ride.wav: cannot read sample"):
        load_kit(root)
    kit = load_kit(root, strict=False)
    assert "ride" in kit.broken and "ride" not in [i.name for i in kit.instruments]


@pytest.mark.kits
def test_sonic_pi_kit():
    if not (SONIC_PI / "drum_snare_hard.flac").is_file():
        pytest.skip("sonic-pi-samples not installed (scripts/install-kits.sh)")
    assert detect_format(SONIC_PI)[0] == "sonic-pi"
    mapped = map_kit(load_sonic_pi(SONIC_PI))
    assert mapped.report.mapped["kick"] == "Kick" and mapped.report.missing == ["ride"]
    assert len(mapped.pieces["snare"].layers) == 2  # soft, hard
