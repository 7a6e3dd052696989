"""Run a validated graph over tracks: per track, topological order, cache, manifest.

Failure is a policy (``keep_going``): a failed node marks only its descendants as
skipped; the other branches of the track, and the other tracks, go on. With
``keep_going=False`` the first failure stops the run. Either way the manifest records
what happened and :attr:`RunResult.ok` is False if anything failed.
"""
from __future__ import annotations

import json
import os
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from drumflow.cache import Cache, why_rerun
from drumflow.errors import DrumflowError
from drumflow.executors import Executor, InProcessExecutor
from drumflow.graph import Graph, build_graph
from drumflow.node import RunContext
from drumflow.plan import KeyParts, cached_nodes, check_outputs, execution_order, node_keys, nodes_to_run
from drumflow.ports import Audio
from drumflow.spec import GraphSpec
from drumflow.tracks import Track


@dataclass(frozen=True)
class RunOptions:
    out_dir: Path
    cache_dir: Path | None  # None: no cache (--no-cache)
    keep_going: bool = True
    show_progress: bool = False  # per-node bars (in-process runs only)


@dataclass
class NodeResult:
    node: str
    type: str
    status: str  # ran | cached | unneeded (downstream cached) | failed | skipped (upstream failed)
    key: str = ""
    seconds: float = 0.0
    reason: str = ""
    error: str | None = None
    traceback: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class OutputFile:
    node: str
    path: str
    sha256: str
    bytes: int


@dataclass
class TrackResult:
    track: str
    input: dict[str, Any]
    nodes: list[NodeResult] = field(default_factory=list)
    outputs: list[OutputFile] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not any(n.status == "failed" for n in self.nodes)

    def failures(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status == "failed"]


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    try:
        from larsnet.errors import LarsNetError
    except ImportError:  # pragma: no cover
        LarsNetError = ()  # type: ignore[assignment]
    if isinstance(exc, (ValueError, DrumflowError)) or (LarsNetError and isinstance(exc, LarsNetError)):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_input(path: Path) -> Audio:
    from larsnet.audio import read_audio

    samples, rate = read_audio(path, sample_rate=None)
    return Audio(samples, rate)


def run_track(graph: Graph, track: Track, options: RunOptions, protected: frozenset[Path] = frozenset(),
              on_node: Callable[[str], None] | None = None) -> TrackResult:
    """Run every node an export needs for one track; never raises for node failures."""
    return _TrackRun(graph, track, options, protected).run(on_node)


