"""Graph files: YAML -> :class:`GraphSpec`, with a file:line:col for every node and param.

One entry point, :func:`load_graph`. It parses with PyYAML's composer, which keeps the
position of every scalar and collection, so any later error (an unknown parameter three
levels deep in an fx chain, a bad port reference) can name the exact line. Templates
are expanded (:mod:`drumflow.templates`) and ``--set`` overrides applied here, before
validation, so the graph that is validated is the graph that runs.

The file shape (all keys but ``nodes`` optional)::

    description: one line shown by `drumflow validate`
    inputs: {drums: "songs/*.wav"}      # one named input: files, folders or globs
    templates: {...}                    # see drumflow.templates
    nodes:
      split: {type: separate, in: drums, params: {wiener: 1.0}}
      out:   {type: export, in: split.stems, params: {path: "{track}/{stem}.wav"}}
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from drumflow.errors import GraphError, Loc, did_you_mean, one_of

DEMO_DIR = Path(__file__).parent / "demo"
"""The bundled demo loop(s): the input of a graph that names none."""
DEFAULT_INPUT = "drums"
TOP_KEYS = ("description", "inputs", "templates", "nodes")
NODE_KEYS = ("type", "in", "params")
ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")

Path_ = tuple[Any, ...]


@dataclass
class Located:
    """A YAML value converted to Python plus the location of every sub-value and key."""

    value: Any
    locs: dict[Path_, Loc] = field(default_factory=dict)  # path -> where the value starts
    key_locs: dict[Path_, Loc] = field(default_factory=dict)  # path -> where its key starts

    def loc(self, path: Path_ = (), *, key: bool = False) -> Loc | None:
        """Location of ``path``, or of the nearest enclosing value that has one."""
        table = self.key_locs if key else self.locs
        p = tuple(path)
        while True:
            if p in table:
                return table[p]
            if key and p in self.locs:
                return self.locs[p]
            if not p:
                return self.locs.get(())
            p = p[:-1]

    def sub(self, path: Path_) -> "Located":
        """The sub-tree at ``path`` with paths made relative to it."""
        n = len(path)
        value = self.value
        for part in path:
            value = value[part]
        return Located(
            value,
            {p[n:]: loc for p, loc in self.locs.items() if p[:n] == tuple(path)},
            {p[n:]: loc for p, loc in self.key_locs.items() if p[:n] == tuple(path) and len(p) > n},
        )


@dataclass(frozen=True)
class Ref:
    """A reference to an output port as written: ``split.kick`` or ``kick``."""

    node: str
    port: str | None
    text: str
    loc: Loc | None


@dataclass
class NodeSpec:
    id: str
    type: str
    inputs: list[tuple[str | None, Ref]]
    params: Located
    loc: Loc | None  # the node's id in the file
    type_loc: Loc | None
    origin: str | None = None  # "template 'x' (stem=kick)"
    overridden: set[str] = field(default_factory=set)  # top-level params set with --set

    def where(self, path: Path_ = (), *, key: bool = False) -> Loc | None:
        return self.params.loc(path, key=key) if path else (self.loc or self.type_loc)


@dataclass
class InputSpec:
    name: str
    patterns: list[str]
    loc: Loc | None
    base_dir: Path
    default: bool = False  # the demo loop, not written by the user


@dataclass
class GraphSpec:
    path: Path
    description: str
    inputs: dict[str, InputSpec]
    nodes: dict[str, NodeSpec]
    overrides: tuple[str, ...] = ()
    sha256: str = ""

    @property
    def base_dir(self) -> Path:
        return self.path.parent


# --------------------------------------------------------------------------- YAML


def _loc(mark: Any, file: str) -> Loc:
    return Loc(file, mark.line + 1, mark.column + 1)


def _convert(node: yaml.Node, loader: yaml.SafeLoader, file: str, out: Located, path: Path_) -> Any:
    out.locs[path] = _loc(node.start_mark, file)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolve YAML merge keys (<<: *anchor)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)):
                raise GraphError("a mapping key must be a plain value", loc=_loc(key_node.start_mark, file))
            if key in result:
                raise GraphError(
                    f"duplicate key {key!r}", loc=_loc(key_node.start_mark, file),
                    hint=f"it is already defined at line {out.key_locs[path + (key,)].line}; keep one",
                )
            out.key_locs[path + (key,)] = _loc(key_node.start_mark, file)
            result[key] = _convert(value_node, loader, file, out, path + (key,))
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, loader, file, out, path + (i,)) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def parse_yaml(text: str, file: str) -> Located:
    """YAML text -> :class:`Located`; syntax errors become :class:`GraphError` with a position."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        out = Located(None)
        out.value = {} if root is None else _convert(root, loader, file, out, ())
        return out
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise GraphError(f"YAML syntax error: {problem}", loc=_loc(mark, file) if mark else Loc(file),
                         hint="check indentation, colons and quotes near this position") from None
    except yaml.YAMLError as exc:
        raise GraphError(f"YAML error: {exc}", loc=Loc(file)) from None
    finally:
        loader.dispose()


