import numpy as np
import pytest
import torch

from larsnet.stft import Stft


@pytest.mark.parametrize("length,expected", [(4096, 4096), (4097, 5120), (5000, 5120), (10_000, 10_240),
                                             (3000, 3072), (2048, 4096), (100, 4096)])
def test_end_padding_follows_the_official_formula(length, expected):
    stft = Stft()
    assert stft.padded_length(length) == expected
    if length > 2048:  # where the official formula alone works, we add nothing to it
        assert stft.padded_length(length) == length + ((4096 - length) % 1024) % 4096


@pytest.mark.parametrize("length", [100, 4096, 44_100, 65_537])
def test_round_trip_returns_the_input(length):
    stft = Stft()
    wave = torch.from_numpy(np.random.default_rng(0).standard_normal((2, length)).astype(np.float32))
    padded = stft.pad_end(wave)
    spec = stft.forward(padded)
    assert spec.shape == (2, 2049, padded.shape[-1] // 1024 + 1)
    back = stft.inverse(spec, padded.shape[-1])[..., :length]
    assert torch.allclose(back, wave, atol=1e-5)


@pytest.mark.parametrize("length", [4096, 44_100, 100_000])
def test_inverse_equals_torch_istft_on_any_spectrogram(length):
    """Our overlap-add iSTFT must give torch.istft's result for spectrograms that are
    not an STFT of anything (masked stems), in either memory layout, any batch shape."""
    stft = Stft()
    rng = np.random.default_rng(1)
    frames = stft.frames(length)
    spec = torch.from_numpy((rng.standard_normal((3, 2, 2049, frames)) + 1j * rng.standard_normal((3, 2, 2049, frames)))
                            .astype(np.complex64))
    reference = stft._torch_inverse(spec, length)
    assert reference.shape == (3, 2, length)
    for layout in (spec, spec.transpose(-1, -2).contiguous().transpose(-1, -2)):
        torch.testing.assert_close(stft.inverse(layout, length), reference, atol=2e-5, rtol=1e-4)
    longer = stft.inverse(spec, (frames + 8) * 1024)  # past the frames: zeros, as torch.istft pads
    torch.testing.assert_close(longer[..., :length], reference)
    assert torch.equal(longer[..., (frames + 3) * 1024:], torch.zeros_like(longer[..., (frames + 3) * 1024:]))


def test_magnitude_equals_abs_in_the_same_layout():
    from larsnet.stft import magnitude

    spec = Stft().forward(torch.randn(2, 44_100))[:, :2048]  # a sliced, time-major view
    got = magnitude(spec)
    assert got.stride() == spec.abs().stride()
    torch.testing.assert_close(got, spec.abs(), rtol=1e-6, atol=1e-7)
