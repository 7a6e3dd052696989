from pathlib import Path

import pytest

from larsnet.data import debian, discovery
from larsnet.data.discovery import KitEntry, find_kits, get_kit, training_kits
from larsnet.errors import KitError
from tests.larsnet.data.kitfactory import make_folder_kit, make_hydrogen_kit, make_sf2_kit, make_sfz_kit


@pytest.fixture
def kit_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sf2_cache: Path) -> Path:
    """A user kit folder holding one kit of each format; system locations disabled."""
    root = tmp_path / "kits"
    make_hydrogen_kit(root / "Studio H2", name="Studio Hydrogen Kit", license="CC-BY-4.0")
    make_hydrogen_kit(root / "ForzeeStereo", name="Forzee Stereo Drumkit")
    make_sfz_kit(root / "SFZ Kit")
    make_sf2_kit(root / "sf2" / "two.sf2")
    make_folder_kit(root / "nested" / "My Samples")
    (root / "not a kit").mkdir()
    monkeypatch.setattr(debian, "SYSTEM_PATHS", ())
    monkeypatch.setenv(discovery.ENV_VAR, str(root))
    discovery.clear_cache()
    yield root
    discovery.clear_cache()


def test_finds_every_format_and_each_sf2_drum_preset(kit_dir: Path):
    entries = {e.name: e for e in find_kits()}
    assert set(entries) == {"ForzeeStereo", "Studio H2", "SFZ Kit", "Test SoundFont: Studio",
                            "Test SoundFont: Electro", "My Samples"}
    assert entries["Studio H2"].format == "hydrogen" and entries["Studio H2"].license == "CC-BY-4.0"
    assert entries["Studio H2"].author == "Test Author"
    assert entries["Test SoundFont: Electro"].preset == "128:25"
    assert entries["SFZ Kit"].format == "sfz" and entries["My Samples"].format == "folder"
    assert entries["My Samples"].license == "CC0-1.0, do what you like"
    assert entries["ForzeeStereo"].held_out and not entries["Studio H2"].held_out
    assert entries["Studio H2"].family == "Studio H2" and entries["Studio H2"].kind == "unknown"


def test_extra_paths_and_dedup(kit_dir: Path):
    names = [e.name for e in find_kits(extra_paths=[kit_dir / "SFZ Kit" / "kit.sfz", kit_dir / "Studio H2"])]
    assert names.count("SFZ Kit") == 1 and names.count("Studio H2") == 1


def test_a_named_path_that_does_not_exist(kit_dir: Path):
    with pytest.raises(KitError, match=r"nowhere: kit path does not exist"):
        find_kits(extra_paths=[kit_dir / "nowhere"])


def test_get_kit_loads_maps_and_caches(kit_dir: Path):
    kit = get_kit("Studio H2")
    assert kit.name == "Studio H2" and kit.kit.license == "CC-BY-4.0"
    assert kit.report.derived == {"mid_tom": "Tom Hi -3 semitones"}
    assert get_kit("studio h2").name == "Studio H2"  # case-insensitive lookup
    assert get_kit("Studio H2") is kit  # cached per process
    sf2_kit = get_kit("Test SoundFont: Electro")
    assert set(sf2_kit.pieces) == {"kick", "snare"}


def test_get_kit_by_path(kit_dir: Path):
    kit = get_kit(str(kit_dir / "nested" / "My Samples"))
    assert kit.report.mapped["kick"] == "kick"


def test_unknown_kit_suggests_names(kit_dir: Path):
    with pytest.raises(KitError, match=r"no kit named 'Studio H3'; did you mean 'Studio H2'\?"):
        get_kit("Studio H3")


def test_describe_flags_unusable_kits(kit_dir: Path, tmp_path: Path):
    make_hydrogen_kit(tmp_path / "hands", instruments=[("Clap", 39, -1, [("c.wav", 0, 1, 1)])])
    entry = next(e for e in find_kits([tmp_path / "hands"]) if e.name == "hands")
    desc = discovery.describe(entry)
    assert not desc.usable and "maps no kick" in desc.error
    ok = discovery.describe(next(e for e in find_kits() if e.name == "Test SoundFont: Studio"))
    assert ok.usable and ok.report.mapped["kick"] == "Kick"


def test_a_broken_kit_is_listed_with_its_problem(kit_dir: Path):
    (kit_dir / "Broken").mkdir()
    (kit_dir / "Broken" / "drumkit.xml").write_text("<drumkit_info><name>x")
    entry = next(e for e in find_kits() if e.name == "Broken")
    desc = discovery.describe(entry)
    assert not desc.usable and "not valid XML" in desc.error


def test_training_kits_skip_held_out_families():
    def entry(name, family, kind="acoustic", held_out=False):
        return KitEntry(name=name, path=Path(name), format="sf2", license="x", family=family, kind=kind,
                        held_out=held_out)

    entries = [entry("AVL Black Pearl 4pc", "AVL drums"), entry("AVL Red Zeppelin 4pc", "AVL drums", held_out=True),
               entry("GMRockKit", "The Black Pearl 1.0"), entry("808", "808", kind="electronic")]
    assert [e.name for e in training_kits(entries)] == ["GMRockKit"]
    assert [e.name for e in discovery.held_out_kits(entries)] == ["AVL Red Zeppelin 4pc"]


@pytest.mark.kits
def test_debian_kits_are_found_with_licenses_and_families():
    if not Path("/usr/share/hydrogen/data/drumkits/ForzeeStereo").is_dir():
        pytest.skip("Debian kit packages not installed (scripts/install-kits.sh)")
    entries = {e.name: e for e in find_kits(system=True)}
    assert entries["ForzeeStereo"].held_out and entries["ForzeeStereo"].license == "GPL-2"
    zeppelin = entries.get("AVL Red Zeppelin 4pc")
    if zeppelin:
        assert zeppelin.held_out and zeppelin.preset == "0:0" and zeppelin.license == "CC-BY-SA-3.0"
        assert entries["AVL Black Pearl 4pc"].family == zeppelin.family  # shared hi-hat samples
        assert "AVL Black Pearl 4pc" not in {e.name for e in training_kits(list(entries.values()))}
    assert entries["GMRockKit"].family == entries["The Black Pearl 1.0"].family
    assert {entries[n].family for n in ("Millo-Drums_v.1", "Millo_MultiLayered2", "Millo_MultiLayered3")} == {"Millo"}
    assert entries["BJA_Pacific"].license == "CC-BY-SA-3.0-us"
    for entry in training_kits(list(entries.values())):
        assert discovery.describe(entry).usable, entry.name
