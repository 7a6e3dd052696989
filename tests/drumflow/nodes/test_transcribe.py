"""The ``transcribe`` node: stems in, a GM drum MIDI file out, recorded in the manifest."""
from __future__ import annotations

import json
import re
from pathlib import Path

import mido
import numpy as np
import pytest

from drumflow.errors import GraphError, GraphErrors
from drumflow.graph import build_graph
from drumflow.node import RunContext
from drumflow.nodes.transcribe import Transcribe, TranscribeParams
from drumflow.ports import Audio, StemSet
from drumflow.spec import load_graph

from tests.larsnet.transcription.conftest import groove, render_midi

from ..helpers import make_loop, run_file, write_graph

GRAPHS = Path(__file__).resolve().parents[3] / "graphs"


@pytest.fixture(scope="module")
def stems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Audio]:
    """The five true stems of a rendered groove with known onsets."""
    r = render_midi(tmp_path_factory.mktemp("groove") / "g.mid", groove(bars=2))
    return {s: Audio(a, 44_100) for s, a in r.stems.items()}


def ctx(out: Path, stem: str | None = None) -> RunContext:
    return RunContext("midi", "song", out, 1, stem)


def notes_of(path: Path) -> list[tuple[float, int]]:
    now, out = 0.0, []
    for msg in mido.MidiFile(path):
        now += msg.time
        if msg.type == "note_on":
            assert msg.channel == 9
            out.append((now, msg.note))
    return out


def test_a_stem_set_becomes_one_midi_file(tmp_path: Path, stems: dict[str, Audio]) -> None:
    c = ctx(tmp_path)
    # true (never mixed) stems: the settings for recorded stems, not the separated-stem default
    assert Transcribe().run({"in": StemSet(stems)}, TranscribeParams(source="recorded"), c) == {}
    (path,) = c.written
    assert path == tmp_path / "song" / "midi.mid"
    found = notes_of(path)
    assert {p for _, p in found} >= {36, 38, 42, 46, 48, 45, 43}
    kicks = [t for t, p in found if p == 36]
    assert np.allclose(kicks, [0.0, 60 / 110 * 2, 60 / 110 * 2.5, 60 / 110 * 4, 60 / 110 * 6, 60 / 110 * 6.5],
                       atol=0.02)
    assert c.warnings == []


def test_a_stem_set_without_a_kick_still_writes_valid_midi(tmp_path: Path, stems: dict[str, Audio]) -> None:
    c = ctx(tmp_path)
    Transcribe().run({"in": StemSet({s: a for s, a in stems.items() if s != "kick"})}, TranscribeParams(), c)
    found = notes_of(c.written[0])
    assert found and 36 not in {p for _, p in found}


def test_silent_stems_write_an_empty_file_with_a_warning(tmp_path: Path) -> None:
    silent = Audio(np.zeros((2, 44_100), np.float32), 44_100)
    c = ctx(tmp_path)
    Transcribe().run({"in": StemSet({"kick": silent, "bass": silent})}, TranscribeParams(path="{track}.mid"), c)
    assert notes_of(tmp_path / "song.mid") == []
    assert c.warnings == ["skipped inputs that are not drum stems: bass (stems are kick, snare, toms, hihat, cymbals)",
                          "no onsets found in kick: wrote a MIDI file without notes"]


