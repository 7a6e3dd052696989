from pathlib import Path

import pytest
import torch

from larsnet.checkpoint import (
    DEFAULT_MODEL_PATH,
    convert_official,
    load_model_file,
    load_official,
    resolve_model,
    save_model,
)
from larsnet.errors import CheckpointError
from larsnet.model import LarsNet, ModelConfig
from larsnet.stems import STEMS
from larsnet.unet import UNet

from tests.larsnet.helpers import tiny_model


def write_official_release(root: Path, seed: int = 0) -> dict[str, dict]:
    """The authors' layout: training-checkpoint dicts with optimizer state, one per stem."""
    states = {}
    for i, stem in enumerate(STEMS):
        torch.manual_seed(seed + i)
        unet = UNet()
        optimizer = torch.optim.Adam(unet.parameters(), lr=1e-4)
        for param in unet.parameters():  # a real step, so the optimizer state is not empty
            param.grad = torch.randn_like(param) * 1e-3
        optimizer.step()
        folder = root / "pretrained_larsnet_models" / stem
        folder.mkdir(parents=True)
        checkpoint = {
            "epoch": 22,
            "model_state_dict": unet.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(),
            "train_loss": 0.01,
            "val_loss": 0.02,
            "val_sdr": 7.5,
        }
        torch.save(checkpoint, folder / f"pretrained_{stem}_unet.pth")
        states[stem] = unet.state_dict()
    return states


def test_official_release_loads_strictly_and_unchanged(tmp_path):
    states = write_official_release(tmp_path)
    model = load_official(tmp_path)
    for stem in STEMS:
        for key, value in states[stem].items():
            assert torch.equal(model.unets[stem].state_dict()[key], value), (stem, key)
    # the inner folder works too, and resolve_model treats folders as official releases
    assert isinstance(load_official(tmp_path / "pretrained_larsnet_models"), LarsNet)
    assert isinstance(resolve_model(tmp_path), LarsNet)


def test_convert_official_is_one_file_with_the_same_weights(tmp_path):
    states = write_official_release(tmp_path / "release")
    out = convert_official(tmp_path / "release", tmp_path / "larsnet.pt")
    model = load_model_file(out)
    assert model.config == ModelConfig()
    assert "CC BY-NC" in model.license
    assert torch.equal(model.unets["toms"].enc3.conv.weight, states["toms"]["enc3.conv.weight"])


def test_our_format_round_trips_and_describes_itself(tmp_path):
    model = tiny_model(width=2)
    path = save_model(model, tmp_path / "m.pt", license="CC0-1.0", provenance={"run": "t1"})
    payload = torch.load(path, weights_only=True)
    assert payload["config"]["arch"] == "larsnet" and payload["config"]["n_fft"] == 4096
    assert payload["config"]["arch_params"] == {"width": 2}
    loaded = load_model_file(path)
    assert loaded.license == "CC0-1.0" and loaded.provenance == {"run": "t1"}
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_half_precision_files_are_half_the_size(tmp_path):
    model = tiny_model(width=4)
    full = save_model(model, tmp_path / "full.pt")
    half = save_model(model, tmp_path / "half.pt", half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded = load_model_file(half)
    assert loaded.unets["kick"].enc1.conv.weight.dtype == torch.float32


def test_wrong_shapes_are_named(tmp_path):
    write_official_release(tmp_path)
    path = tmp_path / "pretrained_larsnet_models" / "snare" / "pretrained_snare_unet.pth"
    checkpoint = torch.load(path, weights_only=False)
    checkpoint["model_state_dict"]["enc2.conv.weight"] = torch.zeros(32, 16, 3, 3)
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match=r"snare U-Net .*wrong shapes enc2\.conv\.weight \(32, 16, 3, 3\)"):
        load_official(tmp_path)


def test_missing_and_unexpected_keys_are_named(tmp_path):
    write_official_release(tmp_path)
    path = tmp_path / "pretrained_larsnet_models" / "kick" / "pretrained_kick_unet.pth"
    checkpoint = torch.load(path, weights_only=False)
    state = checkpoint["model_state_dict"]
    state["extra.weight"] = state.pop("mask_layer.0.weight")
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match=r"missing keys mask_layer\.0\.weight; unexpected keys extra\.weight"):
        load_official(tmp_path)


def test_incomplete_release_says_what_is_missing(tmp_path):
    write_official_release(tmp_path)
    (tmp_path / "pretrained_larsnet_models" / "toms" / "pretrained_toms_unet.pth").unlink()
    with pytest.raises(CheckpointError, match="missing pretrained_larsnet_models/toms/pretrained_toms_unet.pth"):
        load_official(tmp_path)


def test_files_that_would_run_code_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "larsnet-model", "payload": Evil()}, path)
    with pytest.raises(CheckpointError, match="weights-only"):
        load_model_file(path)


def test_corrupt_and_foreign_files(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="junk.pt: cannot be read"):
        load_model_file(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(1)}, other)
    with pytest.raises(CheckpointError, match="not a larsnet model file"):
        load_model_file(other)
    with pytest.raises(CheckpointError, match="no such model file"):
        resolve_model(tmp_path / "nope.pt")


def test_tampered_weights_fail_the_checksum(tmp_path):
    path = save_model(tiny_model(), tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["unets.kick.enc1.conv.bias"] += 1
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="sha256"):
        load_model_file(path)


def test_default_model_is_either_embedded_or_clearly_missing():
    if DEFAULT_MODEL_PATH.exists():
        assert resolve_model("default").stems == STEMS
    else:
        with pytest.raises(CheckpointError, match="embedded default model is missing"):
            resolve_model("default")
