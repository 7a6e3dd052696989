"""BandUNet options users and the trainer rely on: share masks add up to one, and an
``--init`` model can switch them on without touching its weights."""
import numpy as np
import pytest
import torch

from larsnet.bandnet import BandUNet
from larsnet.commands.train import _with_arch_params
from larsnet.errors import OptionError
from larsnet.model import ModelConfig

SMALL = {"width": 4, "depth": 2, "bands": 64, "full_res_bins": 16}


def _model(**params) -> BandUNet:
    torch.manual_seed(0)
    return BandUNet(ModelConfig(arch="band_unet", arch_params={**SMALL, **params})).eval()


def test_share_masks_sum_to_one_at_every_bin():
    mag = torch.rand(1, 2, 2048, 16)
    masks = _model(shares=True).masks(mag)
    torch.testing.assert_close(masks.sum(1), torch.ones(1, 2, 2048, 16), atol=1e-5, rtol=0)
    plain = _model().masks(mag).sum(1)
    assert (plain - 1).abs().max() > 0.1  # independent sigmoids do not


def test_init_model_switches_to_shares_and_keeps_its_weights():
    base = _model()
    shared = _with_arch_params(base, {"shares": True}, "base.pt")
    assert shared.shares and shared.config.arch_params["shares"] is True
    for (name, a), (_, b) in zip(base.state_dict().items(), shared.state_dict().items()):
        assert torch.equal(a, b), name
    mag = torch.rand(1, 2, 2048, 16)
    plain, share = base.band_masks(mag), shared.band_masks(mag)
    torch.testing.assert_close(share, plain / (plain.sum(1, keepdim=True) + 1e-6))


def test_init_model_refuses_shape_changes():
    with pytest.raises(OptionError, match="changes the shapes"):
        _with_arch_params(_model(), {"width": 8}, "base.pt")


def test_share_model_stems_sum_to_the_mixture_with_and_without_wiener():
    from larsnet.separator import Separator

    rng = np.random.default_rng(0)
    audio = (rng.standard_normal((2, 3 * 44_100)) * 0.1).astype(np.float32)
    separator = Separator(_model(shares=True))
    plain = separator.separate(audio)
    filtered = separator.separate(audio, wiener=1.0)
    for stem in plain:
        np.testing.assert_allclose(plain[stem], filtered[stem], atol=1e-5)
    total = sum(filtered.values())
    level_db = 10 * np.log10(np.mean(total**2) / np.mean(audio**2))
    assert abs(level_db) < 0.1
    # what is missing is the Nyquist bin, which LarsNet models never see (1/2049 of white noise)
    assert 10 * np.log10(np.mean((total - audio) ** 2) / np.mean(audio**2)) < -35


@pytest.mark.parametrize("mode", ["overlap", "official"])
def test_band_path_separates_like_bin_masks_over_many_chunks(mode):
    """The separator's block-wise band path (and its buffers reused chunk to chunk, the
    last chunk shorter) gives what bin masks times the spectrogram give."""
    from larsnet.separator import Separator

    rng = np.random.default_rng(1)
    audio = (rng.standard_normal((2, 7 * 44_100)) * 0.1).astype(np.float32)
    model = _model()
    fast = Separator(model, chunk_frames=128, overlap_frames=16)
    generic = Separator(model, chunk_frames=128, overlap_frames=16)
    generic._band_applier = None  # the plain path: model.masks, then apply_masks
    assert fast._band_applier is not None
    ours, ref = fast.separate(audio, mode=mode), generic.separate(audio, mode=mode)
    again = fast.separate(audio[:, : 5 * 44_100], mode=mode)  # other sizes, same buffers object
    for stem in ref:
        np.testing.assert_allclose(ours[stem], ref[stem], atol=2e-6)
        np.testing.assert_allclose(again[stem], generic.separate(audio[:, : 5 * 44_100], mode=mode)[stem], atol=2e-6)


def test_band_pooling_is_the_mean_of_each_band_in_any_layout():
    """The separator hands the model time-major spectra (bins contiguous), the trainer other
    layouts; both pool to the plain mean of each band's bins."""
    model = _model()
    torch.manual_seed(1)
    time_major = torch.rand(1, 2, 40, 2049).transpose(-1, -2)[:, :, :2048]  # as the separator slices stft output
    expected = torch.stack([time_major[:, :, a:b].mean(dim=2) for a, b in zip(model.edges[:-1], model.edges[1:])],
                           dim=2)
    for mag in (time_major, time_major.contiguous()):
        np.testing.assert_allclose(model.pool(mag).numpy(), expected.numpy(), rtol=1e-4, atol=1e-6)
