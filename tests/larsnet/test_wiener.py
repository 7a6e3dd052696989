import pytest
import torch

from larsnet.wiener import alpha_wiener


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_outputs_sum_to_the_mixture(alpha):
    mix = torch.rand(2, 64, 10) + 0.1
    stems = torch.rand(5, 2, 64, 10) * mix
    out = alpha_wiener(stems, mix, alpha)
    assert torch.allclose(out.sum(0), mix, rtol=1e-5, atol=1e-6)


def test_larger_alpha_sharpens_the_split():
    mix = torch.ones(1, 1)
    stems = torch.tensor([[[0.6]], [[0.3]]])
    soft = alpha_wiener(stems, mix, 0.5)
    hard = alpha_wiener(stems, mix, 4.0)
    assert hard[0] > soft[0] > 0.5


def test_alpha_must_be_positive():
    with pytest.raises(ValueError, match="> 0"):
        alpha_wiener(torch.ones(2, 1), torch.ones(1), 0.0)