class _TrackRun:
    """One track through the graph: plan from the cache, then execute in order."""

    def __init__(self, graph: Graph, track: Track, options: RunOptions, protected: frozenset[Path]):
        self.graph, self.track, self.options, self.protected = graph, track, options, protected
        self.cache = Cache(options.cache_dir) if options.cache_dir else None
        self.result = TrackResult(track.name, {"path": str(track.path)})
        # node id -> its outputs, or a thunk that loads them (the input file, a cache entry)
        self.values: dict[str, dict[str, Any] | Callable[[], dict[str, Any]]] = {
            graph.input_name: lambda: {"out": read_input(track.path)}}

    def outputs_of(self, nid: str) -> dict[str, Any]:
        v = self.values[nid]
        if callable(v):
            v = self.values[nid] = v()
        return v

    def run(self, on_node: Callable[[str], None] | None) -> TrackResult:
        from larsnet.audio import file_sha256

        start = time.perf_counter()
        graph, result = self.graph, self.result
        try:
            sha = file_sha256(self.track.path)
        except OSError as exc:
            result.error = f"cannot read {self.track.path}: {exc.strerror or exc}"
            return result
        result.input["sha256"] = sha
        keys = node_keys(graph, sha)
        order = execution_order(graph.dag, graph.sinks())
        cached = cached_nodes(graph, keys, self.cache.has if self.cache else None)
        to_run = nodes_to_run(graph.dag, graph.sinks(), cached)
        consumers = {n: sum(1 for c in graph.dag.successors(n) if c in to_run) for n in order}
        dead: set[str] = set()  # failed, or skipped because of a failure
        stop = False
        for nid in order:
            if nid == graph.input_name:
                continue
            node = graph.nodes[nid]
            res = NodeResult(nid, node.type_name, "ran", keys[nid].key)
            result.nodes.append(res)
            if nid in cached:
                res.status, res.reason = "cached", "inputs and params unchanged"
                self.values[nid] = (lambda k=keys[nid].key: self.cache.load(k))  # type: ignore[union-attr]
            elif nid not in to_run:
                res.status, res.reason = "unneeded", "everything downstream is cached"
            elif stop or any(src in dead for src, _ in node.inputs.values()):
                res.status, res.reason = "skipped", ("stopped after a failure" if stop else "an upstream node failed")
                dead.add(nid)
            else:
                self.execute(node, keys[nid], res)
                if res.status == "failed":
                    dead.add(nid)
                    stop = not self.options.keep_going
                for src in {src for src, _ in node.inputs.values()}:  # free what no one needs any more
                    consumers[src] = consumers.get(src, 0) - 1
                    if consumers[src] <= 0:
                        self.values[src] = {}
            if on_node:
                on_node(nid)
        result.seconds = time.perf_counter() - start
        return result

    def execute(self, node: Any, parts: KeyParts, res: NodeResult) -> None:
        """Run one node; keep its outputs (and store them in the cache); record the outcome in ``res``."""
        from larsnet.audio import file_sha256

        cache, track = self.cache, self.track
        scope = f"{self.graph.spec.path.resolve()}:{track.name}:{node.id}"
        store = cache is not None and node.type.cacheable and not node.type.sink
        if store:
            res.reason = why_rerun(cache.last(scope), parts.components)  # type: ignore[union-attr]
        elif not node.type.sink:
            res.reason = "not cached (cheap)" if cache else "--no-cache"
        t0 = time.perf_counter()
        ctx = RunContext(node.id, track.name, self.options.out_dir, int(parts.key[:15], 16), node.stem,
                         self.protected)
        try:
            inputs = {port: self.outputs_of(src)[sp] for port, (src, sp) in node.inputs.items()}
            out = node.type.run(inputs, node.params, ctx)
            missing = {p.name for p in node.type.outputs} - set(out)
            if missing:
                raise RuntimeError(f"node type '{node.type_name}' returned no value for {sorted(missing)}")
            self.values[node.id] = out
            if store:
                cache.store(parts.key, out, {p.name: p.types[0] for p in node.type.outputs},  # type: ignore[union-attr]
                            {"type": node.type_name, "node": node.id, "track": track.name})
                cache.remember(scope, parts.components)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - recorded; the keep-going policy decides what goes on
            res.status, res.error = "failed", _error_text(exc)
            res.traceback = traceback.format_exc()
        res.seconds = time.perf_counter() - t0
        res.warnings = ctx.warnings
        for path in ctx.written:
            self.result.outputs.append(OutputFile(node.id, str(path), file_sha256(path), path.stat().st_size))


# --------------------------------------------------------------------------- whole runs


@dataclass(frozen=True)
class TrackJob:
    """Everything a worker needs, as plain picklable data."""

    spec: GraphSpec
    track: Track
    options: RunOptions
    protected: frozenset[Path]


_graphs: dict[tuple[str, tuple[str, ...], str], Graph] = {}


def run_track_job(job: TrackJob) -> TrackResult:
    """Worker entry point: rebuild (once per process) the graph from its spec, run one track."""
    key = (job.spec.sha256, job.spec.overrides, str(job.spec.path))
    graph = _graphs.get(key)
    if graph is None:
        graph = _graphs[key] = build_graph(job.spec)
    return run_track(graph, job.track, job.options, job.protected)


@dataclass
class RunResult:
    tracks: list[TrackResult]
    manifest: dict[str, Any]
    manifest_path: Path | None

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tracks)


def run_graph(graph: Graph, tracks: list[Track], options: RunOptions, *, executor: Executor | None = None,
              manifest_path: Path | None = None, write_manifest: bool = True,
              on_track: Callable[[TrackResult], None] | None = None,
              on_node: Callable[[str], None] | None = None) -> RunResult:
    """Check outputs, run every track (through ``executor``), write the manifest."""
    check_outputs(graph, tracks, options.out_dir)  # before any audio is touched
    executor = executor or InProcessExecutor()
    protected = frozenset(t.path for t in tracks)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    results: dict[str, TrackResult] = {}
    try:
        if executor.in_process:  # the graph object itself; callbacks work
            items = executor.map_unordered(lambda t: run_track(graph, t, options, protected, on_node), tracks)
        else:  # only plain data crosses: workers rebuild the graph from the spec
            items = executor.map_unordered(run_track_job, [TrackJob(graph.spec, t, options, protected) for t in tracks])
        for tr in items:
            results[tr.track] = tr
            if on_track:
                on_track(tr)
            if not tr.ok and not options.keep_going:
                break
    finally:
        executor.close()
    ordered = [results[t.name] for t in tracks if t.name in results]
    manifest = build_manifest(graph, ordered, options, started, time.perf_counter() - t0, executor.jobs,
                              not_started=[t.name for t in tracks if t.name not in results])
    path = None
    if write_manifest:
        path = manifest_path or default_manifest_path(options.out_dir, graph, started)
        write_json_atomic(path, manifest)
    return RunResult(ordered, manifest, path)


