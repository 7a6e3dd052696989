from pathlib import Path

import numpy as np
import pytest

from larsnet.data.loaders import inspect_kit, load_kit
from larsnet.data.samples import read_sample
from larsnet.data.sfz import load_sfz, parse_note, parse_sfz
from larsnet.errors import KitError
from larsnet.stems import SAMPLE_RATE
from tests.larsnet.data.kitfactory import make_sfz_kit


@pytest.mark.parametrize("text, note", [("36", 36), ("c4", 60), ("C-1", 0), ("c#2", 37), ("db2", 37), ("d2", 38)])
def test_note_names(text: str, note: int):
    assert parse_note(text) == note


def test_headers_defines_inheritance_and_skips(tmp_path: Path):
    regions = parse_sfz(make_sfz_kit(tmp_path))
    samples = [r.sample.name for r in regions]
    assert samples == ["kick_soft.wav", "kick_hard.wav", "snare1.wav", "snare2.wav", "hat open.wav",
                       "hat_closed.wav", "tom.wav", "crash.wav", "ride.wav"]  # no *sine, no release
    kick = regions[0]
    assert (kick.lokey, kick.hikey, kick.lovel, kick.hivel) == (36, 36, 1, 63)  # #define + <group> key
    assert regions[0].sample.parent == tmp_path / "samples"  # default_path with a backslash


def test_layers_round_robin_and_names(tmp_path: Path):
    kit = load_kit(make_sfz_kit(tmp_path))
    assert kit.format == "sfz" and kit.name == "kit"
    names = {i.name: i.midi_notes for i in kit.instruments}
    assert names == {"kick": (36,), "snare": (38,), "hat open": (46,), "hat_closed": (42,), "tom": (48,),
                     "crash": (49,), "ride": (51,)}
    kick = kit.instrument("kick")
    assert [(l.lo, l.hi) for l in kick.layers] == [(1, 63), (64, 127)]
    snare = kit.instrument("snare")
    assert len(snare.layers) == 1 and len(snare.layers[0].samples) == 2
    # seq_position orders round robin: snare2.wav (position 1) plays first
    first, second = snare.layers[0].samples
    assert np.array_equal(first, read_sample(tmp_path / "samples" / "snare2.wav"))
    assert np.array_equal(second, read_sample(tmp_path / "samples" / "snare1.wav"))


def test_volume_pan_tune_and_resampling(tmp_path: Path):
    kit = load_kit(make_sfz_kit(tmp_path))
    hat = kit.instrument("hat_closed")
    assert hat.pan == pytest.approx(-0.5)
    plain = read_sample(tmp_path / "samples" / "hat_closed.wav")
    ratio = np.abs(hat.layers[0].samples[0]).max() / np.abs(plain).max()
    assert ratio == pytest.approx(0.5, rel=1e-3)  # volume=-6.02 dB
    tom = kit.instrument("tom").layers[0].samples[0]
    assert tom.shape[1] == pytest.approx(0.05 * SAMPLE_RATE * 2 ** (3 / 12), rel=0.01)  # tune=-300: longer
    ride = kit.instrument("ride").layers[0].samples[0]  # written at 22.05 kHz
    assert ride.shape[1] == pytest.approx(0.05 * SAMPLE_RATE, abs=2)


def test_group_off_by_become_chokes(tmp_path: Path):
    kit = load_kit(make_sfz_kit(tmp_path))
    opened, closed = kit.instrument("hat open"), kit.instrument("hat_closed")
    assert opened.choke_group == 1 and closed.choke_group == 2
    assert closed.chokes == (1,)  # playing the closed hat (group 2) cuts group 1 (off_by=2)
    assert opened.chokes == ()


def test_labels_name_instruments(tmp_path: Path):
    text = "<group> group_label=Big Kick key=36\n<region> sample=samples/kick_soft.wav\n<group>\n<region> sample=samples/snare1.wav key=38"
    kit = load_kit(make_sfz_kit(tmp_path, text=text))
    assert [i.name for i in kit.instruments] == ["Big Kick", "snare"]


def test_inspect_lists_missing_without_reading_audio(tmp_path: Path):
    info = inspect_kit(make_sfz_kit(tmp_path, skip=["ride.wav"]))
    assert info.missing_files == ["ride.wav"]
    assert {i.name: i.layers for i in info.instruments}["kick"] == 2


def test_missing_samples_are_listed(tmp_path: Path):
    path = make_sfz_kit(tmp_path, skip=["ride.wav", "crash.wav"])
    with pytest.raises(KitError, match=r"kit.sfz: 2 sample file\(s\) missing: samples/crash.wav, samples/ride.wav"):
        load_kit(path)
    kit = load_sfz(path, strict=False)
    assert set(kit.broken) == {"ride", "crash"}


@pytest.mark.parametrize("text, message", [
    ("<region> sample=kick_soft.wav lokey=banana", r"bad opcode value"),
    ("<group> lovel=1\n// nothing to play\n", r"no <region> with a sample= opcode"),
])
def test_bad_sfz(tmp_path: Path, text: str, message: str):
    with pytest.raises(KitError, match=message):
        load_kit(make_sfz_kit(tmp_path, text=text))


def test_binary_file_named_sfz(tmp_path: Path):
    path = tmp_path / "x.sfz"
    path.write_bytes(b"\0\1\2garbage")
    with pytest.raises(KitError, match=r"x.sfz: binary data, not an SFZ text file"):
        load_kit(path)


def test_include(tmp_path: Path):
    make_sfz_kit(tmp_path)
    (tmp_path / "inc.sfz").write_text(r'#include "parts\kick.sfzh"' "\n<region> sample=samples/snare1.wav key=38")
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "kick.sfzh").write_text("<region> sample=samples/kick_hard.wav key=36")
    kit = load_kit(tmp_path / "inc.sfz")
    assert [i.midi_notes for i in kit.instruments] == [(36,), (38,)]
