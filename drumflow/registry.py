"""Node types by name, found through the ``drumflow.nodes`` entry-point group.

Built-in node types register exactly as a third-party package would, in pyproject.toml::

    [project.entry-points."drumflow.nodes"]
    separate = "drumflow.nodes.separate:Separate"

If the package metadata is missing (running from a source tree that was never
installed), the built-ins are loaded from :data:`BUILTINS` instead. A third-party entry
point that fails to import does not break drumflow: it is reported by ``drumflow nodes``
and becomes an error only when a graph uses that type.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib import metadata
from typing import Iterable

from drumflow.errors import RegistryError
from drumflow.node import NodeType

GROUP = "drumflow.nodes"
BUILTINS: dict[str, str] = {
    "separate": "drumflow.nodes.separate:Separate",
    "fx": "drumflow.nodes.fx:Fx",
    "mix": "drumflow.nodes.mix:Mix",
    "gain": "drumflow.nodes.gain:Gain",
    "normalize": "drumflow.nodes.normalize:Normalize",
    "resample": "drumflow.nodes.resample:Resample",
    "export": "drumflow.nodes.export:Export",
    "transcribe": "drumflow.nodes.transcribe:Transcribe",
    "slice": "drumflow.nodes.slice:Slice",
    "duck": "drumflow.nodes.sidechain:Duck",
    "gate": "drumflow.nodes.sidechain:Gate",
}


def _load(value: str) -> type[NodeType]:
    module, _, attr = value.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[return-value]


@dataclass
class Registry:
    types: dict[str, type[NodeType]] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)  # name -> why it failed to load
    sources: dict[str, str] = field(default_factory=dict)  # name -> "module:Class"

    @classmethod
    def discover(cls, entry_points: Iterable[metadata.EntryPoint] | None = None) -> "Registry":
        reg = cls()
        eps = list(metadata.entry_points(group=GROUP)) if entry_points is None else list(entry_points)
        for ep in eps:
            reg._add(ep.name, ep.value)
        for name, value in BUILTINS.items():  # metadata missing: built-ins still there
            if name not in reg.types and name not in reg.broken:
                reg._add(name, value)
        return reg

    def _add(self, name: str, value: str) -> None:
        try:
            node_type = _load(value)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break drumflow
            self.broken[name] = f"cannot load {value}: {type(exc).__name__}: {exc}"
            return
        if not (isinstance(node_type, type) and issubclass(node_type, NodeType)):
            self.broken[name] = f"{value} is not a drumflow.node.NodeType subclass"
            return
        if getattr(node_type, "name", None) != name:
            self.broken[name] = f"{value} declares name {getattr(node_type, 'name', None)!r}, registered as {name!r}"
            return
        known = self.types.get(name)
        if known is not None and known is not node_type:
            raise RegistryError(
                f"two packages register node type '{name}': {self.sources[name]} and {value}; uninstall one"
            )
        self.types[name] = node_type
        self.sources[name] = value

    def get(self, name: str) -> type[NodeType] | None:
        return self.types.get(name)

    def names(self) -> list[str]:
        return sorted(self.types)


_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry (entry points are read once)."""
    global _default
    if _default is None:
        _default = Registry.discover()
    return _default
