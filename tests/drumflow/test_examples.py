"""The example graphs in graphs/: each validates and runs end to end on the (stand-in) demo loop."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

GRAPHS = Path(__file__).resolve().parents[2] / "graphs"
EXPECTED = {
    "remix.yaml": ["demo_loop/remix.wav"],
    "remaster.yaml": [f"demo_loop/{s}.flac" for s in ("kick", "snare", "toms", "hihat", "cymbals")],
    "separate.yaml": [f"demo_loop/{s}.wav" for s in ("kick", "snare", "toms", "hihat", "cymbals")],
    "sidechain.yaml": ["demo_loop/sidechain.wav", "demo_loop/cymbals_ducked.wav"],
}


TESTED_ELSEWHERE = {
    "sample_pack.yaml": "tests/drumflow/nodes/test_slice.py",  # writes as many one-shots as it finds
    "transcribe.yaml": "tests/drumflow/nodes/test_transcribe.py",  # writes MIDI, not audio
}


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in GRAPHS.glob("*.yaml")) == sorted([*EXPECTED, *TESTED_ELSEWHERE])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_end_to_end(cli, name: str, tiny_model: Path, demo_dir: Path, tmp_path: Path) -> None:
    model = f"split.model={tiny_model}"
    code, out, err = cli("validate", GRAPHS / name, "--set", model)
    assert code == 0, err
    assert "warning" not in err
    out_dir = tmp_path / "out"
    code, _, err = cli("run", GRAPHS / name, "--set", model, "--out", out_dir, "--quiet")
    assert code == 0, err
    written = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.suffix in (".wav", ".flac"))
    assert written == sorted(EXPECTED[name])
    demo_frames = sf.info(str(demo_dir / "demo_loop.wav")).frames
    for rel in written:
        info = sf.info(str(out_dir / rel))
        assert (info.frames, info.channels, info.samplerate) == (demo_frames, 2, 44100)
    (manifest,) = (out_dir / "manifests").glob("*.json")
    assert json.loads(manifest.read_text())["summary"]["files_written"] == len(EXPECTED[name])


def test_examples_name_the_default_model() -> None:
    import yaml

    for name in [*EXPECTED, *TESTED_ELSEWHERE]:
        nodes = yaml.safe_load((GRAPHS / name).read_text())["nodes"]
        assert nodes["split"]["params"]["model"] == "default"
