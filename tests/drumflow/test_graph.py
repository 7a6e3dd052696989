"""drumflow.graph: every validation error names the file, the line and the node."""
from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from drumflow.errors import GraphError, GraphErrors
from drumflow.graph import build_graph
from drumflow.spec import load_graph

from .helpers import write_graph

HEAD = "nodes:\n"


def build(tmp_path: Path, body: str, overrides: tuple[str, ...] = ()):
    return build_graph(load_graph(write_graph(tmp_path, body), overrides))


def errors(exc: pytest.ExceptionInfo[GraphError]) -> list[GraphError]:
    return exc.value.errors if isinstance(exc.value, GraphErrors) else [exc.value]


# (graph body, line, node, message regex) — one row per kind of mistake
BAD = {
    "unknown node type": (
        """
        nodes:
          g: {type: gian, in: drums}
          out: {type: export, in: g}
        """, 2, "g", r"unknown node type 'gian' \(did you mean 'gain'\?\)"),
    "unknown parameter": (
        """
        nodes:
          g:
            type: gain
            in: drums
            params:
              gain: 3
          out: {type: export, in: g}
        """, 6, "g", r"unknown parameter 'gain' \(did you mean 'gain_db'\?\)"),
    "ill-typed parameter": (
        """
        nodes:
          g:
            type: gain
            in: drums
            params: {gain_db: loud}
          out: {type: export, in: g}
        """, 5, "g", r"parameter 'gain_db': .*number.*got 'loud'"),
    "out-of-range parameter": (
        """
        nodes:
          r: {type: resample, in: drums, params: {sample_rate: 10}}
          out: {type: export, in: r}
        """, 2, "r", r"parameter 'sample_rate': .*greater than or equal to 8000"),
    "missing node": (
        """
        nodes:
          g: {type: gain, in: drum}
          out: {type: export, in: g}
        """, 2, "g", r"'drum' refers to a missing node 'drum' \(did you mean 'drums'\?\)"),
    "missing port": (
        """
        nodes:
          split: {type: separate, in: drums, params: {model: MODEL}}
          out: {type: export, in: split.kik}
        """, 3, "out", r"node 'split' \(separate\) has no output 'kik' \(did you mean 'kick'\?\)"),
    "ambiguous port": (
        """
        nodes:
          split: {type: separate, in: drums, params: {model: MODEL}}
          g: {type: gain, in: split}
          out: {type: export, in: g}
        """, 3, "g", r"node 'split' has 6 outputs; say which one \(use one of split.kick"),
    "type mismatch": (
        """
        nodes:
          split: {type: separate, in: drums, params: {model: MODEL}}
          g:
            type: gain
            in: split.stems
          out: {type: export, in: g}
        """, 5, "g", r"'split.stems' is a stems port, but input 'in' of 'gain' takes audio \(pick one stem"),
    "unconnected input": (
        """
        nodes:
          g: {type: gain}
          out: {type: export, in: g}
        """, 2, "g", r"input 'in' \(audio\) is not connected"),
    "unknown input name": (
        """
        nodes:
          g: {type: gain, in: {inn: drums}}
          out: {type: export, in: g}
        """, 2, "g", r"'gain' has no input 'inn' \(did you mean 'in'\?\)"),
    "cycle": (
        """
        nodes:
          a: {type: mix, in: {x: drums, y: c}}
          b: {type: gain, in: a}
          c: {type: gain, in: b}
          out: {type: export, in: c}
        """, 2, "a", r"cycle: a -> b -> c -> a"),
    "export escapes the output folder": (
        """
        nodes:
          out:
            type: export
            in: drums
            params: {path: "../{track}.wav"}
        """, 5, "out", r"escapes the output folder"),
    "export to an absolute path": (
        """
        nodes:
          out: {type: export, in: drums, params: {path: "/tmp/{track}.wav"}}
        """, 2, "out", r"escapes the output folder"),
    "export unknown field": (
        """
        nodes:
          out: {type: export, in: drums, params: {path: "{trak}.wav"}}
        """, 2, "out", r"unknown field \{trak\} in the path \(did you mean 'track'\?\)"),
    "export unknown format": (
        """
        nodes:
          out: {type: export, in: drums, params: {path: "{track}.aac"}}
        """, 2, "out", r"cannot write '.aac'"),
    "export stems without {stem}": (
        """
        nodes:
          split: {type: separate, in: drums, params: {model: MODEL}}
          out: {type: export, in: split.stems, params: {path: "{track}.wav"}}
        """, 3, "out", r"no \{stem\}"),
    "export {stem} of a mix": (
        """
        nodes:
          m: {type: mix, in: [drums]}
          out: {type: export, in: m, params: {path: "{track}/{stem}.wav"}}
        """, 3, "out", r"does not come from one stem"),
    "fx unknown plugin": (
        """
        nodes:
          f:
            type: fx
            in: drums
            params:
              chain:
                - {plugin: Compresor, threshold_db: -10}
          out: {type: export, in: f}
        """, 7, "f", r"unknown pedalboard plugin 'Compresor' \(did you mean 'Compressor'\?\)"),
    "fx unknown plugin parameter": (
        """
        nodes:
          f:
            type: fx
            in: drums
            params:
              chain:
                - {plugin: HighpassFilter}
                - {plugin: Compressor,
                   treshold_db: -10}
          out: {type: export, in: f}
        """, 9, "f", r"unknown parameter 'treshold_db' of Compressor \(did you mean 'threshold_db'\?\)"),
    "fx ill-typed plugin parameter": (
        """
        nodes:
          f:
            type: fx
            in: drums
            params: {chain: [{plugin: Compressor, ratio: high}]}
          out: {type: export, in: f}
        """, 5, "f", r"Compressor.ratio must be a number, got 'high'"),
    "fx value out of the plugin's range": (
        """
        nodes:
          f:
            type: fx
            in: drums
            params: {chain: [{plugin: Compressor, ratio: 0.5}]}
          out: {type: export, in: f}
        """, 5, "f", r"Compressor: .*ratio"),
    "fx enum value": (
        """
        nodes:
          f:
            type: fx
            in: drums
            params: {chain: [{plugin: LadderFilter, mode: HPF13}]}
          out: {type: export, in: f}
        """, 5, "f", r"LadderFilter.mode cannot be 'HPF13' \(did you mean 'HPF12'\?\)"),
    "fx missing plugin file": (
        """
        nodes:
          f:
            type: fx
            in: drums
            params: {chain: [{plugin: nowhere/Thing.vst3, params: {mix: 1}}]}
          out: {type: export, in: f}
        """, 5, "f", r"plugin file .*Thing.vst3 does not exist"),
    "mix names an unknown input": (
        """
        nodes:
          m:
            type: mix
            in: {kick: drums}
            params:
              gain_db: {kik: -3}
          out: {type: export, in: m}
        """, 6, "m", r"'gain_db' names 'kik', which is not an input of this mix \(did you mean 'kick'\?\)"),
    "normalize needs one target": (
        """
        nodes:
          n:
            type: normalize
            in: drums
            params: {peak_dbfs: -1, loudness_lufs: -14}
          out: {type: export, in: n}
        """, 5, "n", r"set exactly one of peak_dbfs or loudness_lufs"),
    "missing model file": (
        """
        nodes:
          split: {type: separate, in: drums, params: {model: missing.pt}}
          out: {type: export, in: split.stems, params: {path: "{stem}.wav"}}
        """, 2, "split", r"model .*missing.pt does not exist"),
    "graph without export": (
        """
        nodes:
          g: {type: gain, in: drums}
        """, 0, None, r"the graph writes nothing \(add an export node"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_validation_error_names_file_line_and_node(tmp_path: Path, tiny_model: Path, case: str) -> None:
    body, line, node, message = BAD[case]
    with pytest.raises(GraphError) as exc:
        build(tmp_path, body.replace("MODEL", str(tiny_model)))
    (err,) = errors(exc)
    assert err.file == str(tmp_path / "graph.yaml")
    assert (err.line, err.node) == (line, node), str(err)
    assert err.loc is not None
    import re

    assert re.search(message, str(err)), str(err)
    prefix = f"{tmp_path / 'graph.yaml'}:{line}:" if line else f"{tmp_path / 'graph.yaml'}: "
    assert str(err).startswith(prefix)
    if node:
        assert f"node '{node}': " in str(err)


def test_all_errors_reported_at_once_in_line_order(tmp_path: Path) -> None:
    with pytest.raises(GraphErrors) as exc:
        build(tmp_path, """
            nodes:
              a: {type: gian, in: drums}
              b: {type: gain, in: drums, params: {gain: 1}}
              out: {type: export, in: nowhere}
        """)
    assert [(e.line, e.node) for e in exc.value.errors] == [(2, "a"), (3, "b"), (4, "out")]
    assert len(str(exc.value).splitlines()) == 3


def test_template_errors_name_the_template_line_and_expanded_node(tmp_path: Path, tiny_model: Path) -> None:
    with pytest.raises(GraphError) as exc:
        build(tmp_path, f"""
            nodes:
              split: {{type: separate, in: drums, params: {{model: {tiny_model}}}}}
            templates:
              chain:
                for: [kick, snare]
                nodes:
                  "fx_{{stem}}":
                    type: fx
                    in: "split.{{stem}}"
                    params: {{chain: [{{plugin: Compressor, ratio: "{{stem}}"}}]}}
                  "out_{{stem}}": {{type: export, in: "fx_{{stem}}", params: {{path: "{{stem}}.wav"}}}}
        """)
    errs = errors(exc)
    assert [(e.line, e.node) for e in errs] == [(10, "fx_kick"), (10, "fx_snare")]
    assert "Compressor.ratio must be a number, got 'kick'" in str(errs[0])


def test_unused_outputs_are_warnings(tmp_path: Path, tiny_model: Path) -> None:
    graph = build(tmp_path, f"""
        nodes:
          split: {{type: separate, in: drums, params: {{model: {tiny_model}}}}}
          lonely: {{type: gain, in: drums}}
          out: {{type: export, in: split.kick}}
    """)
    text = [str(w) for w in graph.warnings]
    assert any("node 'lonely': feeds no export" in t and ":3:" in t for t in text)
    assert any("output 'split.snare' is not used" in t for t in text)
    assert not any("split.kick" in t for t in text)


def test_stem_set_used_means_no_warning_for_single_stems(tmp_path: Path, tiny_model: Path) -> None:
    graph = build(tmp_path, f"""
        nodes:
          split: {{type: separate, in: drums, params: {{model: {tiny_model}}}}}
          out: {{type: export, in: split.stems, params: {{path: "{{track}}/{{stem}}.wav"}}}}
    """)
    assert graph.warnings == []


def test_override_errors_name_the_override(tmp_path: Path) -> None:
    with pytest.raises(GraphError) as exc:
        build(tmp_path, """
            nodes:
              g: {type: gain, in: drums}
              out: {type: export, in: g}
        """, ("g.gain_db=loud",))
    assert str(exc.value).startswith("--set g.gain_db=loud: node 'g': parameter 'gain_db'")


def test_stem_is_traced_through_single_input_nodes(tmp_path: Path, tiny_model: Path) -> None:
    graph = build(tmp_path, f"""
        nodes:
          split: {{type: separate, in: drums, params: {{model: {tiny_model}}}}}
          a: {{type: fx, in: split.snare}}
          b: {{type: gain, in: a}}
          out: {{type: export, in: b, params: {{path: "{{track}}_{{stem}}.wav"}}}}
    """)
    assert graph.nodes["out"].stem == "snare"
    assert isinstance(graph.dag, nx.DiGraph) and nx.is_directed_acyclic_graph(graph.dag)


def test_explicit_defaults_do_not_change_validated_params(tmp_path: Path) -> None:
    a = build(tmp_path, "nodes:\n  g: {type: gain, in: drums}\n  out: {type: export, in: g}\n")
    b = build(tmp_path, "nodes:\n  g: {type: gain, in: drums, params: {gain_db: 0}}\n  out: {type: export, in: g}\n")
    assert a.nodes["g"].params.model_dump() == b.nodes["g"].params.model_dump()
