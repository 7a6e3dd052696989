from pathlib import Path

import numpy as np
import pytest

from larsnet.data.hydrogen import inspect_hydrogen, load_hydrogen
from larsnet.data.loaders import load_kit
from larsnet.errors import KitError
from larsnet.stems import SAMPLE_RATE
from tests.larsnet.data.kitfactory import make_hydrogen_kit

HYDROGEN_DIR = Path("/usr/share/hydrogen/data/drumkits")


@pytest.mark.parametrize("layout", ["namespaced", "old", "oldest"])
def test_every_layout_loads_to_stereo_44k(tmp_path: Path, layout: str):
    kit = load_kit(make_hydrogen_kit(tmp_path / layout, layout=layout, rate=48_000))
    assert kit.format == "hydrogen" and kit.name == "Test Kit"
    assert kit.license == "CC0" and kit.author == "Test Author"
    kick = kit.instrument("Kick")
    for inst in kit.instruments:
        for layer in inst.layers:
            for sample in layer.samples:
                assert sample.dtype == np.float32 and sample.shape[0] == 2
                assert np.array_equal(sample[0], sample[1])  # mono placed in both channels
    # 0.05 s at 48 kHz resampled to 44.1 kHz
    assert kick.layers[0].samples[0].shape[1] == pytest.approx(0.05 * SAMPLE_RATE, abs=2)
    if layout == "oldest":
        assert len(kick.layers) == 1 and kick.layers[0].lo == 1 and kick.layers[0].hi == 127


def test_velocity_layers_round_robin_gain_pan_chokes(tmp_path: Path):
    kit = load_kit(make_hydrogen_kit(tmp_path / "k"))
    kick = kit.instrument("Kick")
    assert [(l.lo, l.hi) for l in kick.layers] == [(1, 64), (65, 127)]
    assert kick.layers[1].gain == pytest.approx(0.8)
    assert kick.layer_for(30) is kick.layers[0] and kick.layer_for(100) is kick.layers[1]
    snare = kit.instrument("Snare")
    assert len(snare.layers) == 1 and len(snare.layers[0].samples) == 2  # same range: round robin
    assert kit.instrument("Ride").pan == pytest.approx(-0.5)  # pan_R 0.5, pan_L 1: left
    closed, opened = kit.instrument("Hat Closed"), kit.instrument("Hat Open")
    assert closed.choke_group == opened.choke_group == 1 and opened.chokes == (1,)
    assert kit.instrument("Crash").choke_group is None
    assert kick.midi_notes == (36,)


def test_notes_shared_by_every_instrument_are_ignored(tmp_path: Path):
    """The Black Pearl puts every instrument on note 60: that must not map anything."""
    kit = load_kit(make_hydrogen_kit(tmp_path / "k", notes=False))
    assert all(inst.midi_notes == () for inst in kit.instruments)


def test_overlapping_ranges_become_contiguous(tmp_path: Path):
    insts = [("Kick", 36, -1, [("a.wav", 0.0, 0.376812, 1.0), ("b.wav", 0.369565, 0.731884, 1.0),
                               ("c.wav", 0.731884, 1.0, 1.0)]),
             ("Snare", 38, -1, [("s.wav", 0.0, 1.0, 1.0)])]
    kit = load_kit(make_hydrogen_kit(tmp_path / "k", instruments=insts))
    ranges = [(l.lo, l.hi) for l in kit.instrument("Kick").layers]
    assert ranges == [(1, 48), (49, 93), (94, 127)]


def test_layer_pitch_is_applied_by_resampling(tmp_path: Path):
    insts = [("Kick", 36, -1, [("k.wav", 0.0, 1.0, 1.0, 12)]), ("Snare", 38, -1, [("s.wav", 0.0, 1.0, 1.0)])]
    kit = load_kit(make_hydrogen_kit(tmp_path / "k", instruments=insts, rate=SAMPLE_RATE))
    kick, snare = (kit.instrument(n).layers[0].samples[0] for n in ("Kick", "Snare"))
    assert kick.shape[1] == pytest.approx(snare.shape[1] / 2, abs=2)  # an octave up: half as long


def test_inspect_reads_no_audio_and_lists_missing(tmp_path: Path):
    root = make_hydrogen_kit(tmp_path / "k", skip_files=["cowbell.wav"])
    info = inspect_hydrogen(root)
    assert [i.name for i in info.instruments][:2] == ["Kick", "Snare"]
    assert info.instruments[0].layers == 2 and info.instruments[1].samples == 2
    assert info.missing_files == ["cowbell.wav"]


def test_missing_samples_are_listed(tmp_path: Path):
    root = make_hydrogen_kit(tmp_path / "k", skip_files=["cowbell.wav", "ride.wav"])
    with pytest.raises(KitError, match=r"drumkit.xml: 2 sample file\(s\) missing: cowbell.wav, ride.wav"):
        load_kit(root)
    kit = load_hydrogen(root, strict=False)
    assert kit.broken == {"Ride": ["ride.wav"], "Cowbell": ["cowbell.wav"]}
    assert "Ride" not in [i.name for i in kit.instruments]


def test_unreadable_sample_names_the_file(tmp_path: Path):
    root = make_hydrogen_kit(tmp_path / "k")
    (root / "crash.wav").write_bytes(b"not audio at all")
    with pytest.raises(KitError, match=r"crash.wav: cannot read sample"):
        load_kit(root)


@pytest.mark.parametrize("content, message", [
    ("<drumkit_info><name>x</name", r"not valid XML"),
    ("<song><name>x</name></song>", r"root element is <song>"),
])
def test_bad_xml(tmp_path: Path, content: str, message: str):
    (tmp_path / "drumkit.xml").write_text(content)
    with pytest.raises(KitError, match=message):
        load_kit(tmp_path)


def test_empty_slots_are_skipped_like_hydrogen_does(tmp_path: Path):
    insts = [("Kick", 36, -1, [("k.wav", 0.0, 1.0, 1.0)]), ("Snare", 38, -1, [("s.wav", 0.0, 1.0, 1.0)]),
             ("17", 60, -1, [("emptySample.flac", 0.0, 1.0, 1.0)])]
    root = make_hydrogen_kit(tmp_path / "k", instruments=insts, skip_files=["emptySample.flac"])
    kit = load_kit(root)
    assert [i.name for i in kit.instruments] == ["Kick", "Snare"]


@pytest.mark.kits
@pytest.mark.parametrize("folder, layers", [("GMRockKit", 5), ("Millo-Drums_v.1", 1)])
def test_debian_kits_load(folder: str, layers: int):
    path = HYDROGEN_DIR / folder
    if not path.is_dir():
        pytest.skip(f"{path} not installed (scripts/install-kits.sh)")
    kit = load_kit(path)
    assert len(kit.instrument("Kick").layers) == layers
