"""Per-stem templates: one block of nodes written once, expanded for several stems.

    templates:
      stem_chain:
        for: [kick, snare, toms, hihat, cymbals]    # default: the five stems
        nodes:
          "eq_{stem}":  {type: fx, in: "split.{stem}", params: {chain: [...]}}
          "out_{stem}": {type: export, in: "eq_{stem}", params: {path: "{track}/{stem}.wav"}}

Each ``for`` item binds ``{stem}``; an item may instead be a mapping of several
variables, ``{stem: kick, hp_hz: 30}``, to vary a value per stem. In every string of the
block (node ids, references, params) ``{name}`` of a bound variable is replaced; a
string that is exactly ``"{name}"`` takes the variable's value with its type (so
``cutoff_frequency_hz: "{hp_hz}"`` becomes the number 30). Other braces, like
``{track}`` in export paths, are left for the node. Expansion happens before
validation: errors name the template line and the expanded node.
"""
from __future__ import annotations

import re
from typing import Any

from drumflow.errors import GraphError, did_you_mean
from drumflow.spec import ID_RE, Located, NodeSpec, parse_node

TEMPLATE_KEYS = ("for", "nodes")
_VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _default_stems() -> list[str]:
    from larsnet.stems import STEMS

    return list(STEMS)


def substitute(value: Any, variables: dict[str, Any]) -> Any:
    """Replace ``{var}`` for bound variables in every string of ``value`` (keys too)."""
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole and whole.group(1) in variables:
            return variables[whole.group(1)]
        return _VAR.sub(lambda m: str(variables[m.group(1)]) if m.group(1) in variables else m.group(0), value)
    if isinstance(value, dict):
        return {substitute(k, variables): substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    return value


def _substitute_located(tree: Located, variables: dict[str, Any]) -> Located:
    def path(p: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(substitute(k, variables) if isinstance(k, str) else k for k in p)

    return Located(
        substitute(tree.value, variables),
        {path(p): loc for p, loc in tree.locs.items()},
        {path(p): loc for p, loc in tree.key_locs.items()},
    )


def _bindings(name: str, tree: Located) -> list[dict[str, Any]]:
    raw = tree.value.get("for")
    if raw is None:
        return [{"stem": s} for s in _default_stems()]
    if not isinstance(raw, list) or not raw:
        raise GraphError(f"template '{name}': 'for' must be a non-empty list", loc=tree.loc(("for",)),
                         hint="e.g. for: [kick, snare] or for: [{stem: kick, hp_hz: 30}]")
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, (str, int, float)):
            out.append({"stem": item})
        elif isinstance(item, dict) and item and all(isinstance(k, str) and ID_RE.match(k) for k in item):
            out.append(dict(item))
        else:
            raise GraphError(f"template '{name}': bad 'for' item {item!r}", loc=tree.loc(("for", i)),
                             hint="use a stem name or a mapping of variables like {stem: kick, gain_db: -3}")
    return out


def expand_templates(root: Located) -> list[NodeSpec]:
    """All template nodes of a parsed graph file, expanded, in file order."""
    raw = root.value.get("templates")
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise GraphError("'templates' must map template names to {for, nodes}", loc=root.loc(("templates",)))
    nodes: list[NodeSpec] = []
    for name in raw:
        tree = root.sub(("templates", name))
        if not isinstance(tree.value, dict):
            raise GraphError(f"template '{name}' must be a mapping with 'for' and 'nodes'", loc=tree.loc())
        for key in tree.value:
            if key not in TEMPLATE_KEYS:
                raise GraphError(f"template '{name}': unknown key {key!r}", loc=tree.loc((key,), key=True),
                                 hint=did_you_mean(key, TEMPLATE_KEYS) or "a template has 'for' and 'nodes'")
        body = tree.value.get("nodes")
        if not isinstance(body, dict) or not body:
            raise GraphError(f"template '{name}' has no nodes", loc=tree.loc(("nodes",)) or tree.loc(),
                             hint="add nodes: {\"fx_{stem}\": {type: fx, in: \"split.{stem}\", ...}}")
        for variables in _bindings(name, tree):
            label = ", ".join(f"{k}={v}" for k, v in variables.items())
            for raw_id in body:
                node_tree = _substitute_located(tree.sub(("nodes", raw_id)), variables)
                node_id = substitute(raw_id, variables)
                key_loc = tree.loc(("nodes", raw_id), key=True)
                if node_id == raw_id and len(_bindings(name, tree)) > 1:
                    raise GraphError(f"template '{name}': node id '{raw_id}' is the same for every item",
                                     loc=key_loc, hint=f"put a variable in it, e.g. \"{raw_id}_{{stem}}\"")
                nodes.append(parse_node(node_id, node_tree, key_loc, origin=f"template '{name}' ({label})"))
    return nodes