# --------------------------------------------------------------------------- refs & nodes


def parse_ref(text: Any, loc: Loc | None, node_id: str) -> Ref:
    if not isinstance(text, str) or not text:
        raise GraphError(f"an input must be a port reference like 'split.kick', got {text!r}", loc=loc, node=node_id)
    parts = text.split(".")
    if len(parts) > 2 or not all(ID_RE.match(p) for p in parts):
        raise GraphError(f"bad port reference {text!r}", loc=loc, node=node_id,
                         hint="write NODE or NODE.PORT, e.g. 'split.kick'")
    return Ref(parts[0], parts[1] if len(parts) == 2 else None, text, loc)


def parse_inputs(raw: Any, tree: Located, node_id: str) -> list[tuple[str | None, Ref]]:
    """``in:`` as a single ref, a list of refs, or a mapping input-name -> ref."""
    path = ("in",)
    if raw is None:
        return []
    if isinstance(raw, str):
        return [(None, parse_ref(raw, tree.loc(path), node_id))]
    if isinstance(raw, list):
        return [(None, parse_ref(r, tree.loc(path + (i,)), node_id)) for i, r in enumerate(raw)]
    if isinstance(raw, dict):
        out = []
        for name, r in raw.items():
            if not isinstance(name, str) or not ID_RE.match(name):
                raise GraphError(f"bad input name {name!r}", loc=tree.loc(path + (name,), key=True), node=node_id,
                                 hint="use letters, digits, '_' or '-'")
            out.append((name, parse_ref(r, tree.loc(path + (name,)), node_id)))
        return out
    raise GraphError("'in' must be a reference, a list of references or a mapping name: reference",
                     loc=tree.loc(path), node=node_id, hint="e.g. in: split.kick")


