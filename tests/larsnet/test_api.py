import numpy as np
import pytest

import larsnet
from larsnet.separator import Separator

from tests.larsnet.helpers import drum_like, tiny_model, tiny_model_file


@pytest.mark.parametrize("rate", [44_100, 48_000, 22_050])
def test_arrays_at_any_rate_come_back_at_that_rate_and_length(rate):
    sep = Separator(tiny_model())
    audio = drum_like(1.3, rate=rate)[0]  # mono
    stems = larsnet.separate(audio, model=sep, sample_rate=rate, wiener=1.0)
    assert list(stems) == list(larsnet.STEMS)
    assert all(s.shape == (2, audio.size) for s in stems.values())


def test_load_model_and_separate_a_file(tmp_path):
    import soundfile as sf

    path = tmp_path / "drums.wav"
    sf.write(path, drum_like(2.0).T, 44_100)
    model = larsnet.load_model(tiny_model_file(tmp_path / "m.pt"))
    stems = larsnet.separate(path, model=model)
    assert stems["snare"].shape == (2, 88_200)


def test_separate_runs_the_spatial_filter_by_default():
    """``larsnet.separate`` gives the best stems we ship: the filter below SPATIAL_MAX_HZ, stems that
    sum to the mix; ``spatial_iterations=0`` gives the masks alone."""
    from larsnet.spatial_options import SPATIAL_ITERATIONS, SPATIAL_MAX_HZ

    sep = Separator(tiny_model())
    audio = drum_like(1.0)
    audio[1] = np.roll(audio[1], 25) * 0.7
    stems = larsnet.separate(audio, model=sep)
    expected = sep.separate(audio, spatial_iterations=SPATIAL_ITERATIONS, spatial_max_hz=SPATIAL_MAX_HZ)
    plain = larsnet.separate(audio, model=sep, spatial_iterations=0)
    for s in larsnet.STEMS:
        np.testing.assert_allclose(stems[s], expected[s], atol=1e-6)
        np.testing.assert_allclose(plain[s], sep.separate(audio)[s], atol=1e-6)
    np.testing.assert_allclose(sum(stems.values()), audio, atol=2e-3)
