"""Planning, kept pure: DAG -> order, keys, what is cached, what would be written.

Nothing here reads audio. :func:`execution_order` and :func:`skipped_after` work on a
bare ``networkx.DiGraph``; :func:`node_keys` turns a validated graph plus an input
file's content hash into every node's cache key (and the parts it is made of, to say
why a node re-runs).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import networkx as nx

from drumflow.cache import file_key, node_key
from drumflow.errors import GraphError, GraphErrors
from drumflow.graph import Graph
from drumflow.tracks import Track


def execution_order(dag: nx.DiGraph, targets: list[str] | None = None) -> list[str]:
    """Topological order (ties broken by name, so it is stable), limited to what ``targets`` need."""
    keep = None
    if targets is not None:
        keep = set(targets).union(*(nx.ancestors(dag, t) for t in targets)) if targets else set()
    order = list(nx.lexicographical_topological_sort(dag))
    return [n for n in order if keep is None or n in keep]


def skipped_after(dag: nx.DiGraph, failed: str) -> set[str]:
    """Everything downstream of a failed node: those are skipped, nothing else."""
    return set(nx.descendants(dag, failed))


def cached_nodes(graph: Graph, keys: dict[str, "KeyParts"], has: Callable[[str], bool] | None) -> set[str]:
    """Nodes whose result is in the cache (``has(key)``); sinks and cheap nodes never are."""
    if has is None:
        return set()
    return {n for n, node in graph.nodes.items()
            if node.type.cacheable and not node.type.sink and has(keys[n].key)}


def nodes_to_run(dag: nx.DiGraph, sinks: list[str], cached: set[str]) -> set[str]:
    """Which nodes must execute: the sinks, and, walking upstream, every input of an
    executing node that is not cached. A cached node's upstream never runs."""
    run: set[str] = set()
    stack = list(sinks)
    while stack:
        n = stack.pop()
        if n in run:
            continue
        run.add(n)
        stack.extend(src for src in dag.predecessors(n) if src not in cached)
    return run


@dataclass(frozen=True)
class KeyParts:
    key: str
    components: dict[str, Any]


def node_keys(graph: Graph, input_sha256: str) -> dict[str, KeyParts]:
    """Cache key of every node (and of the input) for one track."""
    keys: dict[str, KeyParts] = {graph.input_name: KeyParts(file_key(input_sha256), {"file_sha256": input_sha256})}
    for nid in execution_order(graph.dag):
        if nid == graph.input_name:
            continue
        node = graph.nodes[nid]
        components = {
            "type": node.type_name,
            "version": node.type.version,
            "params": node.params.model_dump(mode="json"),
            "fingerprint": node.type.fingerprint(node.params),
            "inputs": {port: f"{keys[src].key}:{sp}" for port, (src, sp) in sorted(node.inputs.items())},
        }
        key = node_key(components["type"], components["version"], components["params"], components["fingerprint"],
                       components["inputs"])
        keys[nid] = KeyParts(key, components)
    return keys


def planned_outputs(graph: Graph, track: Track, out_dir: Path) -> dict[str, list[Path]]:
    out = {}
    for nid in graph.sinks():
        node = graph.nodes[nid]
        out[nid] = node.type.planned_outputs(node.params, track.name, out_dir, nid, node.stem,
                                             node.input_types.get("in"))
    return out


def check_outputs(graph: Graph, tracks: list[Track], out_dir: Path) -> dict[tuple[str, str], list[Path]]:
    """Every file the run will write; errors for clashes, inputs overwritten, paths outside ``out_dir``."""
    errors: list[GraphError] = []
    inputs = {t.path.resolve(): t for t in tracks}
    owner: dict[Path, tuple[str, str]] = {}
    plan: dict[tuple[str, str], list[Path]] = {}
    root = out_dir.resolve()
    for track in tracks:
        for nid, paths in planned_outputs(graph, track, out_dir).items():
            node = graph.nodes[nid]
            loc = node.spec.where(("path",))
            plan[(track.name, nid)] = paths
            for p in paths:
                rp = p.resolve()
                if rp in inputs:
                    errors.append(GraphError(f"would overwrite the input file {rp}", loc=loc, node=nid,
                                             hint="choose another --out folder or path"))
                elif not rp.is_relative_to(root):
                    errors.append(GraphError(f"{p} escapes the output folder {root}", loc=loc, node=nid,
                                             hint="use a relative path without '..'"))
                elif rp in owner and owner[rp] != (track.name, nid):
                    other_track, other = owner[rp]
                    errors.append(GraphError(
                        f"writes {p} for track '{track.name}', as node '{other}' does for track '{other_track}'",
                        loc=loc, node=nid,
                        hint="put {track} in the path" if other == nid else "give each export its own path"))
                owner.setdefault(rp, (track.name, nid))
    if errors:
        unique = list({str(e): e for e in errors}.values())
        raise unique[0] if len(unique) == 1 else GraphErrors(unique)
    return plan
