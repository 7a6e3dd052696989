"""``larsnet evaluate-transcription`` end to end on a tiny GMD rendered through a folder kit."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from larsnet.cli import main
from larsnet.transcription import BLEED_DB
from larsnet.transcription.bleed import bleed_gates, describe_gates

from tests.larsnet.data.builders import tiny_gmd
from tests.larsnet.data.kitfactory import make_folder_kit
from tests.larsnet.helpers import tiny_model_file


@pytest.fixture
def gmd_and_kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_folder_kit(tmp_path / "kits" / "Eval Kit")
    monkeypatch.setenv("LARSNET_KITS_PATH", str(tmp_path / "kits"))
    return tiny_gmd(tmp_path / "gmd", n=2, splits=("validation", "test"))


def run(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    code = main(["evaluate-transcription", *(str(a) for a in args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_true_stems_of_a_rendered_groove(capsys, tmp_path, gmd_and_kit) -> None:
    out_dir = tmp_path / "eval"
    code, out, err = run(capsys, "--gmd", gmd_and_kit, "--split", "test", "--kits", "Eval Kit", "--clip-seconds", "2",
                         "--out", out_dir)
    assert code == 0, err
    assert out.startswith("| stem | F-measure | precision | recall |")
    data = json.loads((out_dir / "transcription.json").read_text())
    assert data["settings"]["source"] == "true stems (onset detector alone)"
    assert data["settings"]["bleed gate"] == "kick 16 dB, snare 16 dB, toms 16 dB, hihat 16 dB, cymbals 16 dB"
    assert data["settings"]["onset settings"] == "for recorded stems"
    assert data["settings"]["clips from"] == "GMD test split, eval sessions"
    assert [c["kit"] for c in data["clips"]] == ["Eval Kit"] * 2
    kick = data["groups"][0]["stems"]["kick"]
    assert kick["tp"] >= 1 and kick["f_measure"] == 1.0  # the groove's kick at 1 s of a 2 s window, both clips
    assert (out_dir / "transcription.md").read_text().startswith("# Drum transcription: onset F-measure per stem")
    assert "wrote" in err


def test_separated_stems_with_a_tiny_model(capsys, tmp_path, gmd_and_kit) -> None:
    model = tiny_model_file(tmp_path / "tiny.pt")
    code, out, err = run(capsys, "--source", "model", "--model", model, "--gmd", gmd_and_kit, "--split", "validation",
                         "--kits", "Eval Kit", "--clips", "1", "--clip-seconds", "1.5", "--wiener", "1",
                         "--out", tmp_path / "eval", "--quiet")
    assert code == 0, err
    assert out == ""
    data = json.loads((tmp_path / "eval" / "transcription.json").read_text())
    assert data["settings"]["source"] == f"stems separated by model {model}" and data["settings"]["wiener"] == "alpha 1"
    assert data["settings"]["bleed gate"] == describe_gates(bleed_gates(BLEED_DB))
    assert data["settings"]["bleed gate"].startswith("kick (snare 12, toms 30, hihat 10, cymbals 4 dB), snare 4 dB")
    assert data["settings"]["onset settings"] == "for separated stems"
    assert len(data["clips"]) == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--wiener", "1", "--kits", "Eval Kit"], 2, "--model, --wiener and --spatial-* apply to --source model"),
        (["--spatial-iterations", "0", "--kits", "Eval Kit"], 2, "--model, --wiener and --spatial-* apply"),
        (["--kits", "seen"], 2, "--kits seen is not available here"),
        (["--source", "model", "--model", "missing.pt", "--kits", "Eval Kit"], 1,
         "missing.pt: no such model file or folder"),
        (["--kits", "Nope"], 1, "no kit named 'Nope'"),
        (["--bleed-db", "tom=3", "--kits", "Eval Kit"], 2, "unknown stem 'tom'"),
        (["--bleed-db", "loud", "--kits", "Eval Kit"], 2, "--bleed-db 'loud': give auto, off, a number"),
        (["--bleed-db", "toms.tom=3", "--kits", "Eval Kit"], 2, "unknown stem 'tom'"),
    ],
)
def test_bad_options(capsys, gmd_and_kit, args, code, message) -> None:
    got, _, err = run(capsys, "--gmd", gmd_and_kit, "--clip-seconds", "2", *args)
    assert got == code, err
    assert message in err


def test_bleed_gate_options_reach_the_report(capsys, tmp_path, gmd_and_kit) -> None:
    pair = {**BLEED_DB, "toms": {"kick": 3.0, "snare": 3.0, "hihat": 3.0, "cymbals": -1.0}}
    for spec, expected in (("off", "off"), ("toms=3", describe_gates(bleed_gates({"toms": 3.0}))),
                           ("toms=3,toms.cymbals=-1", describe_gates(bleed_gates(pair)))):
        code, _, err = run(capsys, "--gmd", gmd_and_kit, "--kits", "Eval Kit", "--clips", "1", "--clip-seconds", "2",
                           "--bleed-db", spec, "--out", tmp_path / spec, "--quiet")
        assert code == 0, err
        assert json.loads((tmp_path / spec / "transcription.json").read_text())["settings"]["bleed gate"] == expected
