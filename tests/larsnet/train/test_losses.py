import pytest
import torch

from larsnet.bandnet import BandUNet
from larsnet.model import ModelConfig
from larsnet.stft import Stft
from larsnet.train.losses import BandProjection, band_energy, band_nsdr_loss, spectral_leak, spectral_nsdr


@pytest.fixture
def setting():
    torch.manual_seed(0)
    model = BandUNet(ModelConfig(arch="band_unet", arch_params={"width": 4, "depth": 2, "bands": 64,
                                                                "full_res_bins": 16})).eval()
    stft = Stft()
    stems = torch.randn(2, 5, 2, 63 * 1024) * 0.05
    stems[0, 2] = 0  # toms absent in the first example
    spec = stft.forward(stems)[..., :2048, :64]
    return model, spec, spec.sum(1)


def test_band_projection_gives_the_bin_sums_exactly(setting):
    model, spec, mix = setting
    band = model.band_masks(mix.abs())
    bins = model.masks(mix.abs())
    projection = BandProjection(model.lower, model.weight, 64)
    p = (spec * mix.conj()[:, None]).real
    q = mix.abs().square()
    a, d = projection.quadratic(q)
    torch.testing.assert_close((band * projection.linear(p)).sum(), (bins * p).sum(), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(band_energy(band, a[:, None], d[:, None]).sum(), (bins.square() * q[:, None]).sum(),
                               rtol=1e-4, atol=1e-6)


def test_band_nsdr_equals_the_bin_resolution_nsdr(setting):
    model, spec, mix = setting
    present = torch.ones(2, 5, dtype=torch.bool)
    present[0, 2] = False
    projection = BandProjection(model.lower, model.weight, 64)
    cross = (spec * mix.conj()[:, None]).real
    a, d = projection.quadratic(mix.abs().square())
    _, fast, leak = band_nsdr_loss(model.band_masks(mix.abs()), spec.abs().square().flatten(2).sum(-1),
                                   projection.linear(cross), a, d, mix.abs().square().flatten(1).sum(-1), present)
    slow = spectral_nsdr(model.masks(mix.abs()), spec.abs().square().flatten(2).mean(-1), cross,
                         mix.abs().square(), present)
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-4)
    assert 0 < float(leak) < 1  # half-open masks leak a share of the mixture into the absent stem
    # the bin-resolution leak (five-U-Net LarsNet's loss) is the same quantity
    torch.testing.assert_close(spectral_leak(model.masks(mix.abs()), mix.abs().square(), present), leak,
                               rtol=1e-4, atol=1e-6)
    assert float(spectral_leak(model.masks(mix.abs()), mix.abs().square(), torch.ones(2, 5, dtype=torch.bool))) == 0


def test_perfect_masks_score_high_and_silence_scores_zero():
    target = torch.zeros(1, 2, 1, 4, 3)
    target[0, 0] = 1.0
    mix = target.sum(1)
    present = torch.tensor([[True, False]])
    lower, weight = torch.arange(4).clamp(max=2), torch.tensor([0.0, 0.0, 0.0, 1.0])
    projection = BandProjection(lower, weight, 4)
    cross = projection.linear((target * mix[:, None]).real)
    a, d = projection.quadratic(mix.square())
    energy = target.square().flatten(2).sum(-1)
    perfect = torch.stack([torch.ones(1, 4, 3), torch.zeros(1, 4, 3)])[None]
    _, score, leak = band_nsdr_loss(perfect, energy, cross, a, d, mix.square().flatten(1).sum(-1), present)
    assert float(score) > 60 and float(leak) == 0
    _, score, _ = band_nsdr_loss(torch.zeros_like(perfect), energy, cross, a, d, mix.square().flatten(1).sum(-1), present)
    assert abs(float(score)) < 1e-3