def default_manifest_path(out_dir: Path, graph: Graph, started: datetime) -> Path:
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    return out_dir / "manifests" / f"{stamp}-{graph.spec.path.stem}-{uuid.uuid4().hex[:6]}.json"


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def build_manifest(graph: Graph, tracks: list[TrackResult], options: RunOptions, started: datetime,
                   seconds: float, jobs: int, not_started: list[str] = ()) -> dict[str, Any]:
    from drumflow import __version__

    nodes = [n for t in tracks for n in t.nodes]
    return {
        "drumflow": __version__,
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 4),
        "graph": {"path": str(graph.spec.path), "sha256": graph.spec.sha256, "overrides": list(graph.spec.overrides)},
        "out_dir": str(options.out_dir),
        "cache_dir": str(options.cache_dir) if options.cache_dir else None,
        "jobs": jobs,
        "keep_going": options.keep_going,
        "summary": {
            "tracks": len(tracks) + len(not_started),
            "tracks_failed": sum(not t.ok for t in tracks),
            "tracks_not_started": list(not_started),
            "nodes_run": sum(n.status == "ran" for n in nodes),
            "cache_hits": sum(n.status == "cached" for n in nodes),
            "nodes_failed": sum(n.status == "failed" for n in nodes),
            "nodes_skipped": sum(n.status == "skipped" for n in nodes),
            "files_written": sum(len(t.outputs) for t in tracks),
        },
        "tracks": [
            {
                "track": t.track,
                "input": t.input,
                "status": "ok" if t.ok else "failed",
                "seconds": round(t.seconds, 4),
                "error": t.error,
                "nodes": {n.node: {k: (round(v, 4) if k == "seconds" else v) for k, v in asdict(n).items()
                                   if k != "node" and v not in (None, [], "")} for n in t.nodes},
                "outputs": [asdict(o) for o in t.outputs],
            }
            for t in tracks
        ],
    }


# --------------------------------------------------------------------------- dry run


@dataclass
class PlannedNode:
    node: str
    type: str
    action: str  # run | cached | skip (downstream cached) | write
    reason: str = ""
    paths: list[Path] = field(default_factory=list)


def dry_run(graph: Graph, tracks: list[Track], options: RunOptions) -> dict[str, list[PlannedNode]]:
    """What would run and what is cached, per track; reads input files only to hash them."""
    from larsnet.audio import file_sha256

    plan = check_outputs(graph, tracks, options.out_dir)
    cache = Cache(options.cache_dir) if options.cache_dir else None
    out: dict[str, list[PlannedNode]] = {}
    for track in tracks:
        keys = node_keys(graph, file_sha256(track.path))
        rows: list[PlannedNode] = []
        order = execution_order(graph.dag, graph.sinks())
        cached = cached_nodes(graph, keys, cache.has if cache else None)
        to_run = nodes_to_run(graph.dag, graph.sinks(), cached)
        for nid in order:
            if nid == graph.input_name:
                continue
            node = graph.nodes[nid]
            if node.type.sink:
                rows.append(PlannedNode(nid, node.type_name, "write", paths=plan[(track.name, nid)]))
            elif nid in cached:
                rows.append(PlannedNode(nid, node.type_name, "cached"))
            elif nid not in to_run:
                rows.append(PlannedNode(nid, node.type_name, "skip", "everything downstream is cached"))
            else:
                scope = f"{graph.spec.path.resolve()}:{track.name}:{nid}"
                if cache is None:
                    reason = "--no-cache"
                elif not node.type.cacheable:
                    reason = "not cached (cheap)"
                else:
                    reason = why_rerun(cache.last(scope), keys[nid].components)
                rows.append(PlannedNode(nid, node.type_name, "run", reason))
        out[track.name] = rows
    return out


