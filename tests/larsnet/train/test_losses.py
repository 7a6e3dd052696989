import numpy as np
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


def _wide_stems(seed: int) -> torch.Tensor:
    """Two examples of five noise stems, each panned and delayed its own way (a stereo kit)."""
    g = torch.Generator().manual_seed(seed)
    mono = torch.randn(2, 5, 1, 63 * 1024, generator=g) * 0.05
    pan = torch.rand(2, 5, 2, 1, generator=g) + 0.2
    stems = mono * pan
    stems[:, :, 1] = torch.roll(stems[:, :, 1], shifts=7, dims=-1)
    return stems


def test_spatial_nsdr_scores_what_the_inference_filter_gives():
    """The loss through the filter is the nSDR of the stems :func:`spatial_wiener` forms (the
    same covariances, the same weights), so training optimises what users hear."""
    from larsnet.train.losses import spatial_nsdr
    from larsnet.wiener import spatial_wiener

    stft = Stft()
    stems = _wide_stems(1)
    spec = stft.forward(stems)[..., :2048, :64]
    mix = spec.sum(1)
    masks = torch.rand(spec.shape, generator=torch.Generator().manual_seed(2)) + 0.05
    masks = masks / masks.sum(1, keepdim=True)
    estimates = masks * mix.abs()[:, None]
    present = torch.ones(2, 5, dtype=torch.bool)
    present[1, 3] = False
    got = float(spatial_nsdr(estimates, spec, mix, present, rounds=3))
    scores = []
    for b in range(2):
        y = spatial_wiener(estimates[b], mix[b], 3)
        for s in range(5):
            if present[b, s]:
                target = spec[b, s]
                scores.append(float(10 * torch.log10(target.abs().square().sum() / (target - y[s]).abs().square().sum())))
    assert got == pytest.approx(float(np.mean(scores)), abs=1e-3)


def test_spatial_nsdr_gradients_are_finite_on_silence_and_raise_the_score():
    """A digitally silent example (and a silent start) must not give NaN gradients through
    ``C^-1 x``, and a step along the gradient of the weights improves the filtered stems."""
    from larsnet.train.losses import spatial_nsdr

    stft = Stft()
    stems = _wide_stems(3)
    stems[1] = 0.0  # a silent segment
    stems[0, :, :, : 20 * 1024] = 0.0  # and a silent start
    spec = stft.forward(stems)[..., :2048, :64]
    mix = spec.sum(1)
    logits = torch.zeros(spec.shape, requires_grad=True)
    present = torch.ones(2, 5, dtype=torch.bool)
    present[1] = False
    def score():
        masks = torch.softmax(logits, dim=1)
        return spatial_nsdr(masks * mix.abs()[:, None], spec, mix, present, rounds=2)
    before = score()
    before.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    with torch.no_grad():
        logits += 50.0 * logits.grad / logits.grad.abs().max()
    assert float(score()) > float(before) + 0.1
