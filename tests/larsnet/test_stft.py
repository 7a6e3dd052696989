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
