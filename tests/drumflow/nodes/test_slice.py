"""The ``slice`` node in graphs: packs from separated stems, bad input, validation, the example graph."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from drumflow.errors import GraphError, GraphErrors
from drumflow.graph import build_graph
from drumflow.spec import load_graph
from larsnet.data.loaders import load_kit
from larsnet.stems import STEMS
from tests.drumflow.drums import SAMPLE_RATE, match, onsets_of, synthetic_stems

from ..helpers import run_file, write_graph

GRAPHS = Path(__file__).resolve().parents[3] / "graphs"


class OracleSeparator:
    """Separates the rendered groove's mix into the stems it was rendered from."""

    sample_rate = SAMPLE_RATE
    stems = STEMS

    def separate(self, audio, *, wiener=None, mode="overlap", progress=None, **spatial):
        return {s: np.array(a[:, :audio.shape[1]]) for s, a in synthetic_stems().items()}


@pytest.fixture
def groove(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The groove's mix as an input file; ``separate`` gives back its true stems."""
    import drumflow.nodes.separate

    monkeypatch.setattr(drumflow.nodes.separate, "_separator", lambda model, device: OracleSeparator())
    mix = sum(synthetic_stems().values())
    path = tmp_path / "songs" / "groove.wav"
    path.parent.mkdir(parents=True)
    sf.write(path, mix.T, SAMPLE_RATE, subtype="FLOAT")
    return path


def graph(tmp_path: Path, model: Path, slice_in: str = "split.stems", params: str = "{}", extra: str = "") -> Path:
    return write_graph(tmp_path, f"""
        nodes:
          split: {{type: separate, in: drums, params: {{model: {model}}}}}
          pack: {{type: slice, in: {slice_in}, params: {params}}}
        {extra}""")


def test_pack_from_separated_stems(tmp_path: Path, tiny_model: Path, groove: Path) -> None:
    out = tmp_path / "out"
    result = run_file(graph(tmp_path, tiny_model, params="{dedupe: 'off'}"), [groove], out)
    assert result.ok, result.tracks[0].failures()
    folder = out / "groove"
    manifest = json.loads((folder / "manifest.json").read_text())
    for stem in STEMS:  # every onset of every stem, within 10 ms, once
        found = [h["onset_s"] for h in manifest["hits"] if h["stem"] == stem]
        missed, extra, worst = match(found, onsets_of(stem))
        assert (missed, extra) == ([], []) and worst <= 0.010, stem
        names = sorted(p.name for p in (folder / stem).glob("*.wav"))
        assert names == [f"groove_{stem}_{i:02d}.wav" for i in range(1, len(found) + 1)]
    written = {Path(o.path) for o in result.tracks[0].outputs}  # the run manifest lists every file
    assert written == {p for p in folder.rglob("*") if p.is_file()}
    assert len(load_kit(folder / "groove.sfz").instruments) == len(load_kit(folder).instruments) == 7


def test_dedupe_is_on_by_default(tmp_path: Path, tiny_model: Path, groove: Path) -> None:
    out = tmp_path / "out"
    assert run_file(graph(tmp_path, tiny_model), [groove], out).ok
    stems = json.loads((out / "groove" / "manifest.json").read_text())["stems"]
    assert stems["hihat"]["kept"] < stems["hihat"]["onsets"] == len(onsets_of("hihat"))
    assert stems["hihat"]["kept"] + stems["hihat"]["near_duplicates_dropped"] == stems["hihat"]["onsets"]


def test_single_stem_inputs(tmp_path: Path, tiny_model: Path, groove: Path) -> None:
    out = tmp_path / "out"
    path = graph(tmp_path, tiny_model, slice_in="{kick: split.kick, snare: split.snare}", params="{path: 'a/{pack}'}")
    assert run_file(path, [groove], out).ok
    assert sorted(p.name for p in (out / "a" / "groove").iterdir() if p.is_dir()) == ["kick", "snare"]
    lone = graph(tmp_path, tiny_model, slice_in="split.toms", params="{path: 'b/{pack}'}")
    assert run_file(lone, [groove], out).ok
    assert [p.name for p in (out / "b" / "groove").iterdir() if p.is_dir()] == ["toms"]


def test_silent_stem_gives_an_empty_pack_with_a_note(tmp_path: Path, tiny_model: Path, groove: Path) -> None:
    path = graph(tmp_path, tiny_model, slice_in="{kick: quiet}", extra="""
          quiet: {type: gain, in: split.kick, params: {gain_db: -120}}""")
    out = tmp_path / "out"
    result = run_file(path, [groove], out)
    assert result.ok
    folder = out / "groove"
    assert sorted(p.name for p in folder.iterdir()) == ["drumkit.xml", "groove.sfz", "manifest.csv", "manifest.json"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["hits"] == [] and manifest["stems"]["kick"]["folder"] is None
    assert any(n.startswith("kick: silent") for n in manifest["notes"])
    (pack,) = [n for n in result.tracks[0].nodes if n.node == "pack"]
    assert any("kick: silent" in w for w in pack.warnings) and any("is empty" in w for w in pack.warnings)


def test_per_stem_settings_key_and_skip(tmp_path: Path, tiny_model: Path, groove: Path) -> None:
    params = "{per_stem: {cymbals: {skip: true}, kick: {key: 35}, toms: {key: 41}}, normalize: 'off'}"
    out = tmp_path / "out"
    assert run_file(graph(tmp_path, tiny_model, params=params), [groove], out).ok
    folder = out / "groove"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert not (folder / "cymbals").exists() and "cymbals: skipped (per_stem.cymbals.skip)" in manifest["notes"]
    kit = load_kit(folder / "groove.sfz")
    assert {i.name: i.midi_notes for i in kit.instruments if i.name in ("Kick", "Tom")} == {"Kick": (35,), "Tom": (41,)}
    assert all(h["gain_db"] == 0 for h in manifest["hits"])


def test_overrides_from_the_command_line_rerun_only_the_slice(tmp_path: Path, tiny_model: Path, groove: Path) -> None:
    path, out = graph(tmp_path, tiny_model), tmp_path / "out"
    assert run_file(path, [groove], out).ok
    again = run_file(path, [groove], out, ("pack.per_stem.hihat.min_gap_ms=400",))
    assert {n.node: n.status for n in again.tracks[0].nodes} == {"split": "cached", "pack": "ran"}
    stems = json.loads((out / "groove" / "manifest.json").read_text())["stems"]
    assert stems["hihat"]["onsets"] < len(onsets_of("hihat"))


def test_two_tracks_cannot_share_one_pack(tmp_path: Path, tiny_model: Path, groove: Path) -> None:
    other = groove.with_name("other.wav")
    other.write_bytes(groove.read_bytes())
    with pytest.raises(GraphError, match=r"writes .*manifest.json for track 'other'.*put \{track\} in the path"):
        run_file(graph(tmp_path, tiny_model, params="{pack: fixed}"), [groove, other], tmp_path / "out")


# (slice node body, line, message regex) - the slice node is on line 3 of the graph
BAD = {
    "per_stem names no stem": ("{per_stem: {snares: {gate_db: -20}}}", r"per_stem names 'snares'.*did you mean 'snare'"),
    "path escapes": ("{path: '../{pack}'}", r"escapes the output folder"),
    "unknown path field": ("{path: '{stem}/{pack}'}", r"unknown field \{stem\} in path"),
    "keys collide": ("{per_stem: {snare: {key: 36}}}", r"MIDI key 36 is used by both kick and snare"),
    "min longer than max": ("{per_stem: {kick: {min_length_ms: 900, max_length_ms: 100}}}",
                            r"kick: min_length_ms \(900.0\) is longer than max_length_ms"),
    "gate out of range": ("{gate_db: 6}", r"gate_db is dB below the stem's peak, between -120 and 0 .*or 'off' \(got 6\)"),
    "gate neither dB nor off": ("{gate_db: of}", r"parameter 'gate_db': .*or 'off' \(got 'of'\)"),
    "dedupe not a similarity": ("{dedupe: 2}", r"dedupe is a cosine similarity between 0 and 1"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_validation_errors_name_the_line_and_node(tmp_path: Path, tiny_model: Path, case: str) -> None:
    params, message = BAD[case]
    with pytest.raises((GraphError, GraphErrors)) as exc:
        build_graph(load_graph(graph(tmp_path, tiny_model, params=params)))
    errors = exc.value.errors if isinstance(exc.value, GraphErrors) else [exc.value]
    assert len(errors) == 1, str(exc.value)
    assert (errors[0].line, errors[0].node) == (3, "pack")
    assert re.search(message, str(errors[0])), str(errors[0])


def test_inputs_must_be_named_after_stems(tmp_path: Path, tiny_model: Path) -> None:
    path = graph(tmp_path, tiny_model, slice_in="{drums_bus: mix}", extra="""
          mix: {type: mix, in: {a: split.kick, b: split.snare}}""")
    with pytest.raises(GraphError, match=r"node 'pack': input 'drums_bus' is not named after a stem"):
        build_graph(load_graph(path))


def test_dry_run_lists_the_pack_files(cli, tmp_path: Path, tiny_model: Path, groove: Path) -> None:
    code, out, err = cli("run", graph(tmp_path, tiny_model), groove, "--out", tmp_path / "out", "--dry-run")
    assert code == 0, err
    assert "groove/groove.sfz" in out and "groove/drumkit.xml" in out and "groove/manifest.json" in out


def test_example_graph_end_to_end(cli, tiny_model: Path, demo_dir: Path, tmp_path: Path) -> None:
    """graphs/sample_pack.yaml on the stand-in demo loop, separated by a tiny random model."""
    model = f"split.model={tiny_model}"
    code, _, err = cli("validate", GRAPHS / "sample_pack.yaml", "--set", model)
    assert code == 0 and "warning" not in err, err
    out = tmp_path / "out"
    code, _, err = cli("run", GRAPHS / "sample_pack.yaml", "--set", model, "--out", out, "--quiet")
    assert code == 0, err
    folder = out / "packs" / "demo_loop"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["pack"] == "demo_loop" and set(manifest["stems"]) == set(STEMS)
    for row in manifest["hits"]:
        assert (folder / row["file"]).is_file() and row["file"].startswith(f"{row['stem']}/demo_loop_{row['stem']}_")
    if manifest["hits"]:  # a random model's stems usually have some
        assert load_kit(folder / "demo_loop.sfz").instruments
        assert load_kit(folder).instruments
    (run_manifest,) = (out / "manifests").glob("*.json")
    files = json.loads(run_manifest.read_text())["summary"]["files_written"]
    assert files == len(manifest["hits"]) + 4