def parse_node(node_id: Any, body: Located, key_loc: Loc | None, origin: str | None = None) -> NodeSpec:
    if not isinstance(node_id, str) or not ID_RE.match(node_id):
        raise GraphError(f"bad node id {node_id!r}", loc=key_loc,
                         hint="start with a letter or '_', then letters, digits, '_' or '-' (no dots)")
    raw = body.value
    if isinstance(raw, str):  # shorthand `gain: gain` is not allowed: say how to write it
        raise GraphError("a node must be a mapping with 'type' (and 'in', 'params')", loc=body.loc(), node=node_id,
                         hint=f"e.g. {node_id}: {{type: {raw}, in: ..., params: {{...}}}}")
    if not isinstance(raw, dict):
        raise GraphError("a node must be a mapping with 'type', 'in' and 'params'", loc=body.loc(), node=node_id)
    for key in raw:
        if key not in NODE_KEYS:
            hint = did_you_mean(key, NODE_KEYS) or f"a node takes {one_of(NODE_KEYS)}; parameters go under 'params'"
            raise GraphError(f"unknown key {key!r}", loc=body.loc((key,), key=True), node=node_id, hint=hint)
    if "type" not in raw:
        raise GraphError("missing 'type'", loc=key_loc or body.loc(), node=node_id,
                         hint="add type: NAME (see `drumflow nodes`)")
    if not isinstance(raw["type"], str):
        raise GraphError(f"'type' must be a name, got {raw['type']!r}", loc=body.loc(("type",)), node=node_id)
    params = body.sub(("params",)) if "params" in raw else Located({}, {}, {})
    if params.value is None:
        params = Located({}, {}, {})
    if not isinstance(params.value, dict):
        raise GraphError("'params' must be a mapping", loc=body.loc(("params",)), node=node_id,
                         hint="e.g. params: {gain_db: -3}")
    return NodeSpec(
        id=node_id,
        type=raw["type"],
        inputs=parse_inputs(raw.get("in"), body, node_id),
        params=params,
        loc=key_loc,
        type_loc=body.loc(("type",)),
        origin=origin,
    )


# --------------------------------------------------------------------------- overrides


def _parse_override(text: str) -> tuple[list[str], Any]:
    loc = Loc("--set", text=text)
    if "=" not in text:
        raise GraphError("an override must look like NODE.PARAM=VALUE", loc=loc, hint="e.g. --set split.wiener=1.0")
    lhs, rhs = text.split("=", 1)
    keys = lhs.strip().split(".")
    if len(keys) < 2 or not all(keys):
        raise GraphError("an override must name a node and a parameter", loc=loc, hint="e.g. --set split.wiener=1.0")
    try:
        value = yaml.safe_load(rhs) if rhs.strip() else ""
    except yaml.YAMLError:
        value = rhs
    return keys, value


def apply_override(spec: GraphSpec, text: str) -> None:
    """``node.param[.sub|.index...]=value`` (value parsed as YAML: numbers, null, lists)."""
    keys, value = _parse_override(text)
    loc = Loc("--set", text=text)
    node_id, path = keys[0], keys[1:]
    if node_id not in spec.nodes:
        hint = did_you_mean(node_id, spec.nodes) or f"nodes: {one_of(spec.nodes)}"
        raise GraphError(f"no node '{node_id}' to set a parameter on", loc=loc, hint=hint)
    node = spec.nodes[node_id]
    target: Any = node.params.value
    typed: list[Any] = []
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(target, list):
            if not part.lstrip("-").isdigit() or not -len(target) <= int(part) < len(target):
                raise GraphError(f"'{'.'.join(path[:i])}' is a list of {len(target)}; '{part}' is not an index in it",
                                 loc=loc, node=node_id, hint=f"use 0..{len(target) - 1}")
            key: Any = int(part) % len(target)
        else:
            key = part
        typed.append(key)
        if last:
            target[key] = value
        else:
            if isinstance(target, dict) and key not in target:
                target[key] = {}
            target = target[key]
            if not isinstance(target, (dict, list)):
                raise GraphError(f"'{'.'.join(path[:i + 1])}' is a value, not a mapping", loc=loc, node=node_id)
    # every location under the overridden path now points at the override
    prefix = tuple(typed)
    for table in (node.params.locs, node.params.key_locs):
        for p in [p for p in table if p[: len(prefix)] == prefix]:
            del table[p]
        table[prefix] = loc
    node.overridden.add(path[0])


# --------------------------------------------------------------------------- inputs


