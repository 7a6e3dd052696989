"""Clips read from a StemGMD-style folder: which items, which window, which kit status."""
from __future__ import annotations

import numpy as np
import pytest

from larsnet.errors import OptionError
from larsnet.evaluation.sources import KitStatus, folder_clips, kit_key, select_items
from larsnet.stems import SAMPLE_RATE, STEMS


def test_folder_clips_carry_kit_names_and_status(stem_folder):
    clips = folder_clips(stem_folder, clip_seconds=2.0)
    examples = list(clips.examples())
    assert len(clips) == len(examples) == 4
    assert {(e.kit, e.seen) for e in examples} == {("ForzeeStereo", False), ("Train Kit", True)}
    for e in examples:
        assert e.mixture.shape == (2, 2 * SAMPLE_RATE) and e.stems.shape == (len(STEMS), 2, 2 * SAMPLE_RATE)
        np.testing.assert_array_equal(e.mixture, e.stems.sum(0))
        assert e.performance.startswith("drummer") and e.clip_id.endswith(f"/{e.kit}")
    # every kit of a performance is scored on the same window (paired comparison)
    starts = {}
    for e in examples:
        starts.setdefault(e.performance, set()).add(e.start_s)
    assert all(len(s) == 1 for s in starts.values())


def test_windows_are_reproducible_and_move_with_the_seed(stem_folder):
    first = [e.start_s for e in folder_clips(stem_folder, clip_seconds=2.0, seed=3).examples()]
    again = [e.start_s for e in folder_clips(stem_folder, clip_seconds=2.0, seed=3).examples()]
    other = [e.start_s for e in folder_clips(stem_folder, clip_seconds=2.0, seed=4).examples()]
    assert first == again and first != other


def test_whole_items_without_a_clip_length(stem_folder):
    e = next(folder_clips(stem_folder, clip_seconds=None).examples())
    assert e.start_s == 0.0 and e.duration_s > 8.0


def test_kit_and_split_selection(stem_folder):
    for names in (["ForzeeStereo"], ["forzeestereo"]):
        assert {i.kit for i in folder_clips(stem_folder, kits=names).items} == {"forzeestereo"}
    assert {i.kit for i in folder_clips(stem_folder, only_seen=True).items} == {"train_kit"}
    listed = KitStatus(train_kits=("ForzeeStereo",))
    assert {i.kit for i in folder_clips(stem_folder, only_seen=True, kit_status=listed).items} == {"forzeestereo"}
    items = folder_clips(stem_folder, split="validation").items
    assert {i.drummer for i in items} == {"drummer2"} and len(items) == 2
    with pytest.raises(OptionError, match="no stems for kits Nope; kits here: ForzeeStereo, Train Kit"):
        folder_clips(stem_folder, kits=["Nope"])
    with pytest.raises(OptionError, match="clip length must be > 0"):
        folder_clips(stem_folder, clip_seconds=0)


def test_clip_limit_keeps_the_kits_of_a_performance_together(stem_folder):
    items = folder_clips(stem_folder).items
    chosen = select_items(items, 2, seed=0)
    assert len(chosen) == 2 and len({i.performance_path for i in chosen}) == 1
    assert select_items(items, None, seed=0) == items


def test_kit_status():
    default = KitStatus()
    assert not default.seen("AVL Red Zeppelin 4pc") and not default.seen("avl_red_zeppelin_4pc")
    assert default.seen("Black Pearl")
    listed = KitStatus.from_provenance({"train_kits": ["Black Pearl"]})
    assert listed.seen("black_pearl") and not listed.seen("Colombo")
    assert KitStatus.from_provenance({}).train_kits is None
    # what `larsnet train` records: a list with --kits, a sentence without
    assert KitStatus.from_provenance({"kits": ["Colombo"]}).train_kits == ("Colombo",)
    assert KitStatus.from_provenance({"kits": "all installed, not held out"}).train_kits is None
    assert kit_key("AVL Red Zeppelin 4pc") == "avl_red_zeppelin_4pc"


def test_seen_kits_come_from_the_model_provenance_first():
    from larsnet.evaluation.sources import seen_kit_names

    status = KitStatus.from_provenance({"train_kits": ["Black Pearl", "Colombo"]})
    assert seen_kit_names(status) == ["Black Pearl", "Colombo"]
    assert "provenance" in status.describe() and "not held out" in KitStatus().describe()
