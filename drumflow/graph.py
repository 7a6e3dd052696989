"""Validated graphs: a :class:`GraphSpec` -> a networkx DAG of typed, checked nodes.

:func:`build_graph` finds every problem it can before any audio is touched and raises
them together (one line each, sorted by line): unknown node types (did-you-mean),
unknown or ill-typed params, references to missing nodes or ports, port type
mismatches, cycles (printed), bad export paths, and each node type's own checks (fx
plugin names and values, mix input names, ...). Unused outputs and nodes that feed no
export are warnings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
from pydantic import ValidationError

from drumflow.errors import GraphError, GraphErrors, Loc, did_you_mean, one_of
from drumflow.node import CheckInfo, NodeType, Params, Port
from drumflow.ports import AUDIO, PortType
from drumflow.registry import Registry, default_registry
from drumflow.spec import GraphSpec, NodeSpec, Ref

INPUT_PORT = "out"


@dataclass
class Node:
    """A checked node: its type (an instance), validated params and bound inputs."""

    id: str
    spec: NodeSpec
    type: NodeType
    params: Params
    inputs: dict[str, tuple[str, str]]  # input port -> (source node, source port)
    input_types: dict[str, PortType] = field(default_factory=dict)
    stem: str | None = None

    @property
    def type_name(self) -> str:
        return self.type.name


@dataclass
class Graph:
    spec: GraphSpec
    input_name: str
    nodes: dict[str, Node]
    dag: nx.DiGraph  # node ids and the input name; edge attrs: ports=[(src_port, dst_port)]
    warnings: list[GraphError] = field(default_factory=list)

    def sinks(self) -> list[str]:
        return [n for n, node in self.nodes.items() if node.type.sink]


def _output_ports(node_type: type[NodeType] | None) -> dict[str, Port]:
    return {p.name: p for p in node_type.outputs} if node_type else {}


class _Builder:
    def __init__(self, spec: GraphSpec, registry: Registry):
        self.spec = spec
        self.registry = registry
        self.errors: list[GraphError] = []
        self.warnings: list[GraphError] = []

    def error(self, problem: str, loc: Loc | None, node: str | None = None, hint: str | None = None) -> None:
        self.errors.append(GraphError(problem, loc=loc, node=node, hint=hint))

    # -- types and params --------------------------------------------------------------
    def node_type(self, ns: NodeSpec) -> type[NodeType] | None:
        t = self.registry.get(ns.type)
        if t is None:
            if ns.type in self.registry.broken:
                self.error(f"node type '{ns.type}' is installed but broken: {self.registry.broken[ns.type]}",
                           ns.type_loc, ns.id, "reinstall the package that provides it")
            else:
                hint = did_you_mean(ns.type, self.registry.names()) or f"known types: {', '.join(self.registry.names())}"
                self.error(f"unknown node type '{ns.type}'", ns.type_loc, ns.id, hint)
        return t

    def params(self, ns: NodeSpec, node_type: NodeType) -> Params | None:
        raw = dict(ns.params.value)
        prepared = node_type.prepare(raw, self.spec.base_dir)
        for key in ns.overridden:  # values given with --set: relative to the current folder
            if key in raw:
                prepared[key] = node_type.prepare(raw, Path.cwd())[key]
        try:
            return node_type.Params.model_validate(prepared)
        except ValidationError as exc:
            fields = node_type.Params.model_fields
            for err in exc.errors():
                path = tuple(err["loc"])
                if err["type"] == "extra_forbidden":
                    name = path[-1] if path else "?"
                    hint = did_you_mean(name, fields) if len(path) == 1 else None
                    hint = hint or (f"'{ns.type}' takes {one_of(fields)}" if fields else f"'{ns.type}' takes no parameters")
                    self.error(f"unknown parameter '{'.'.join(map(str, path))}'", ns.where(path, key=True), ns.id, hint)
                else:
                    where = ".".join(map(str, path))
                    msg = err["msg"].removeprefix("Value error, ")
                    got = f" (got {err['input']!r})" if path and not isinstance(err.get("input"), dict) else ""
                    self.error(f"parameter '{where}': {msg}{got}" if where else msg,
                               ns.where(path) if path else ns.params.loc() or ns.loc, ns.id,
                               _param_hint(node_type, path[0] if path else None))
            return None

    # -- inputs ---------------------------------------------------------------------------
    def bind(self, ns: NodeSpec, node_type: NodeType) -> dict[str, Ref]:
        bound: dict[str, Ref] = {}
        before = len(self.errors)
        declared = {p.name: p for p in node_type.inputs}
        positional = [p.name for p in node_type.inputs]
        for i, (name, ref) in enumerate(ns.inputs):
            if node_type.variadic is not None:
                name = name or ref.port or ref.node
            elif name is None:
                if i >= len(positional):
                    self.error(f"too many inputs: '{ns.type}' takes {len(positional) or 'no'} input(s)"
                               f"{' (' + one_of(positional) + ')' if positional else ''}", ref.loc, ns.id,
                               "remove the extra references")
                    continue
                name = positional[i]
            elif name not in declared:
                hint = did_you_mean(name, declared) or f"'{ns.type}' has inputs {one_of(declared) or 'none'}"
                self.error(f"'{ns.type}' has no input '{name}'", ref.loc, ns.id, hint)
                continue
            if name in bound:
                self.error(f"input '{name}' is given twice", ref.loc, ns.id, "name the inputs: in: {a: x.out, b: y.out}")
                continue
            bound[name] = ref
        for p in node_type.inputs:
            if p.required and p.name not in bound and len(self.errors) == before:
                self.error(f"input '{p.name}' ({p.type_name()}) is not connected", ns.loc or ns.type_loc, ns.id,
                           "add in: NODE.PORT, e.g. in: split.kick")
        return bound

    def resolve(self, ns: NodeSpec, ref: Ref, types: dict[str, type[NodeType] | None]) -> tuple[str, str, PortType] | None:
        if ref.node == self.spec_input:
            if ref.port not in (None, INPUT_PORT):
                self.error(f"input '{ref.node}' has no port '{ref.port}'", ref.loc, ns.id, f"write just '{ref.node}'")
                return None
            return ref.node, INPUT_PORT, AUDIO
        if ref.node not in self.spec.nodes:
            choices = list(self.spec.nodes) + [self.spec_input]
            hint = did_you_mean(ref.node, choices) or f"nodes: {one_of(choices)}"
            self.error(f"'{ref.text}' refers to a missing node '{ref.node}'", ref.loc, ns.id, hint)
            return None
        src_type = types.get(ref.node)
        if src_type is None:
            return None  # its own error is reported already
        outs = _output_ports(src_type)
        if ref.port is None:
            if len(outs) != 1:
                options = ", ".join(f"{ref.node}.{p}" for p in outs) or "none: it is a sink"
                self.error(f"node '{ref.node}' has {len(outs)} outputs; say which one", ref.loc, ns.id,
                           f"use one of {options}")
                return None
            port = next(iter(outs.values()))
        elif ref.port not in outs:
            hint = did_you_mean(ref.port, outs) or (f"its outputs are {one_of(outs)}" if outs else "it has no outputs")
            self.error(f"node '{ref.node}' ({self.spec.nodes[ref.node].type}) has no output '{ref.port}'",
                       ref.loc, ns.id, hint)
            return None
        else:
            port = outs[ref.port]
        return ref.node, port.name, port.types[0]

    # -- whole graph ---------------------------------------------------------------------
    def build(self) -> Graph:
        (self.spec_input,) = self.spec.inputs
        types = {nid: self.node_type(ns) for nid, ns in self.spec.nodes.items()}
        dag = nx.DiGraph()
        dag.add_node(self.spec_input)
        nodes: dict[str, Node] = {}
        for nid, ns in self.spec.nodes.items():
            dag.add_node(nid)
            t = types[nid]
            if t is None:
                continue
            inst = t()
            params = self.params(ns, inst)
            bound = self.bind(ns, inst)
            node = Node(nid, ns, inst, params, {})  # type: ignore[arg-type]
            for in_name, ref in bound.items():
                self.connect(dag, node, in_name, ref, types)
            nodes[nid] = node
        self.check_cycles(dag)
        if not self.errors or nx.is_directed_acyclic_graph(dag):
            for nid, node in nodes.items():
                if node.params is None:
                    continue
                node.stem = _trace_stem(nodes, nid)
                info = CheckInfo(nid, tuple(node.inputs), dict(node.input_types), node.stem)
                for issue in node.type.check(node.params, info):
                    self.error(issue.problem, node.spec.where(issue.path, key=issue.key), nid, issue.hint)
        if not any(n.type.sink for n in nodes.values()) and not self.errors:
            self.error("the graph writes nothing", Loc(str(self.spec.path)), None,
                       "add an export node, e.g. out: {type: export, in: mix, params: {path: '{track}/mix.wav'}}")
        self.warn_unused(nodes, dag)
        if self.errors:
            errors = sorted(self.errors, key=lambda e: (e.line, e.loc.col if e.loc else 0))
            raise errors[0] if len(errors) == 1 else GraphErrors(errors)
        return Graph(self.spec, self.spec_input, nodes, dag, self.warnings)

    def connect(self, dag: nx.DiGraph, node: Node, in_name: str, ref: Ref,
                types: dict[str, type[NodeType] | None]) -> None:
        """Resolve ``ref``, check the port types, add the edge."""
        src = self.resolve(node.spec, ref, types)
        if src is None:
            return
        src_node, src_port, src_type = src
        declared = {p.name: p for p in node.type.inputs}
        if in_name in declared:
            accepts, want = declared[in_name].accepts(src_type), declared[in_name].type_name()
        else:  # a named input of a variadic node
            accepts, want = src_type is node.type.variadic, node.type.variadic.name  # type: ignore[union-attr]
        if not accepts:
            hint = "pick one stem, e.g. split.kick" if src_type.name == "stems" else "connect a port of that type"
            self.error(f"'{ref.text}' is a {src_type.name} port, but input '{in_name}' of '{node.spec.type}' "
                       f"takes {want}", ref.loc, node.id, hint)
            return
        node.inputs[in_name] = (src_node, src_port)
        node.input_types[in_name] = src_type
        if dag.has_edge(src_node, node.id):
            dag.edges[src_node, node.id]["ports"].append((src_port, in_name))
        else:
            dag.add_edge(src_node, node.id, ports=[(src_port, in_name)])

    def check_cycles(self, dag: nx.DiGraph) -> None:
        try:
            cycle = nx.find_cycle(dag)
        except nx.NetworkXNoCycle:
            return
        ids = [u for u, _ in cycle] + [cycle[0][0]]
        first = self.spec.nodes[ids[0]]
        self.error(f"cycle: {' -> '.join(ids)}", first.loc, ids[0],
                   "a node cannot depend on its own output; remove one edge")

    def warn_unused(self, nodes: dict[str, Node], dag: nx.DiGraph) -> None:
        if self.errors:
            return
        sinks = [n for n, node in nodes.items() if node.type.sink]
        useful = set(sinks).union(*(nx.ancestors(dag, s) for s in sinks)) if sinks else set()
        used_ports = {(u, sp) for u, _, d in dag.edges(data=True) for sp, _ in d["ports"]}
        for nid, node in nodes.items():
            if node.type.sink:
                continue
            if nid not in useful:
                self.warnings.append(GraphError("feeds no export, so it will not run", loc=node.spec.loc, node=nid,
                                                hint="connect it to an export or remove it"))
                continue
            if node.type.stem_outputs and (nid, "stems") in used_ports:
                continue  # the stem set is used: the single-stem ports are an alternative view
            for port in node.type.outputs:
                if port.warn_unused and (nid, port.name) not in used_ports:
                    self.warnings.append(GraphError(f"output '{nid}.{port.name}' is not used", loc=node.spec.loc,
                                                    node=nid))


def _param_hint(node_type: NodeType, name: Any) -> str | None:
    f = node_type.Params.model_fields.get(name) if isinstance(name, str) else None
    return f.description if f is not None and f.description else None


def _trace_stem(nodes: dict[str, Node], nid: str, depth: int = 0) -> str | None:
    """The stem an audio input descends from, through single-input nodes (or a node's ``stem_input``);
    None if mixed."""
    node = nodes[nid]
    if depth > len(nodes):
        return None
    if node.type.stem_input is not None and node.type.stem_input in node.inputs:
        src, port = node.inputs[node.type.stem_input]
    elif len(node.inputs) == 1:
        (src, port), = node.inputs.values()
    else:
        return None
    if src not in nodes:
        return None
    src_node = nodes[src]
    if src_node.type.stem_outputs and port != "stems":
        return port
    return _trace_stem(nodes, src, depth + 1)


def build_graph(spec: GraphSpec, registry: Registry | None = None) -> Graph:
    """Validate ``spec``; raises :class:`GraphError` (or :class:`GraphErrors`) listing every problem."""
    return _Builder(spec, registry or default_registry()).build()


def load_and_build(path: str | Path, overrides: tuple[str, ...] = (), registry: Registry | None = None) -> Graph:
    from drumflow.spec import load_graph

    return build_graph(load_graph(path, overrides), registry)