def parse_inputs_section(tree: Located, base_dir: Path) -> dict[str, InputSpec]:
    raw = tree.value.get("inputs")
    if raw is None:
        return {DEFAULT_INPUT: InputSpec(DEFAULT_INPUT, [str(DEMO_DIR)], None, DEMO_DIR, default=True)}
    if not isinstance(raw, dict) or not raw:
        raise GraphError("'inputs' must map one input name to files, folders or globs", loc=tree.loc(("inputs",)),
                         hint='e.g. inputs: {drums: "songs/*.wav"}')
    if len(raw) > 1:
        second = list(raw)[1]
        raise GraphError("a graph takes one input (each of its files is one track)",
                         loc=tree.loc(("inputs", second), key=True), hint="keep one entry under 'inputs'")
    out = {}
    for name, patterns in raw.items():
        loc = tree.loc(("inputs", name))
        if not isinstance(name, str) or not ID_RE.match(name):
            raise GraphError(f"bad input name {name!r}", loc=tree.loc(("inputs", name), key=True))
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
            raise GraphError(f"input '{name}' must be a path, a glob or a list of them", loc=loc,
                             hint='e.g. drums: "songs/*.wav"')
        out[name] = InputSpec(name, list(patterns), loc, base_dir)
    return out


# --------------------------------------------------------------------------- load


def load_graph(path: str | Path, overrides: Iterable[str] = (), *, text: str | None = None) -> GraphSpec:
    """Read, parse, expand templates and apply overrides; raises :class:`GraphError`.

    This does not validate types, params or references: :func:`drumflow.graph.build_graph`
    does, on the returned spec.
    """
    from drumflow.templates import expand_templates

    path = Path(path)
    file = str(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise GraphError("no such graph file", loc=Loc(file), hint="check the path; examples are in graphs/") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise GraphError(f"cannot read the graph file: {exc}", loc=Loc(file)) from None
    tree = parse_yaml(text, file)
    if not isinstance(tree.value, dict):
        raise GraphError("a graph file must be a mapping with a 'nodes' section", loc=tree.loc() or Loc(file),
                         hint="see graphs/remix.yaml")
    for key in tree.value:
        if key not in TOP_KEYS:
            raise GraphError(f"unknown top-level key {key!r}", loc=tree.loc((key,), key=True),
                             hint=did_you_mean(key, TOP_KEYS) or f"use {one_of(TOP_KEYS)}")
    description = tree.value.get("description") or ""
    if not isinstance(description, str):
        raise GraphError("'description' must be text", loc=tree.loc(("description",)))
    raw_nodes = tree.value.get("nodes")
    if raw_nodes is None and "templates" in tree.value:
        raw_nodes = {}
    if not isinstance(raw_nodes, dict) or (not raw_nodes and "templates" not in tree.value):
        raise GraphError("the graph has no nodes", loc=tree.loc(("nodes",)) or Loc(file, 1, 1),
                         hint="add a 'nodes' mapping: id -> {type, in, params}")
    inputs = parse_inputs_section(tree, path.parent)
    nodes: dict[str, NodeSpec] = {}
    for node_id in raw_nodes:
        nodes[node_id] = parse_node(node_id, tree.sub(("nodes", node_id)), tree.loc(("nodes", node_id), key=True))
    for node in expand_templates(tree):
        if node.id in nodes:
            raise GraphError(f"template node '{node.id}' clashes with a node of the same id", loc=node.loc,
                             node=node.id, hint=f"first defined at {nodes[node.id].loc}; rename one")
        nodes[node.id] = node
    for node_id, node in nodes.items():
        if node_id in inputs:
            raise GraphError(f"node id '{node_id}' is also the name of an input", loc=node.loc, node=node_id,
                             hint="rename the node or the input")
    spec = GraphSpec(path, description, inputs, nodes, tuple(overrides),
                     hashlib.sha256(text.encode()).hexdigest())
    for override in overrides:
        apply_override(spec, override)
    return spec


def with_inputs(spec: GraphSpec, patterns: Iterable[str], base_dir: Path) -> GraphSpec:
    """Replace the graph's input files by ``patterns`` (from the command line)."""
    patterns = list(patterns)
    if not patterns:
        return spec
    (name, old), = spec.inputs.items()
    spec.inputs = {name: InputSpec(name, patterns, Loc("command line"), base_dir)}
    return spec
