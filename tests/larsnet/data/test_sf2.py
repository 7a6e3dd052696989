import sys
from pathlib import Path

import numpy as np
import pytest

from larsnet.data import sf2
from larsnet.data.loaders import inspect_kit, load_kit
from larsnet.data.sf2file import read_sf2
from larsnet.errors import KitError
from tests.larsnet.data.kitfactory import make_sf2_kit

pytest.importorskip("tinysoundfont")

AVL_ZEPPELIN = Path("/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2")


def _zero_crossings(x: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(np.signbit(x[0]))))


def test_reads_presets_without_rendering(tmp_path: Path):
    sf = read_sf2(make_sf2_kit(tmp_path / "t.sf2"))
    assert sf.name == "Test SoundFont" and sf.author == "Test Engineer"
    assert [(p.name, p.bank, p.program) for p in sf.presets] == [("Piano", 0, 0), ("Studio", 128, 0), ("Electro", 128, 25)]
    assert [p.name for p in sf2.drum_presets(sf)] == ["Studio", "Electro"]
    info = inspect_kit(tmp_path / "t.sf2")
    assert info.name == "Test SoundFont: Studio"
    assert {i.name: i.midi_notes for i in info.instruments} == {
        "Kick": (36,), "Snare": (38,), "Hat Closed": (42,), "Tom (45)": (45,), "Hat Open": (46,),
        "Crash": (49,), "Tom (50)": (50,), "Ride": (51,)}


def test_renders_velocity_splits_as_layers(tmp_path: Path, sf2_cache: Path):
    kit = load_kit(make_sf2_kit(tmp_path / "t.sf2"))
    assert kit.format == "sf2" and kit.author == "Test Engineer"
    kick = kit.instrument("Kick")
    assert [(l.lo, l.hi) for l in kick.layers] == [(1, 63), (64, 127)]  # the preset's own split
    soft, hard = kick.layers[0].samples[0], kick.layers[1].samples[0]
    assert soft.dtype == np.float32 and soft.shape[0] == 2
    assert _zero_crossings(hard) > 2 * _zero_crossings(soft)  # 300 Hz sample above 64, 100 Hz below
    snare = kit.instrument("Snare")
    assert [l.hi for l in snare.layers] == list(sf2.DEFAULT_LAYER_TOPS)  # one sample: 4 default layers
    peaks = [np.abs(l.samples[0]).max() for l in snare.layers]
    assert peaks == sorted(peaks) and peaks[0] < peaks[-1]  # louder with velocity
    # one-shots end when the tail falls silent, not at the 8 s limit
    assert snare.layers[-1].samples[0].shape[1] < 0.5 * 44_100


def test_presets_are_selectable(tmp_path: Path, sf2_cache: Path):
    path = make_sf2_kit(tmp_path / "t.sf2")
    for spec in (25, "25", "128:25", (128, 25), "electro"):
        kit = load_kit(path, preset=spec)
        assert kit.name == "Test SoundFont: Electro" and [i.name for i in kit.instruments] == ["Kick", "Snare"]
    with pytest.raises(KitError, match=r"no preset 'Jazz'; drum presets: 128:0 Studio, 128:25 Electro"):
        load_kit(path, preset="Jazz")


def test_second_load_comes_from_the_cache(tmp_path: Path, sf2_cache: Path, monkeypatch: pytest.MonkeyPatch):
    path = make_sf2_kit(tmp_path / "t.sf2")
    first = load_kit(path)
    assert len(list(sf2_cache.glob("*.flac"))) == 1 and len(list(sf2_cache.glob("*.json"))) == 1

    def no_render(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(sf2, "_render", no_render)
    second = load_kit(path)
    for a, b in zip(first.instruments, second.instruments):
        assert a.name == b.name and a.midi_notes == b.midi_notes
        for la, lb in zip(a.layers, b.layers):
            assert (la.lo, la.hi) == (lb.lo, lb.hi)
            np.testing.assert_allclose(la.samples[0], lb.samples[0], atol=np.abs(la.samples[0]).max() * 1e-4)
    with pytest.raises(AssertionError, match="rendered again"):
        load_kit(path, preset=25)  # another preset is another cache entry


def test_missing_tinysoundfont_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "tinysoundfont", None)
    with pytest.raises(KitError, match=r"pip install --no-deps tinysoundfont"):
        sf2.load_sf2(make_sf2_kit(tmp_path / "t.sf2"), cache=False)


@pytest.mark.parametrize("content, message", [
    (b"RIFF\x04\x00\x00\x00WAVE", r"not an SF2 SoundFont"),
    (b"RIFF\x10\x00\x00\x00sfbkLIST\x04\x00", r"truncated SF2 file"),
    (b"RIFF\x10\x00\x00\x00sfbkLIST\x04\x00\x00\x00INFO", r"SF2 without preset data \(missing phdr"),
])
def test_not_a_soundfont(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "bad.sf2"
    path.write_bytes(content)
    with pytest.raises(KitError, match=message):
        load_kit(path)


def test_no_drum_preset(tmp_path: Path, sf2_cache: Path):
    from tests.larsnet.data.kitfactory import Sf2Zone, oneshot, write_sf2

    path = write_sf2(tmp_path / "m.sf2", samples={"A": oneshot(), "B": oneshot()},
                     instruments={"A": [Sf2Zone(0, 127, 0, 127, "A")], "B": [Sf2Zone(0, 127, 0, 127, "B")]},
                     presets=[("Piano", 0, 0, ["A"]), ("Organ", 0, 16, ["B"])])
    with pytest.raises(KitError, match=r"m.sf2: no drum preset \(bank 128\) found; choose one with preset="):
        load_kit(path)


@pytest.mark.kits
def test_avl_red_zeppelin_renders(sf2_cache: Path):
    if not AVL_ZEPPELIN.is_file():
        pytest.skip("avldrums.lv2-soundfont not installed (scripts/install-kits.sh)")
    kit = load_kit(AVL_ZEPPELIN)
    assert kit.name == "Red Zeppelin 4 LV2"
    kick = next(i for i in kit.instruments if 36 in i.midi_notes)
    assert len(kick.layers) == 5  # the AVL kits have five velocity samples per drum
