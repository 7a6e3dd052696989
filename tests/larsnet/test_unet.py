import pytest
import torch

from larsnet.unet import UNet


def test_published_size_and_state_dict_layout():
    unet = UNet()
    state = unet.state_dict()
    assert sum(p.numel() for p in unet.parameters()) == 9_828_680
    assert len(state) == 91
    for key in ("input_norm.running_mean", "enc1.conv.weight", "enc6.bn.running_var",
                "dec1.conv_trans.weight", "dec6.bn.weight", "mask_layer.0.weight"):
        assert key in state
    assert state["input_norm.weight"].shape == (2048,)
    assert state["dec1.conv_trans.weight"].shape == (512, 256, 5, 5)  # ConvTranspose: (in, out, k, k)
    assert state["dec2.conv_trans.weight"].shape == (512, 128, 5, 5)
    assert state["dec6.conv_trans.weight"].shape == (32, 2, 5, 5)
    assert state["mask_layer.0.weight"].shape == (2, 2, 4, 4)


def test_mask_shape_and_range():
    unet = UNet(width=2).eval()
    mask = unet(torch.rand(1, 2, 2048, 64))
    assert mask.shape == (1, 2, 2048, 64)
    assert float(mask.min()) >= 0 and float(mask.max()) <= 1


def test_n_bins_must_divide_by_64():
    with pytest.raises(ValueError, match="multiple of 64"):
        UNet(n_bins=1000)
