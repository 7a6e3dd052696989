"""drumflow.plan: pure functions on bare DiGraphs."""
from __future__ import annotations

import networkx as nx

from drumflow.plan import execution_order, nodes_to_run, skipped_after


def diamond() -> nx.DiGraph:
    #   in -> split -> a -> mix -> out
    #              \-> b -/
    g = nx.DiGraph()
    g.add_edges_from([("in", "split"), ("split", "a"), ("split", "b"), ("a", "mix"), ("b", "mix"), ("mix", "out"),
                      ("split", "side"), ("side", "out2")])
    return g


def test_order_is_topological_and_stable() -> None:
    g = diamond()
    order = execution_order(g)
    assert order == execution_order(g.copy())
    for u, v in g.edges:
        assert order.index(u) < order.index(v)


def test_order_limited_to_what_targets_need() -> None:
    assert execution_order(diamond(), ["out2"]) == ["in", "split", "side", "out2"]
    assert execution_order(diamond(), []) == []


def test_skip_only_dependents_of_a_failure() -> None:
    assert skipped_after(diamond(), "a") == {"mix", "out"}
    assert skipped_after(diamond(), "split") == {"a", "b", "mix", "out", "side", "out2"}


def test_cached_nodes_cut_off_their_upstream() -> None:
    g = diamond()
    assert nodes_to_run(g, ["out"], set()) == {"in", "split", "a", "b", "mix", "out"}
    # mix cached: nothing upstream of it runs
    assert nodes_to_run(g, ["out"], {"mix"}) == {"out"}
    # a changed (not cached), b and split cached: split is loaded, not run
    assert nodes_to_run(g, ["out"], {"split", "b"}) == {"out", "mix", "a"}
