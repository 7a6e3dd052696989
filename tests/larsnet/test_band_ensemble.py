"""BandEnsemble: one file separating with the mean of several band models' masks.

Users rely on: the ensemble's stems being the mean of its members' stems (share masks
with alpha-Wiener 1, so masks average linearly); members of different depths combining;
the file loading like any other model; and a clear refusal for models that cannot be
averaged at band resolution."""
import numpy as np
import pytest
import torch

from larsnet.band_ensemble import BandEnsemble, ensemble_of
from larsnet.bandnet import BandUNet
from larsnet.checkpoint import load_model_file, save_model
from larsnet.cli import main
from larsnet.model import LarsNet, ModelConfig
from larsnet.separator import Separator

SMALL = {"width": 4, "depth": 2, "bands": 64, "full_res_bins": 16, "shares": True}


def _band(seed: int, **params) -> BandUNet:
    torch.manual_seed(seed)
    model = BandUNet(ModelConfig(arch="band_unet", arch_params={**SMALL, **params}))
    model.train().band_masks(torch.rand(2, 2, 2048, 16))  # BatchNorm statistics away from their defaults
    return model.eval()


def test_masks_are_the_mean_of_members_of_different_depths():
    a, b = _band(0), _band(1, depth=3, width=6)
    ensemble = ensemble_of([a, b])
    assert ensemble.time_multiple == 8
    mag = torch.rand(1, 2, 2048, 16)
    with torch.no_grad():
        torch.testing.assert_close(ensemble.band_masks(mag), (a.band_masks(mag) + b.band_masks(mag)) / 2)
        torch.testing.assert_close(ensemble.masks(mag).sum(1), torch.ones(1, 2, 2048, 16), atol=1e-5, rtol=0)
    assert ensemble.masks_sum_to_one


def test_stems_are_the_mean_of_the_members_stems_and_sum_to_the_mixture():
    # one depth: the members see the same padded time grid alone and together
    a, b = _band(0), _band(1, width=6)
    mixture = np.random.default_rng(0).standard_normal((2, 44100 * 3)).astype(np.float32) * 0.1
    stems = [Separator(m).separate(mixture, wiener=1.0) for m in (a, b)]
    together = Separator(ensemble_of([a, b])).separate(mixture, wiener=1.0)
    for stem, audio in together.items():
        np.testing.assert_allclose(audio, (stems[0][stem] + stems[1][stem]) / 2, atol=2e-5)
    total = sum(together.values())
    assert abs(10 * np.log10(np.mean(total**2) / np.mean(mixture**2))) < 0.1  # issue 4: within 0.1 dB


def test_cli_writes_a_file_that_loads_and_nests_flat(tmp_path):
    a_path, b_path = save_model(_band(0), tmp_path / "a.pt"), save_model(_band(1, depth=3), tmp_path / "b.pt")
    assert main(["ensemble", str(tmp_path / "ab.pt"), str(a_path), str(b_path), "--full"]) == 0
    loaded = load_model_file(tmp_path / "ab.pt")
    assert isinstance(loaded, BandEnsemble) and len(loaded.members) == 2
    assert [p["source"] for p in loaded.provenance["ensemble_of"]] == [str(a_path), str(b_path)]
    mag = torch.rand(1, 2, 2048, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded.band_masks(mag), ensemble_of([_band(0), _band(1, depth=3)]).band_masks(mag))
    # an ensemble of an ensemble and a model holds three members, not a nested ensemble
    assert main(["ensemble", str(tmp_path / "abc.pt"), str(tmp_path / "ab.pt"), str(a_path)]) == 0
    assert len(load_model_file(tmp_path / "abc.pt").members) == 3


def test_refuses_models_without_a_common_band_layout(tmp_path, capsys):
    with pytest.raises(ValueError, match="must share bands"):
        ensemble_of([_band(0), _band(1, bands=128)])
    with pytest.raises(ValueError, match="only band_unet"):
        ensemble_of([_band(0), LarsNet(ModelConfig(arch_params={"width": 2}))])
    paths = [save_model(_band(0), tmp_path / "a.pt"), save_model(_band(0, shares=False), tmp_path / "b.pt")]
    assert main(["ensemble", str(tmp_path / "x.pt"), *map(str, paths)]) == 2
    err = capsys.readouterr().err
    assert "cannot ensemble" in err and "Traceback" not in err
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.parametrize("command", ["ensemble", "average"])
def test_the_file_lists_every_members_training_kits_for_seen_kit_evaluation(tmp_path, command):
    from larsnet.evaluation.sources import KitStatus

    kits = [{"kits": ["Kit A", "Kit B"]}, {"kits": ["Kit B", "Kit C"], "augmentation": {"metal_tilt": 0.5}}, {}]
    paths = [save_model(_band(i), tmp_path / f"{n}.pt", provenance=kits[i]) for i, n in enumerate("abc")]
    assert main([command, str(tmp_path / "ab.pt"), str(paths[0]), str(paths[1])]) == 0
    provenance = load_model_file(tmp_path / "ab.pt").provenance
    status = KitStatus.from_provenance(provenance)
    assert status.train_kits == ("Kit A", "Kit B", "Kit C") and not status.seen("ForzeeStereo")
    # every member's own record is kept, the second's augmentation included
    members = provenance["ensemble_of" if command == "ensemble" else "averaged_from"]
    assert [m["source"] for m in members] == [str(paths[0]), str(paths[1])]
    assert members[1]["augmentation"] == {"metal_tilt": 0.5} and "augmentation" not in members[0]
    # a member with no list: the result claims none either
    assert main([command, str(tmp_path / "ac.pt"), str(paths[0]), str(paths[2])]) == 0
    assert "train_kits" not in load_model_file(tmp_path / "ac.pt").provenance
