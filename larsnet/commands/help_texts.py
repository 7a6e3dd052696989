"""Help texts and options that several commands share, kept apart so a command need not import
another's stack."""
from __future__ import annotations

import click

from larsnet.spatial_options import FULL_BAND_HZ, SPATIAL_ITERATIONS, SPATIAL_MAX_HZ

SPATIAL_HELP = (f"Rounds of the multichannel Wiener filter after the masks (0: off) [default: {SPATIAL_ITERATIONS}; "
                "0 with --mode official]: "
                "each stem's stereo image is estimated and used, which lifts the kick, snare and toms most. "
                "Stems then sum to the mix.")
SPATIAL_MAX_HELP = (f"The filter works below this frequency, the plain split above [default: {SPATIAL_MAX_HZ:g}, "
                    f"about 1.1x the plain time]; {FULL_BAND_HZ:g} filters every bin (with 3 rounds: about 2.5x "
                    "the time, +0.2 dB).")


def spatial_options(prefix: str = ""):
    """``--spatial-iterations N`` and ``--spatial-max-hz HZ``; both None when not given, so a command
    can tell a default from a choice (:func:`larsnet.spatial_options.resolve_spatial`)."""
    def decorate(command):
        command = click.option("--spatial-max-hz", type=click.FloatRange(min=0.0, min_open=True), default=None,
                               metavar="HZ", help=prefix + SPATIAL_MAX_HELP)(command)
        return click.option("--spatial-iterations", type=click.IntRange(min=0), default=None, metavar="N",
                            help=prefix + SPATIAL_HELP)(command)
    return decorate


def describe_spatial(iterations: int, max_hz: float) -> str:
    """One line for reports: ``2 iterations below 1378.12 Hz`` or ``off``."""
    if not iterations:
        return "off"
    return f"{iterations} iterations" + ("" if max_hz >= FULL_BAND_HZ else f" below {max_hz:g} Hz")
