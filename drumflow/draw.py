"""Pictures of a graph: Mermaid and Graphviz DOT text, SVG (for the run report) and PNG.

PNG goes through Graphviz's ``dot`` program when it is on PATH (best layout; Debian
package ``graphviz``), else matplotlib if it is installed (``pip install matplotlib``;
layered layout by topological generation). Neither is a hard dependency: the text
formats always work, and the PNG error says what to install.
"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import networkx as nx

from drumflow.errors import DrumflowError
from drumflow.graph import Graph


class DrawError(DrumflowError):
    exit_code = 2


def _label(graph: Graph, nid: str) -> str:
    if nid == graph.input_name:
        return f"{nid}\\n(input)"
    node = graph.nodes[nid]
    return f"{nid}\\n{node.type_name}"


def _edges(graph: Graph) -> list[tuple[str, str, str]]:
    out = []
    for u, v, data in sorted(graph.dag.edges(data=True)):
        label = ", ".join(sp if sp == dp or dp == "in" else f"{sp}→{dp}" for sp, dp in data["ports"])
        out.append((u, v, "" if label == "out" else label))
    return out


def to_mermaid(graph: Graph) -> str:
    lines = ["flowchart LR"]
    for nid in nx.lexicographical_topological_sort(graph.dag):
        text = _label(graph, nid).replace("\\n", "<br/>")
        if nid == graph.input_name:
            lines.append(f'  {nid}(["{text}"])')
        elif graph.nodes[nid].type.sink:
            lines.append(f'  {nid}[/"{text}"/]')
        else:
            lines.append(f'  {nid}["{text}"]')
    for u, v, label in _edges(graph):
        lines.append(f"  {u} -->|{label}| {v}" if label else f"  {u} --> {v}")
    return "\n".join(lines) + "\n"


def to_dot(graph: Graph) -> str:
    lines = [f'digraph "{graph.spec.path.stem}" {{', "  rankdir=LR;",
             '  node [shape=box, style="rounded", fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    for nid in nx.lexicographical_topological_sort(graph.dag):
        shape = ""
        if nid == graph.input_name:
            shape = ", shape=ellipse"
        elif graph.nodes[nid].type.sink:
            shape = ", shape=note"
        lines.append(f'  "{nid}" [label="{_label(graph, nid)}"{shape}];')
    for u, v, label in _edges(graph):
        lines.append(f'  "{u}" -> "{v}"' + (f' [label="{label}"];' if label else ";"))
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_svg(graph: Graph) -> str | None:
    """The graph as an inline ``<svg>`` element via Graphviz ``dot``; None without Graphviz."""
    if not shutil.which("dot"):
        return None
    done = subprocess.run(["dot", "-Tsvg"], input=to_dot(graph), text=True, capture_output=True, check=False)
    start = done.stdout.find("<svg")
    if done.returncode != 0 or start < 0:
        return None
    return done.stdout[start:]


def png_backend() -> str | None:
    if shutil.which("dot"):
        return "graphviz"
    return "matplotlib" if importlib.util.find_spec("matplotlib") is not None else None


def to_png(graph: Graph, path: Path, backend: str | None = None) -> str:
    """Write a PNG; returns the backend used. Raises :class:`DrawError` if there is none."""
    backend = backend or png_backend()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if backend == "graphviz":
        done = subprocess.run(["dot", "-Tpng", "-o", str(path)], input=to_dot(graph), text=True,
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise DrawError(f"graphviz dot failed: {done.stderr.strip() or done.returncode}")
        return backend
    if backend == "matplotlib":
        _png_matplotlib(graph, path)
        return backend
    raise DrawError("no PNG renderer: install Graphviz (apt install graphviz) or matplotlib "
                    "(pip install matplotlib), or use --format mermaid|dot")


def _png_matplotlib(graph: Graph, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dag = graph.dag
    for layer, nodes in enumerate(nx.topological_generations(dag)):
        for n in nodes:
            dag.nodes[n]["layer"] = layer
    pos = nx.multipartite_layout(dag, subset_key="layer")
    width = 2.2 * (max(d["layer"] for _, d in dag.nodes(data=True)) + 1)
    fig, ax = plt.subplots(figsize=(max(6.0, width), max(3.0, 0.9 * max(len(g) for g in nx.topological_generations(dag)))))
    nx.draw_networkx_edges(dag, pos, ax=ax, arrows=True, arrowsize=12, node_size=2600)
    labels = {n: _label(graph, n).replace("\\n", "\n") for n in dag.nodes}
    nx.draw_networkx_labels(dag, pos, labels, ax=ax, font_size=8,
                            bbox={"boxstyle": "round", "fc": "#eef3fb", "ec": "#4a6fa5"})
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
