"""JSON Schema for graph files, generated from the node type declarations.

Point an editor at it for completion and checks while typing, e.g. in VS Code with the
YAML extension: ``# yaml-language-server: $schema=drumflow-graph.schema.json`` as the
first line of a graph, after ``drumflow schema > drumflow-graph.schema.json``.
"""
from __future__ import annotations

from typing import Any

from drumflow.registry import Registry, default_registry

REF = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z_][A-Za-z0-9_\-]*)?$",
       "description": "NODE or NODE.PORT, e.g. split.kick"}
IN = {"description": "one reference, a list of references, or a mapping input name -> reference",
      "anyOf": [REF, {"type": "array", "items": REF}, {"type": "object", "additionalProperties": REF}]}


def _hoist(schema: dict[str, Any], prefix: str, defs: dict[str, Any]) -> dict[str, Any]:
    """Move a model schema's $defs into the document's, renaming refs to stay unique."""
    local = schema.pop("$defs", {})

    def fix(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (f"#/$defs/{prefix}.{v.rsplit('/', 1)[-1]}" if k == "$ref" and isinstance(v, str) else fix(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    for name, sub in local.items():
        defs[f"{prefix}.{name}"] = fix(sub)
    return fix(schema)


def graph_schema(registry: Registry | None = None) -> dict[str, Any]:
    registry = registry or default_registry()
    defs: dict[str, Any] = {}
    variants = []
    for name in registry.names():
        node_type = registry.types[name]
        params = _hoist(node_type.params_schema(), name, defs)
        defs[f"node.{name}"] = {
            "type": "object",
            "description": node_type.description,
            "properties": {"type": {"const": name}, "in": IN, "params": params},
            "required": ["type"],
            "additionalProperties": False,
        }
        variants.append({"$ref": f"#/$defs/node.{name}"})
    node = {"oneOf": variants}
    # inside templates any value may still be a "{variable}" string: check the shape only
    template_node = {"type": "object", "additionalProperties": False, "required": ["type"],
                     "properties": {"type": {"enum": registry.names()}, "in": {}, "params": {"type": "object"}}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "drumflow graph",
        "type": "object",
        "additionalProperties": False,
        "required": ["nodes"],
        "properties": {
            "description": {"type": "string"},
            "inputs": {"type": "object", "maxProperties": 1, "description": "one input: files, folders or globs",
                       "additionalProperties": {"anyOf": [{"type": "string"},
                                                          {"type": "array", "items": {"type": "string"}}]}},
            "templates": {"type": "object", "additionalProperties": {
                "type": "object", "additionalProperties": False, "required": ["nodes"],
                "properties": {"for": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
                               "nodes": {"type": "object", "additionalProperties": template_node}}}},
            "nodes": {"type": "object", "additionalProperties": node},
        },
        "$defs": defs,
    }
