"""drumflow.templates: one block, several stems, expanded before validation."""
from __future__ import annotations

from pathlib import Path

import pytest

from drumflow.errors import GraphError
from drumflow.spec import load_graph
from drumflow.templates import substitute

from .helpers import write_graph


def test_substitute_keeps_types_and_unbound_fields() -> None:
    v = {"stem": "kick", "hp": 30}
    assert substitute("{hp}", v) == 30
    assert substitute("split.{stem}", v) == "split.kick"
    assert substitute("{track}/{stem}.wav", v) == "{track}/kick.wav"
    assert substitute({"{stem}_x": ["{hp}", 1]}, v) == {"kick_x": [30, 1]}


def test_expansion_with_default_stems_and_per_item_values(tmp_path: Path) -> None:
    spec = load_graph(write_graph(tmp_path, """
        nodes:
          split: {type: separate, in: drums}
        templates:
          plain:
            nodes:
              "g_{stem}": {type: gain, in: "split.{stem}"}
          tuned:
            for:
              - {stem: kick, hp: 30}
              - {stem: snare, hp: 80}
            nodes:
              "eq_{stem}":
                type: fx
                in: "split.{stem}"
                params: {chain: [{plugin: HighpassFilter, cutoff_frequency_hz: "{hp}"}]}
    """))
    assert [n for n in spec.nodes if n.startswith("g_")] == ["g_kick", "g_snare", "g_toms", "g_hihat", "g_cymbals"]
    eq = spec.nodes["eq_snare"]
    assert eq.params.value["chain"][0]["cutoff_frequency_hz"] == 80
    assert eq.inputs[0][1].text == "split.snare"
    assert eq.origin == "template 'tuned' (stem=snare, hp=80)"
    assert eq.where(("chain", 0, "cutoff_frequency_hz")).line == 15
    assert eq.loc.line == 12


@pytest.mark.parametrize("body, message", [
    ("templates:\n  t:\n    for: [kick, snare]\n    nodes:\n      same: {type: gain, in: drums}\n",
     r"node id 'same' is the same for every item"),
    ("templates:\n  t:\n    for: []\n    nodes:\n      'a_{stem}': {type: gain, in: drums}\n", r"'for' must be a non-empty list"),
    ("templates:\n  t:\n    fore: [kick]\n    nodes: {}\n", r"unknown key 'fore' \(did you mean 'for'\?\)"),
    ("templates:\n  t:\n    for: [kick]\n", r"template 't' has no nodes"),
    ("nodes:\n  g_kick: {type: gain, in: drums}\ntemplates:\n  t:\n    for: [kick]\n    nodes:\n"
     "      'g_{stem}': {type: gain, in: drums}\n", r"clashes with a node of the same id"),
])
def test_template_mistakes(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(GraphError, match=message):
        load_graph(write_graph(tmp_path, body))
