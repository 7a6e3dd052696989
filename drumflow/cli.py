"""The ``drumflow`` command: a thin click layer over spec/graph/plan/runner.

``main`` is the one place where exceptions become exit codes (see
:mod:`drumflow.errors`): user errors print one line per problem, naming file, line,
node and the fix; tracebacks only with ``--debug`` (accepted anywhere on the line).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from drumflow.errors import EXIT_FAILED, EXIT_OK, DrumflowError, GraphErrors, exit_code_for


def _echo_err(msg: str) -> None:
    click.echo(msg, err=True)


def _load(graph_file: str, overrides: tuple[str, ...], inputs: tuple[str, ...] = ()):
    from drumflow.graph import build_graph
    from drumflow.spec import load_graph, with_inputs

    spec = with_inputs(load_graph(graph_file, overrides), inputs, Path.cwd())
    return build_graph(spec)


def _warn(graph, quiet: bool) -> None:
    if not quiet:
        for w in graph.warnings:
            _echo_err(f"warning: {w}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors (accepted anywhere on the line).")
def cli(debug: bool) -> None:
    """drumflow: run YAML processing graphs over drum recordings.

    Quick start: drumflow run graphs/remix.yaml
    """


@cli.command()
@click.argument("graph_file", metavar="GRAPH", type=click.Path(dir_okay=False))
@click.argument("inputs", nargs=-1, metavar="[INPUTS]...")
@click.option("--set", "overrides", multiple=True, metavar="NODE.PARAM=VALUE",
              help="Override a parameter (repeatable), e.g. --set split.wiener=1.0 or --set kick_fx.chain.1.ratio=6.")
@click.option("--out", "out_dir", default="out", show_default=True, type=click.Path(file_okay=False),
              help="Output folder; export paths are relative to it.")
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(min=1),
              help="Tracks processed in parallel (local process pool).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write cached node results.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Cache folder [default: $DRUMFLOW_CACHE or OUT/.drumflow-cache].")
@click.option("--dry-run", is_flag=True, help="Print what would run, what is cached and what would be written.")
@click.option("--keep-going/--fail-fast", default=True, show_default=True,
              help="On a failure, go on with everything that does not depend on it, or stop at once.")
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False), default=None,
              help="Where to write the run manifest [default: OUT/manifests/<time>-<graph>.json].")
@click.option("--report", is_flag=True,
              help="Also write OUT/report.html: graph, players, waveforms, spectrograms, levels, timings, errors.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars and no summary, only errors.")
@click.option("--debug", is_flag=True, hidden=True)
def run(graph_file: str, inputs: tuple[str, ...], overrides: tuple[str, ...], out_dir: str, jobs: int,
        no_cache: bool, cache_dir: str | None, dry_run: bool, keep_going: bool, manifest_path: str | None,
        report: bool, quiet: bool, debug: bool) -> int:
    """Run GRAPH over INPUTS (files, folders, globs; default: the graph's inputs or the demo loop)."""
    from drumflow.cache import default_root
    from drumflow.executors import make_executor
    from drumflow.runner import RunOptions, dry_run as plan_dry_run, run_graph
    from drumflow.tracks import find_tracks

    graph = _load(graph_file, overrides, inputs)
    _warn(graph, quiet)
    tracks = find_tracks(graph.spec.inputs[graph.input_name])
    out = Path(out_dir)
    cache_root = None if no_cache else (Path(cache_dir) if cache_dir else default_root(out))
    options = RunOptions(out, cache_root, keep_going=keep_going)
    if dry_run:
        for track, rows in plan_dry_run(graph, tracks, options).items():
            click.echo(f"track {track}:")
            width = max(len(r.node) for r in rows)
            for r in rows:
                detail = ", ".join(str(p) for p in r.paths) if r.action == "write" else r.reason
                click.echo(f"  {r.node:<{width}}  {r.type:<9}  {r.action:<6}  {detail}".rstrip())
        return EXIT_OK
    bars = _Progress(len(tracks), graph, jobs, enabled=not quiet)
    try:
        result = run_graph(graph, tracks, options, executor=make_executor(jobs),
                           manifest_path=Path(manifest_path) if manifest_path else None,
                           on_track=bars.track_done, on_node=bars.node_done)
    finally:
        bars.close()
    failures = [(t, n) for t in result.tracks for n in t.failures()]
    for t in result.tracks:
        if t.error:
            _echo_err(f"error: track '{t.track}': {t.error}")
    for t, n in failures:
        _echo_err(f"error: track '{t.track}': node '{n.node}' ({n.type}): {n.error}")
        if debug and n.traceback:
            _echo_err(n.traceback)
    s = result.manifest["summary"]
    if not quiet:
        bad = s["tracks_failed"] + len(s["tracks_not_started"])
        click.echo(f"{s['tracks']} track(s): {s['tracks'] - bad} ok, {s['tracks_failed']} failed"
                   + (f", {len(s['tracks_not_started'])} not started" if s["tracks_not_started"] else "")
                   + f"; {s['nodes_run']} node(s) ran, {s['cache_hits']} cached; "
                   f"{s['files_written']} file(s) written under {out}", err=True)
        click.echo(f"manifest: {result.manifest_path}", err=True)
    ok = result.ok and not s["tracks_not_started"]
    if report:
        from drumflow.report import write_report

        if cache_root is None and not quiet:
            _echo_err("note: --no-cache: the report shows outputs only (stems are read from the cache)")
        try:
            page = write_report(graph, result.manifest, out, cache_dir=cache_root)
        except Exception as exc:  # noqa: BLE001 - the run itself is done; say what failed
            if debug:
                raise
            _echo_err(f"error: cannot write the report: {type(exc).__name__}: {exc}")
            return EXIT_FAILED
        if not quiet:
            click.echo(f"report: {page}", err=True)
    return EXIT_OK if ok else EXIT_FAILED


class _Progress:
    """tqdm bars: tracks, and nodes of the current track (in-process runs)."""

    def __init__(self, tracks: int, graph, jobs: int, enabled: bool):
        self.enabled = enabled
        self.tracks = self.nodes = None
        if not enabled:
            return
        from tqdm import tqdm

        self.tracks = tqdm(total=tracks, desc="tracks", unit="track", position=0, leave=False, file=sys.stderr)
        if jobs == 1:
            per = sum(1 for n in graph.nodes.values())
            self.nodes = tqdm(total=per, desc="nodes", unit="node", position=1, leave=False, file=sys.stderr)

    def node_done(self, node_id: str) -> None:
        if self.nodes is not None:
            self.nodes.set_postfix_str(node_id, refresh=False)
            self.nodes.update()

    def track_done(self, track) -> None:
        if self.tracks is not None:
            self.tracks.update()
        if self.nodes is not None:
            self.nodes.reset()

    def close(self) -> None:
        for bar in (self.nodes, self.tracks):
            if bar is not None:
                bar.close()


@cli.command()
@click.argument("graph_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="NODE.PARAM=VALUE", help="Override a parameter.")
@click.option("--debug", is_flag=True, hidden=True)
def validate(graph_file: str, overrides: tuple[str, ...], debug: bool) -> int:
    """Check a graph file without touching audio: types, params, references, cycles, paths."""
    graph = _load(graph_file, overrides)
    _warn(graph, False)
    n_edges = graph.dag.number_of_edges()
    desc = f" — {graph.spec.description}" if graph.spec.description else ""
    click.echo(f"{graph_file}: ok, {len(graph.nodes)} nodes, {n_edges} edges, "
               f"{len(graph.warnings)} warning(s){desc}")
    return EXIT_OK


@cli.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def nodes(name: str | None, as_json: bool) -> int:
    """List node types with their ports and parameters (or one type, e.g. `drumflow nodes fx`)."""
    from drumflow.errors import did_you_mean
    from drumflow.registry import default_registry

    reg = default_registry()
    names = reg.names()
    if name:
        if name not in reg.types:
            raise click.UsageError(f"no node type '{name}' ({did_you_mean(name, names) or 'see drumflow nodes'})")
        names = [name]
    docs = [_describe(reg.types[n], reg.sources.get(n, "")) for n in names]
    if as_json:
        click.echo(json.dumps(docs, indent=2, default=str))
        return EXIT_OK
    for d in docs:
        click.echo(f"{d['name']}  (v{d['version']}, {d['source']})\n  {d['description']}")
        ins = ", ".join(f"{p['name']}: {p['type']}" for p in d["inputs"]) or "-"
        if d["variadic"]:
            ins = f"any named inputs: {d['variadic']}"
        click.echo(f"  in:  {ins}")
        outs = ", ".join(f"{p['name']}: {p['type']}" for p in d["outputs"]) or "- (writes files)"
        click.echo(f"  out: {outs}")
        for p in d["params"]:
            click.echo(f"    {p['name']}: {p['type']} = {p['default']}  {p['description']}".rstrip())
        if d["name"] == "fx" and name:
            from drumflow.nodes.fx import builtin_plugins

            click.echo("  built-in plugins:")
            for plugin in builtin_plugins().values():
                params = ", ".join(f"{p.name}={p.default if not p.required else '<required>'}" for p in plugin.params.values())
                click.echo(f"    {plugin.name}({params})")
        click.echo("")
    for broken, why in sorted(reg.broken.items()):
        click.echo(f"{broken}  BROKEN: {why}", err=True)
    return EXIT_OK


def _describe(node_type, source: str) -> dict:
    return {
        "name": node_type.name, "version": node_type.version, "description": node_type.description, "source": source,
        "inputs": [{"name": p.name, "type": p.type_name(), "description": p.description} for p in node_type.inputs],
        "variadic": node_type.variadic.name if node_type.variadic else None,
        "outputs": [{"name": p.name, "type": p.type_name(), "description": p.description} for p in node_type.outputs],
        "params": [dict(zip(("name", "type", "default", "description"), row)) for row in node_type.describe_params()],
    }


@cli.command("graph")
@click.argument("graph_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "png"]), default="mermaid", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write here instead of stdout (required for png; default FILE-stem.png).")
@click.option("--set", "overrides", multiple=True, metavar="NODE.PARAM=VALUE")
def graph_cmd(graph_file: str, fmt: str, output: str | None, overrides: tuple[str, ...]) -> int:
    """Draw the DAG as Mermaid or DOT text, or as a PNG."""
    from drumflow import draw
    from drumflow.graph import build_graph
    from drumflow.spec import load_graph

    graph = build_graph(load_graph(graph_file, overrides))
    if fmt == "png":
        target = Path(output or Path(graph_file).with_suffix(".png").name)
        backend = draw.to_png(graph, target)
        click.echo(f"wrote {target} ({backend})", err=True)
        return EXIT_OK
    text = draw.to_mermaid(graph) if fmt == "mermaid" else draw.to_dot(graph)
    if output:
        Path(output).write_text(text)
    else:
        click.echo(text, nl=False)
    return EXIT_OK


@cli.group()
def cache() -> None:
    """Inspect or empty the node-result cache."""


def _cache_root(out_dir: str, cache_dir: str | None) -> Path:
    from drumflow.cache import default_root

    return Path(cache_dir) if cache_dir else default_root(Path(out_dir))


_cache_opts = [
    click.option("--out", "out_dir", default="out", show_default=True, help="The run's output folder."),
    click.option("--cache-dir", default=None, help="Cache folder [default: $DRUMFLOW_CACHE or OUT/.drumflow-cache]."),
]


def _with_cache_opts(f):
    for opt in reversed(_cache_opts):
        f = opt(f)
    return f


@cache.command("info")
@_with_cache_opts
def cache_info(out_dir: str, cache_dir: str | None) -> int:
    """Where the cache is, how many entries, how big."""
    from drumflow.cache import Cache

    info = Cache(_cache_root(out_dir, cache_dir)).info()
    click.echo(f"{info.root}: {info.entries} entries, {info.bytes / 1e6:.1f} MB")
    return EXIT_OK


@cache.command("clear")
@_with_cache_opts
def cache_clear(out_dir: str, cache_dir: str | None) -> int:
    """Delete every cached node result."""
    from drumflow.cache import Cache

    c = Cache(_cache_root(out_dir, cache_dir))
    n = c.clear()
    click.echo(f"{c.root}: removed {n} entries")
    return EXIT_OK


@cli.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write here instead of stdout.")
def schema(output: str | None) -> int:
    """Print the JSON Schema of graph files (for editor completion)."""
    from drumflow.schema import graph_schema

    text = json.dumps(graph_schema(), indent=2) + "\n"
    if output:
        Path(output).write_text(text)
    else:
        click.echo(text, nl=False)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code instead of raising."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("DRUMFLOW_DEBUG") == "1"
    try:
        result = cli.main(args=args, prog_name="drumflow", standalone_mode=False)
    except click.exceptions.Abort:
        _echo_err("aborted")
        return exit_code_for(KeyboardInterrupt())
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except GraphErrors as exc:
        if debug:
            raise
        for e in exc.errors:
            _echo_err(f"error: {e}")
        return exc.exit_code
    except KeyboardInterrupt:
        _echo_err("interrupted")
        return exit_code_for(KeyboardInterrupt())
    except Exception as exc:  # noqa: BLE001 - one line unless --debug
        if debug:
            raise
        known = isinstance(exc, DrumflowError) or type(exc).__module__.startswith("larsnet")
        msg = str(exc) if known else f"{type(exc).__name__}: {exc} (run with --debug for the traceback)"
        _echo_err(f"error: {msg}")
        return exit_code_for(exc) if known else EXIT_FAILED
    return result if isinstance(result, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
