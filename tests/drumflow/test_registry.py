"""drumflow.registry: built-ins and third-party node types come through one entry-point group."""
from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

from drumflow.errors import GraphError, RegistryError
from drumflow.graph import build_graph
from drumflow.registry import BUILTINS, GROUP, Registry
from drumflow.spec import load_graph

from .helpers import Boom, registry_with_boom, run_file, statuses, write_graph


def test_builtins_are_registered_through_package_entry_points() -> None:
    declared = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    assert {name: declared.get(name) for name in BUILTINS} == BUILTINS


def test_fallback_to_builtin_list_without_metadata() -> None:
    reg = Registry.discover([])
    assert reg.names() == sorted(BUILTINS)
    assert reg.broken == {}


def test_third_party_node_type_is_usable_in_a_graph(tmp_path: Path, loop: Path) -> None:
    reg = registry_with_boom()
    assert reg.get("boom") is Boom
    graph = write_graph(tmp_path, """
        nodes:
          b: {type: boom, in: drums, params: {fail: false}}
          out: {type: export, in: b}
    """)
    result = run_file(graph, [loop], tmp_path / "out", registry=reg)
    assert result.ok and statuses(result) == {"b": "ran", "out": "ran"}


def test_broken_plugin_is_reported_not_fatal(tmp_path: Path) -> None:
    reg = Registry.discover([EntryPoint("bad", "no_such_module_xyz:Node", GROUP)])
    assert "bad" in reg.broken and "No module named" in reg.broken["bad"]
    assert "gain" in reg.types
    graph = write_graph(tmp_path, "nodes:\n  x: {type: bad, in: drums}\n  out: {type: export, in: drums}\n")
    with pytest.raises(GraphError, match=r"node 'x': node type 'bad' is installed but broken") as exc:
        build_graph(load_graph(graph), reg)
    assert exc.value.line == 2


def test_entry_point_must_match_the_declared_name() -> None:
    reg = Registry.discover([EntryPoint("kaboom", "tests.drumflow.helpers:Boom", GROUP)])
    assert "declares name 'boom'" in reg.broken["kaboom"]


def test_two_packages_claiming_one_name_is_an_error() -> None:
    with pytest.raises(RegistryError, match=r"two packages register node type 'gain'"):
        Registry.discover([EntryPoint("gain", "drumflow.nodes.gain:Gain", GROUP),
                           EntryPoint("gain", "tests.drumflow.test_registry:OtherGain", GROUP)])


from drumflow.nodes.gain import Gain  # noqa: E402


class OtherGain(Gain):
    name = "gain"


def test_docs_cover_every_node_type_and_parameter() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "graphs.md").read_text()
    reg = Registry.discover()
    for name, node_type in reg.types.items():
        assert f"### `{name}`" in doc, name
        for param in node_type.Params.model_fields:
            assert f"`{param}`" in doc, f"{name}.{param}"
