"""drumflow: DAW-style batch pipelines for drum recordings, as YAML graphs.

    drumflow run graphs/remix.yaml            # separate -> per-stem fx -> mix -> export

Python use::

    from drumflow import load_graph, build_graph
    graph = build_graph(load_graph("graphs/remix.yaml", ["split.wiener=1.0"]))
"""
from drumflow.errors import DrumflowError, GraphError
from drumflow.graph import build_graph
from drumflow.ports import Audio, StemSet
from drumflow.spec import load_graph

__version__ = "0.1.0"
__all__ = ["load_graph", "build_graph", "Audio", "StemSet", "DrumflowError", "GraphError", "__version__"]
