"""The embedded default model: loads offline and separates the demo loop into five stems."""
from pathlib import Path

import numpy as np

import larsnet
from larsnet.audio import read_audio
from larsnet.checkpoint import DEFAULT_MODEL_PATH

DEMO = Path(__file__).resolve().parents[2] / "drumflow" / "demo" / "demo_loop.flac"


def test_default_model_is_embedded_and_compact():
    assert DEFAULT_MODEL_PATH.exists()
    assert DEFAULT_MODEL_PATH.stat().st_size <= 25 * 1024 * 1024


def test_default_model_separates_the_demo_loop_into_five_non_silent_stems():
    model = larsnet.load_model("default")
    assert model.model.license == "GPL-3.0-or-later"
    audio, _ = read_audio(DEMO)  # 16 s, chosen so that all five stems play (the cymbals from 10 s)
    stems = model.separate(audio, wiener=1.0)
    assert list(stems) == list(larsnet.STEMS)
    for name, stem in stems.items():
        assert stem.shape == audio.shape
        assert 20 * np.log10(np.sqrt(np.mean(stem**2)) + 1e-12) > -60, name
    total = sum(stems.values())
    error_db = 10 * np.log10(np.mean((total - audio) ** 2) / np.mean(audio**2))
    assert error_db < -30  # Wiener outputs sum back to the mixture
    assert abs(10 * np.log10(np.mean(total**2) / np.mean(audio**2))) < 0.1  # issue 4: within 0.1 dB
    # the kick stem carries the low end of the mix
    spec = {k: np.abs(np.fft.rfft(v[0])) for k, v in stems.items()}
    low = slice(0, int(100 / 44_100 * audio.shape[1]))
    assert spec["kick"][low].sum() > spec["hihat"][low].sum()
