"""``larsnet evaluate`` end to end with a tiny random model on a rendered folder."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from larsnet.cli import main
from larsnet.evaluation import read_report_json

from tests.larsnet.helpers import tiny_model_file


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_file(tmp_path_factory.mktemp("model") / "tiny.pt")


def run(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    code = main(["evaluate", *(str(a) for a in args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_end_to_end_on_a_folder_with_a_tiny_model(capsys, tmp_path, stem_folder, model_file):
    out_dir = tmp_path / "eval"
    code, out, err = run(capsys, "--model", model_file, "--folder", stem_folder, "--kits", "ForzeeStereo,Train Kit",
                         "--split", "test", "--clip-seconds", "1.5", "--wiener", "1", "--out", out_dir, "--quiet")
    assert code == 0, err
    assert out == ""  # --quiet
    data = json.loads((out_dir / "results.json").read_text())
    assert data["settings"]["wiener"] == "alpha 1" and data["settings"]["model"] == str(model_file)
    assert [c["kit"] for c in data["clips"]] == ["ForzeeStereo", "Train Kit"]
    assert [g["name"] for g in data["groups"]] == [
        "all clips", "unseen kits", "seen kits", "kit ForzeeStereo", "kit Train Kit"]
    everything = data["groups"][0]
    scores = list(csv.DictReader((out_dir / "scores.csv").open()))
    assert len(scores) == 2 * 5
    for stem in data["stems"]:
        present = [r for r in scores if r["stem"] == stem and r["present"] == "1"]
        assert everything["present"][stem] == len(present)
        if present:
            assert everything["nsdr"]["model"][stem] is not None
            assert everything["nsdr"]["mixture"][stem] < everything["nsdr"]["oracle"][stem]
            assert everything["nsdr"]["silence"][stem] == 0.0
    assert everything["present"]["kick"] == 2
    rows = list(csv.DictReader((out_dir / "results.csv").open()))
    assert {r["row"] for r in rows} == {"clips", "model", "mixture", "oracle", "silence", "fraction"}
    markdown = (out_dir / "results.md").read_text()
    assert "## Model per kit" in markdown and "- wiener: alpha 1" in markdown
    assert read_report_json(out_dir / "results.json").to_markdown() == markdown


def test_without_a_model_scores_baseline_and_oracle(capsys, tmp_path, stem_folder):
    code, out, err = run(capsys, "--model", "none", "--folder", stem_folder, "--kits", "held-out",
                         "--split", "test", "--clip-seconds", "2", "--out", tmp_path / "eval")
    assert code == 0, err
    assert out.startswith("|  | kick | snare | toms | hihat | cymbals | mean |")  # the all-clips table
    assert "oracle IRM (ceiling)" in out and "| model |" not in out
    assert "results.json" in err
    data = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert data["methods"] == ["mixture", "oracle", "silence"]
    assert [c["kit"] for c in data["clips"]] == ["ForzeeStereo"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--wiener", "-1", "--folder", "{stems}"], 2, "Wiener alpha must be > 0"),
        (["--kits", "held-out,Colombo", "--folder", "{stems}"], 2, "--kits held-out cannot be combined"),
        (["--pattern", "{kit}/{piece}.{ext}"], 2, "--pattern describes a --folder layout"),
        (["--model", "missing.pt", "--folder", "{stems}"], 1, "missing.pt: no such model file or folder"),
        (["--model", "none", "--kits", "Nope", "--folder", "{stems}"], 2, "no stems for kits Nope"),
        # the clips are chosen before the model loads: a typo fails first, and fast
        (["--model", "missing.pt", "--kits", "Nope", "--folder", "{stems}"], 2, "no stems for kits Nope"),
        (["--model", "none", "--folder", "{empty}"], 2, "no drum stems found"),
    ],
)
def test_bad_options_fail_with_one_line(capsys, tmp_path, stem_folder, args, code, message):
    (tmp_path / "empty").mkdir()
    args = [a.replace("{empty}", str(tmp_path / "empty")).replace("{stems}", str(stem_folder)) for a in args]
    got, out, err = run(capsys, *args, "--out", tmp_path / "eval", "--quiet")
    assert got == code
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "eval" / "results.json").exists()


def write_folder_kit(folder: Path) -> Path:
    """A piece-folder kit (``<piece>.wav`` one-shots of decaying noise) named after its folder."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i, piece in enumerate(("kick", "snare", "hi_tom", "hihat_closed", "hihat_open", "crash", "ride")):
        n = 8000
        hit = rng.standard_normal((n, 2)) * np.exp(-np.arange(n) / (800 + 300 * i))[:, None] * 0.3
        sf.write(folder / f"{piece}.wav", hit.astype(np.float32), 44_100)
    return folder


def test_end_to_end_on_gmd_rendered_through_a_named_kit(capsys, tmp_path, monkeypatch):
    from tests.larsnet.data.builders import tiny_gmd

    gmd = tiny_gmd(tmp_path / "gmd", n=2, splits=("validation", "test"))
    write_folder_kit(tmp_path / "kits" / "Eval Folder Kit")
    monkeypatch.setenv("LARSNET_KITS_PATH", str(tmp_path / "kits"))
    code, out, err = run(capsys, "--model", "none", "--gmd", gmd, "--split", "test", "--kits", "Eval Folder Kit",
                         "--clip-seconds", "2", "--out", tmp_path / "eval", "--quiet")
    assert code == 0, err
    data = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert data["settings"]["clips from"] == "GMD test split, eval sessions (the paper's 40 performances)"
    assert [(c["kit"], c["seen"]) for c in data["clips"]] == [("Eval Folder Kit", True)] * 2
    assert [c["performance"].split("/")[1] for c in data["clips"]] == ["eval_session"] * 2
    assert data["groups"][0]["present"]["kick"] == 2  # a 2 s window of the 2.4 s groove holds the kick at 1 s