def test_one_stems_audio_and_quantization(tmp_path: Path, stems: dict[str, Audio]) -> None:
    c = ctx(tmp_path, stem="snare")
    params = TranscribeParams(quantize=True, bpm=110.0, thresholds={"snare": 0.5})
    Transcribe().run({"in": stems["snare"]}, params, c)
    midi = mido.MidiFile(c.written[0])
    assert [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"] == [mido.bpm2tempo(110.0)]
    ticks, now = [], 0
    for msg in midi.tracks[1]:
        now += msg.time
        if msg.type == "note_on":
            ticks.append((now, msg.note))
    assert {p for _, p in ticks} == {38}
    assert all(t % 120 == 0 for t, _ in ticks)  # on 16ths (480 ticks per beat)
    assert len(ticks) == 4  # the ghost notes fall below the threshold


def test_the_graph_runs_on_separated_stems_and_records_the_file(tmp_path: Path, tiny_model: Path) -> None:
    loop = make_loop(tmp_path / "songs" / "loop.wav")
    graph = write_graph(tmp_path, f"""
        nodes:
          split: {{type: separate, in: drums, params: {{model: {tiny_model}}}}}
          snare_fx: {{type: fx, in: split.snare, params: {{chain: [{{plugin: Gain, gain_db: 3}}]}}}}
          all: {{type: transcribe, in: split.stems, params: {{path: "{{track}}/all.mid"}}}}
          some:
            type: transcribe
            in: {{snare: snare_fx, hihat: split.hihat}}
            params: {{path: "{{track}}/some.mid"}}
        """)
    result = run_file(graph, [loop], tmp_path / "out")
    assert result.ok
    written = sorted(Path(f["path"]).relative_to(tmp_path / "out").as_posix()
                     for t in result.manifest["tracks"] for f in t["outputs"])
    assert written == ["loop/all.mid", "loop/some.mid"]
    for name in written:
        mido.MidiFile(tmp_path / "out" / name)  # parses
    assert {p for _, p in notes_of(tmp_path / "out" / "loop" / "some.mid")} <= {38, 42, 46}


def test_the_example_graph_runs_on_the_demo_loop(cli, tiny_model: Path, demo_dir: Path, tmp_path: Path) -> None:
    code, _, err = cli("validate", GRAPHS / "transcribe.yaml", "--set", f"split.model={tiny_model}")
    assert code == 0 and "warning" not in err, err
    code, _, err = cli("run", GRAPHS / "transcribe.yaml", "--set", f"split.model={tiny_model}", "--out",
                       tmp_path / "out", "--quiet")
    assert code == 0, err
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.mid")) == [
        "demo_loop/drums.mid"]
    (manifest,) = (tmp_path / "out" / "manifests").glob("*.json")
    assert json.loads(manifest.read_text())["summary"]["files_written"] == 1


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ("{type: transcribe, in: split.stems, params: {path: '{track}/drums.wav'}}", "a MIDI file must end in .mid"),
        ("{type: transcribe, in: split.stems, params: {path: '{stem}.mid'}}", r"unknown field \{stem\} in the path"),
        ("{type: transcribe, in: split.stems, params: {path: '../x.mid'}}", "escapes the output folder"),
        ("{type: transcribe, in: split.stems, params: {thresholds: {hat: 0.1}}}", "unknown stem 'hat'"),
        ("{type: transcribe, in: split.stems, params: {thresholds: {snare: 2}}}", "threshold of snare must be in"),
        ("{type: transcribe, in: split.stems, params: {bleed_db: {tom: 3}}}", "unknown stem 'tom'"),
        ("{type: transcribe, in: split.stems, params: {bleed_db: {cymbals: {hihats: -15}}}}", "unknown stem 'hihats'"),
        ("{type: transcribe, in: split.stems, params: {bleed_db: {toms: {toms: 3}}}}", "not gated against itself"),
        ("{type: transcribe, in: split.stems, params: {source: multitrack}}", "separated|recorded"),
        ("{type: transcribe, in: drums}", "input 'in' is audio that does not come from one stem"),
        ("{type: transcribe, in: {in: split.stems, kick: split.kick}}", "'in' and per-stem inputs are both connected"),
        ("{type: transcribe}", "no stems connected"),
    ],
)
def test_validation_names_the_problem(tmp_path: Path, tiny_model: Path, node: str, message: str) -> None:
    path = write_graph(tmp_path, f"""
        nodes:
          split: {{type: separate, in: drums, params: {{model: {tiny_model}}}}}
          midi: {node}
        """)
    with pytest.raises(GraphError) as exc:
        build_graph(load_graph(path))
    problems = exc.value.errors if isinstance(exc.value, GraphErrors) else [exc.value]
    assert any(p.node == "midi" and re.search(message, str(p)) for p in problems), [str(p) for p in problems]


def test_bleed_between_stems_is_gated_unless_turned_off(tmp_path: Path, stems: dict[str, Audio]) -> None:
    """Separated stems carry traces of each other: a snare heard 40 dB down in the toms stem
    gives no tom notes (the stems are transcribed together); `bleed_db: off`, or a gate of toms
    against the snare looser than 40 dB, keeps them."""
    snare = stems["snare"]
    leaky = StemSet({"snare": snare, "toms": Audio(snare.samples * 0.01, snare.sample_rate)})
    gated, kept, pair = ctx(tmp_path / "a"), ctx(tmp_path / "b"), ctx(tmp_path / "c")
    Transcribe().run({"in": leaky}, TranscribeParams(), gated)
    Transcribe().run({"in": leaky}, TranscribeParams(bleed_db="off"), kept)
    Transcribe().run({"in": leaky}, TranscribeParams(bleed_db={"toms": {"snare": 50}}), pair)
    toms = {48, 47, 45, 43}
    assert not [p for _, p in notes_of(gated.written[0]) if p in toms]
    assert [p for _, p in notes_of(kept.written[0]) if p in toms]
    assert [p for _, p in notes_of(pair.written[0]) if p in toms]


def test_stems_at_different_rates_are_transcribed_with_a_warning(tmp_path: Path, stems: dict[str, Audio]) -> None:
    import soxr

    kick = stems["kick"]
    at_48k = Audio(soxr.resample(stems["snare"].samples.T, 44_100, 48_000).T.copy(), 48_000)
    c = ctx(tmp_path)
    Transcribe().run({"in": StemSet({"kick": kick, "snare": at_48k})}, TranscribeParams(), c)
    assert {p for _, p in notes_of(c.written[0])} >= {36, 38}
    assert any("different sample rates" in w for w in c.warnings)
