"""``larsnet kits`` end to end, on tiny generated kits (the system kit folders are
switched off so the output does not depend on what is installed)."""
import json
from pathlib import Path

import pytest

from larsnet.cli import main
from larsnet.data import debian, discovery
from tests.larsnet.data.kitfactory import make_folder_kit, make_hydrogen_kit, make_sf2_kit


@pytest.fixture
def kit_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "kits"
    make_hydrogen_kit(root / "Studio H2")
    make_hydrogen_kit(root / "Hands", instruments=[("Clap", 39, -1, [("c.wav", 0, 1, 1)])])
    make_sf2_kit(root / "two.sf2")
    make_folder_kit(root / "My Samples")
    monkeypatch.setattr(debian, "SYSTEM_PATHS", ())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(discovery.ENV_VAR, raising=False)
    return root


def test_lists_kits_with_pieces_and_licenses(kit_dir: Path, capsys: pytest.CaptureFixture):
    assert main(["kits", "--path", str(kit_dir)]) == 0
    out = capsys.readouterr().out
    lines = {line.split("  ")[0]: line for line in out.splitlines()}
    assert "9/9 (1 derived)" in lines["Studio H2"] and "CC0" in lines["Studio H2"]
    assert "unusable: no kick" in lines["Hands"]
    assert "Test SoundFont: Electro" in lines and "-hi_tom" in lines["Test SoundFont: Electro"]
    assert "8/9 (1 derived) -crash" in lines["My Samples"]
    assert "5 kits, 4 usable" in out and "no audio was loaded" in out


def test_json(kit_dir: Path, capsys: pytest.CaptureFixture):
    assert main(["kits", "--json", "--path", str(kit_dir)]) == 0
    kits = {k["name"]: k for k in json.loads(capsys.readouterr().out)["kits"]}
    assert kits["Test SoundFont: Studio"]["preset"] == "128:0"
    assert kits["Studio H2"]["pieces"]["derived"] == {"mid_tom": "Tom Hi -3 semitones"}
    assert kits["Hands"]["usable"] is False and "maps no kick" in kits["Hands"]["error"]


def test_details_loads_and_prints_the_mapping(kit_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path):
    assert main(["kits", "--path", str(kit_dir), "--details", "Test SoundFont: Studio"]) == 0
    out = capsys.readouterr().out
    assert "kick          <- Kick" in out and "floor_tom     <- derived: Tom (45) -3 semitones" in out
    assert "kick          2 layer(s) [1 / 1]" in out
    mapping = tmp_path / "map.yaml"
    mapping.write_text("floor_tom: null\n")
    assert main(["kits", "--path", str(kit_dir), "--details", "Test SoundFont: Studio", "--mapping", str(mapping)]) == 0
    assert "floor_tom     -- missing" in capsys.readouterr().out


@pytest.mark.parametrize("args, code, message", [
    (["--details", "Nope"], 1, "error: no kit named 'Nope'"),
    (["--details", "Hands"], 1, "maps no kick"),
    (["--mapping", "{map}"], 2, "--mapping only applies with --details"),
    (["--path", "{missing}"], 1, "kit path does not exist"),
])
def test_errors(kit_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, args, code, message):
    (tmp_path / "map.yaml").write_text("kick: Kick\n")
    args = [a.format(map=tmp_path / "map.yaml", missing=tmp_path / "missing") for a in args]
    assert main(["kits", "--path", str(kit_dir), *args]) == code
    assert message in capsys.readouterr().err


def test_no_kits_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    monkeypatch.setattr(debian, "SYSTEM_PATHS", ())
    monkeypatch.delenv(discovery.ENV_VAR, raising=False)
    assert main(["kits"]) == 0
    assert "No drum kits found; install kits with scripts/install-kits.sh" in capsys.readouterr().err
