"""drumflow.draw and drumflow.schema: pictures and the JSON Schema, from the same graph/declarations."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from drumflow import draw
from drumflow.graph import build_graph
from drumflow.registry import default_registry
from drumflow.schema import graph_schema
from drumflow.spec import load_graph

from .helpers import SMALL_REMIX, write_graph


@pytest.fixture
def graph(tmp_path: Path, tiny_model: Path):
    return build_graph(load_graph(write_graph(tmp_path, SMALL_REMIX.replace("MODEL", str(tiny_model)))))


def test_mermaid(graph) -> None:
    text = draw.to_mermaid(graph)
    assert text.startswith("flowchart LR\n")
    assert 'split["split<br/>separate"]' in text
    assert "split -->|kick| kick_fx" in text and "kick_fx -->|out→kick| mix" in text
    assert "drums --> split" in text and 'out[/"out<br/>export"/]' in text


def test_dot(graph) -> None:
    text = draw.to_dot(graph)
    assert text.startswith('digraph "graph" {') and text.rstrip().endswith("}")
    assert '"split" -> "kick_fx" [label="kick"];' in text
    assert text.count("->") == graph.dag.number_of_edges()


def test_png_with_whatever_renderer_is_installed(graph, tmp_path: Path) -> None:
    backend = draw.png_backend()
    if backend is None:
        pytest.skip("neither graphviz `dot` nor matplotlib is installed")
    used = draw.to_png(graph, tmp_path / "g.png")
    assert used == backend
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_without_renderer_says_what_to_install(graph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(draw, "png_backend", lambda: None)
    with pytest.raises(draw.DrawError, match=r"apt install graphviz.*pip install matplotlib"):
        draw.to_png(graph, tmp_path / "g.png")


def test_schema_covers_every_node_type_and_plugin() -> None:
    schema = graph_schema()
    json.dumps(schema)  # serialisable
    for name in default_registry().names():
        node = schema["$defs"][f"node.{name}"]
        assert node["properties"]["type"] == {"const": name}
    fx_chain = schema["$defs"]["node.fx"]["properties"]["params"]["properties"]["chain"]["items"]["anyOf"]
    compressor = next(i for i in fx_chain if i["properties"]["plugin"].get("const") == "Compressor")
    assert compressor["properties"]["threshold_db"] == {"type": "number", "default": 0.0}
    resample = schema["$defs"]["node.resample"]["properties"]["params"]
    assert resample["properties"]["quality"]["enum"] == ["VHQ", "HQ", "MQ", "LQ", "QQ"]
    assert all(ref.startswith("#/$defs/") for ref in _refs(schema))
    assert all(ref.removeprefix("#/$defs/") in schema["$defs"] for ref in _refs(schema))


def _refs(value) -> list[str]:
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "$ref"] + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_example_graphs_match_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = graph_schema()
    for path in sorted((Path(__file__).parents[2] / "graphs").glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
