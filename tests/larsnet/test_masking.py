"""Masks times the spectrogram: the fast band path gives exactly what bin masks give,
and reused (dirty) output buffers never leak old values into the Nyquist bin."""
import pickle
import threading

import pytest
import torch

from larsnet.bandnet import BandUNet
from larsnet.masking import BandMaskApplier, apply_masks, masked_shape
from larsnet.model import ModelConfig
from larsnet.scratch import ScratchBuffers


def _spec(frames: int = 40, channels: int = 2) -> torch.Tensor:
    """A complex spectrogram laid out as torch.stft returns it (time-major)."""
    torch.manual_seed(1)
    wave = torch.randn(channels, 1024 * (frames - 1))
    return torch.stft(wave, 4096, 1024, window=torch.hann_window(4096), return_complex=True)


def _reference(spec: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """mask * |X| with X's phase via polar, Nyquist zero: the definition."""
    padded = torch.nn.functional.pad(masks, (0, 0, 0, spec.shape[-2] - masks.shape[-2]))
    return torch.polar(padded * spec.abs(), spec.angle())


@pytest.mark.parametrize("params", [{}, {"bands": 64, "full_res_bins": 16, "depth": 2}])
def test_band_applier_equals_bin_masks_times_spectrum(params):
    model = BandUNet(ModelConfig(arch="band_unet", arch_params={"width": 4, **params}))
    spec = _spec()
    bands = torch.rand(5, 2, model.interpolation.shape[0], spec.shape[-1])
    bin_masks = model.unpool(bands)
    fast = BandMaskApplier(model.band_interpolation)(spec, bands)
    torch.testing.assert_close(fast, _reference(spec, bin_masks), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(fast, apply_masks(spec, bin_masks), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("band_path", [False, True])
def test_dirty_reused_buffer_gives_the_same_result(band_path):
    model = BandUNet(ModelConfig(arch="band_unet", arch_params={"width": 4}))
    spec = _spec()
    bands = torch.rand(5, 2, 256, spec.shape[-1])
    dirty = torch.full(masked_shape(5, spec), 123.0)
    if band_path:
        result = BandMaskApplier(model.interpolation)(spec, bands, dirty)
    else:
        result = apply_masks(spec, model.unpool(bands), dirty)
    assert result.data_ptr() == dirty.data_ptr()  # written in place
    assert torch.all(result[..., 2048, :] == 0)  # the Nyquist bin is zeroed, not left over
    torch.testing.assert_close(result, _reference(spec, model.unpool(bands)), atol=1e-4, rtol=1e-4)


def test_wrongly_shaped_buffer_is_refused():
    spec = _spec()
    with pytest.raises(ValueError, match="expected"):
        apply_masks(spec, torch.rand(5, 2, 2048, spec.shape[-1]), torch.empty(5, 2, 3, 2049, 2))


def test_scratch_reuses_per_shape_and_per_thread():
    scratch = ScratchBuffers()
    a = scratch.get("x", (4, 3), torch.float32, torch.device("cpu"))
    assert scratch.get("x", (4, 3), torch.float32, torch.device("cpu")) is a
    assert scratch.get("x", (4, 4), torch.float32, torch.device("cpu")) is not a
    assert torch.all(scratch.get("z", (8,), torch.float32, torch.device("cpu"), zero=True) == 0)
    other = []
    thread = threading.Thread(target=lambda: other.append(scratch.get("x", (4, 4), torch.float32, torch.device("cpu"))))
    thread.start()
    thread.join()
    assert other[0] is not scratch.get("x", (4, 4), torch.float32, torch.device("cpu"))
    copy = pickle.loads(pickle.dumps(scratch))  # buffers are not sent along
    assert copy.get("x", (4, 4), torch.float32, torch.device("cpu")) is not a
