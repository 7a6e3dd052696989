import numpy as np
import pytest

from larsnet.chunking import chunk_count, fade_in, overlap_add


def _blocks(audio, size):
    return [audio[:, i : i + size] for i in range(0, audio.shape[-1], size)]


@pytest.mark.parametrize("total", [1, 99, 100, 101, 250, 1000, 1234])
@pytest.mark.parametrize("chunk,overlap", [(100, 0), (100, 10), (100, 50), (64, 63)])
@pytest.mark.parametrize("block", [7, 100, 5000])
def test_identity_is_returned_exactly(total, chunk, overlap, block):
    audio = np.random.default_rng(total).standard_normal((2, total)).astype(np.float32)
    calls = []
    out = np.concatenate(
        list(overlap_add(lambda x: x[None].copy(), _blocks(audio, block), chunk=chunk, overlap=overlap,
                         on_chunk=lambda: calls.append(1))),
        axis=-1,
    )
    assert out.shape == (1, 2, total)
    np.testing.assert_allclose(out[0], audio, atol=1e-6)
    assert len(calls) == chunk_count(total, chunk, overlap)


def test_ramps_are_complementary():
    ramp = fade_in(37)
    assert np.all(np.diff(ramp) > 0)
    np.testing.assert_allclose(ramp + ramp[::-1], 1.0, atol=1e-6)


def test_chunks_see_their_neighbours_only_in_the_overlap():
    audio = np.ones((1, 300), np.float32)
    seen = []

    def process(x):
        seen.append(x.shape[-1])
        return np.full((1, *x.shape), len(seen), np.float32)

    out = np.concatenate(list(overlap_add(process, [audio], chunk=100, overlap=20)), axis=-1)[0, 0]
    assert seen == [100, 100, 100, 60]
    assert np.all(out[:80] == 1) and np.all(out[100:160] == 2)
    assert np.all((out[80:100] > 1) & (out[80:100] < 2))


def test_bad_overlap_is_rejected():
    with pytest.raises(ValueError, match="overlap"):
        list(overlap_add(lambda x: x[None], [np.zeros((1, 10), np.float32)], chunk=10, overlap=10))
