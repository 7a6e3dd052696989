import pytest
import torch

from larsnet.bandnet import BandUNet
from larsnet.errors import CheckpointError
from larsnet.model import ModelConfig
from larsnet.train.averaging import average_models, load_any

SMALL = {"width": 4, "depth": 2, "bands": 64, "full_res_bins": 16}


def _model(seed: int, **params) -> BandUNet:
    torch.manual_seed(seed)
    model = BandUNet(ModelConfig(arch="band_unet", arch_params={**SMALL, **params}))
    model.train().band_masks(torch.rand(2, 2, 2048, 16))  # move the BatchNorm statistics off their initial values
    return model.eval()


def test_average_is_the_mean_of_weights_and_statistics():
    a, b = _model(0), _model(1)
    mean = average_models([a, b])
    for key, value in mean.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, (a.state_dict()[key] + b.state_dict()[key]) / 2)
        else:
            assert torch.equal(value, a.state_dict()[key])
    assert not mean.training


def test_average_of_one_model_separates_like_it():
    a = _model(0)
    mag = torch.rand(1, 2, 2048, 16)
    torch.testing.assert_close(average_models([a]).masks(mag), a.masks(mag))


def test_refuses_checkpoints_of_other_architectures():
    with pytest.raises(CheckpointError, match="another architecture"):
        average_models([_model(0), _model(0, width=8)], ["a.pt", "b.pt"])


def test_missing_checkpoint_is_one_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_any(tmp_path / "nope.pt")
