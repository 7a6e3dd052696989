"""drumflow.spec: YAML -> spec with positions; overrides."""
from __future__ import annotations

from pathlib import Path

import pytest

from drumflow.errors import GraphError
from drumflow.spec import DEFAULT_INPUT, load_graph

from .helpers import write_graph


def test_positions_of_nodes_and_params(tmp_path: Path) -> None:
    path = write_graph(tmp_path, """
        nodes:
          split:
            type: separate
            in: drums
            params:
              wiener: 1.0
          out: {type: export, in: split.stems, params: {path: "{track}/{stem}.wav"}}
    """)
    spec = load_graph(path)
    split = spec.nodes["split"]
    assert (split.loc.line, split.type_loc.line) == (2, 3)
    assert split.where(("wiener",)).line == 6
    assert split.inputs[0][1].node == "drums" and split.inputs[0][1].loc.line == 4
    out = spec.nodes["out"]
    assert out.inputs[0][1].port == "stems"
    assert out.where(("path",)).line == 7


def test_default_input_is_the_demo_folder(tmp_path: Path, demo_dir: Path) -> None:
    spec = load_graph(write_graph(tmp_path, "nodes: {g: {type: gain, in: drums}}"))
    (inp,) = spec.inputs.values()
    assert inp.name == DEFAULT_INPUT and inp.default and inp.patterns == [str(demo_dir)]


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = write_graph(tmp_path, "nodes:\n  a: {type: gain\n  b: [\n")
    with pytest.raises(GraphError, match=r"YAML syntax error") as exc:
        load_graph(path)
    assert exc.value.file == str(path) and exc.value.line >= 2


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = write_graph(tmp_path, """
        nodes:
          a: {type: gain, in: drums}
          a: {type: gain, in: drums}
    """)
    with pytest.raises(GraphError, match=r"duplicate key 'a'.*line 2") as exc:
        load_graph(path)
    assert exc.value.line == 3


def test_unknown_top_level_key(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match=r"unknown top-level key 'node'.*did you mean 'nodes'") as exc:
        load_graph(write_graph(tmp_path, "node: {}\n"))
    assert exc.value.line == 1


def test_unknown_node_key_and_missing_type(tmp_path: Path) -> None:
    path = write_graph(tmp_path, """
        nodes:
          g: {type: gain, inputs: drums}
    """)
    with pytest.raises(GraphError, match=r"node 'g': unknown key 'inputs'") as exc:
        load_graph(path)
    assert exc.value.line == 2 and exc.value.node == "g"
    with pytest.raises(GraphError, match=r"node 'g': missing 'type'"):
        load_graph(write_graph(tmp_path, "nodes:\n  g: {in: drums}\n"))


def test_bad_reference_syntax(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match=r"bad port reference 'a.b.c'") as exc:
        load_graph(write_graph(tmp_path, "nodes:\n  g:\n    type: gain\n    in: a.b.c\n"))
    assert (exc.value.line, exc.value.node) == (4, "g")


def test_in_forms(tmp_path: Path) -> None:
    spec = load_graph(write_graph(tmp_path, """
        nodes:
          one: {type: gain, in: drums}
          many: {type: mix, in: [one, drums]}
          named: {type: mix, in: {a: one, b: drums}}
    """))
    assert [n for n, _ in spec.nodes["many"].inputs] == [None, None]
    assert [(n, r.node) for n, r in spec.nodes["named"].inputs] == [("a", "one"), ("b", "drums")]


def test_overrides_set_values_and_point_errors_at_the_override(tmp_path: Path) -> None:
    path = write_graph(tmp_path, """
        nodes:
          fx:
            type: fx
            in: drums
            params:
              chain:
                - {plugin: Compressor, threshold_db: -18}
    """)
    spec = load_graph(path, ["fx.chain.0.threshold_db=-30", "fx.chain.0.ratio=4"])
    entry = spec.nodes["fx"].params.value["chain"][0]
    assert entry == {"plugin": "Compressor", "threshold_db": -30, "ratio": 4}
    loc = spec.nodes["fx"].where(("chain", 0, "threshold_db"))
    assert str(loc) == "--set fx.chain.0.threshold_db=-30"
    assert spec.overrides == ("fx.chain.0.threshold_db=-30", "fx.chain.0.ratio=4")


@pytest.mark.parametrize("override, message", [
    ("fxx.gain_db=1", r"no node 'fxx'.*did you mean 'fx'"),
    ("fx.chain.3.ratio=1", r"list of 1; '3' is not an index"),
    ("fx", r"must look like NODE.PARAM=VALUE"),
    ("fx=3", r"must name a node and a parameter"),
])
def test_bad_overrides(tmp_path: Path, override: str, message: str) -> None:
    path = write_graph(tmp_path, "nodes:\n  fx: {type: fx, in: drums, params: {chain: [{plugin: Gain}]}}\n")
    with pytest.raises(GraphError, match=message) as exc:
        load_graph(path, [override])
    assert str(exc.value).startswith(f"--set {override}")


def test_missing_graph_file(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match=r"no such graph file"):
        load_graph(tmp_path / "nope.yaml")


def test_only_one_input(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match=r"one input") as exc:
        load_graph(write_graph(tmp_path, "inputs: {a: x.wav, b: y.wav}\nnodes: {g: {type: gain, in: a}}\n"))
    assert exc.value.line == 1


def test_node_id_clashing_with_input(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match=r"also the name of an input"):
        load_graph(write_graph(tmp_path, "nodes:\n  drums: {type: gain, in: drums}\n"))
