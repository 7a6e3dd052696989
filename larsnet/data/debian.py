"""The drum kits Debian packages install, and what we know about them beyond their files.

``scripts/install-kits.sh`` installs the packages; this module says where they land,
which package each kit comes from, its license (read from the package's machine-
readable ``/usr/share/doc/<package>/copyright`` where that is specific enough), and
facts no kit file states: which kits are one recording in several versions (a
*family*: training must treat them as one kit, and never train on a family that holds a
held-out kit), and whether a kit is acoustic.

Families were checked sample by sample: GMRockKit's WAVs are bit-identical to The
Black Pearl 1.0's; the three Millo kits are one Ludwig kit recorded three times; the
two AVL SoundFonts share their pedal and semi-open hi-hat, clap, tambourine and
cowbell samples byte for byte, so AVL Black Pearl 4pc must not be trained on while AVL
Red Zeppelin 4pc is held out.
"""
from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass
from pathlib import Path

SYSTEM_PATHS: tuple[str, ...] = (
    "/usr/share/hydrogen/data/drumkits",
    "/usr/share/sounds/sf2",
    "/usr/share/minuet/soundfonts",
    "/usr/share/sonic-pi/samples",
)
"""Where the Debian kit packages put kits (scanned by :func:`discovery.find_kits`)."""

PACKAGES: tuple[str, ...] = (
    "hydrogen-drumkits", "hydrogen-data", "avldrums.lv2-soundfont", "minuet-data",
    "fluid-soundfont-gm", "sonic-pi-samples",
)


@dataclass(frozen=True)
class Known:
    """Facts about a Debian kit that its files do not state."""

    package: str
    kind: str = "acoustic"
    """acoustic | electronic | percussion (no kick/snare kit) | sfx."""
    family: str | None = None
    name: str | None = None
    license: str | None = None
    """Only where the package's copyright file does not name the kit's own license."""
    author: str | None = None
    copyright_paths: tuple[str, ...] = ()
    """Paths to match against the DEP-5 ``Files:`` stanzas of the package."""


def _h2(package: str, folder: str, **kw) -> Known:
    path = f"drumkits/{folder}.h2drumkit" if package == "hydrogen-drumkits" else f"data/drumkits/{folder}/drumkit.xml"
    return Known(package=package, copyright_paths=(path,), **kw)


KNOWN_HYDROGEN: dict[str, Known] = {
    "Audiophob": _h2("hydrogen-drumkits", "Audiophob"),
    "BJA_Pacific": _h2("hydrogen-drumkits", "BJA_Pacific"),
    "ColomboAcousticDrumkit": _h2("hydrogen-drumkits", "ColomboAcousticDrumkit"),
    "ElectricEmpireKit": _h2("hydrogen-drumkits", "ElectricEmpireKit", kind="electronic"),
    "ForzeeStereo": _h2("hydrogen-drumkits", "ForzeeStereo"),
    "GMRockKit": _h2("hydrogen-data", "GMRockKit", family="The Black Pearl 1.0",
                     author="Glen MacArthur / Sebastian Moors"),
    "Gimme A Hand 1.0": _h2("hydrogen-drumkits", "Gimme A Hand 1.0", kind="percussion"),
    "HardElectro1": _h2("hydrogen-drumkits", "HardElectro1", kind="electronic"),
    "Millo-Drums_v.1": _h2("hydrogen-drumkits", "Millo-Drums_v.1", family="Millo"),
    "Millo_MultiLayered2": _h2("hydrogen-drumkits", "Millo_MultiLayered2", family="Millo"),
    "Millo_MultiLayered3": _h2("hydrogen-drumkits", "Millo_MultiLayered3", family="Millo"),
    "TR808EmulationKit": _h2("hydrogen-data", "TR808EmulationKit", kind="electronic"),
    "The Black Pearl 1.0": _h2("hydrogen-drumkits", "The Black Pearl 1.0", family="The Black Pearl 1.0"),
    "VariBreaks": _h2("hydrogen-drumkits", "VariBreaks", kind="electronic"),
    "circAfrique v4": _h2("hydrogen-drumkits", "circAfrique", kind="percussion"),
    "rumpf_kit_z01_h2": _h2("hydrogen-drumkits", "rumpf_kit_z01_h2"),
}
"""Keyed by kit folder name (which is also the kit's name in larsnet)."""

KNOWN_SF2: dict[str, Known] = {
    "Black_Pearl_4_LV2.sf2": Known(package="avldrums.lv2-soundfont", name="AVL Black Pearl 4pc",
                                   family="AVL drums", copyright_paths=("sf2/Black_Pearl_4_LV2.sf2",)),
    "Red_Zeppelin_4_LV2.sf2": Known(package="avldrums.lv2-soundfont", name="AVL Red Zeppelin 4pc",
                                    family="AVL drums", copyright_paths=("sf2/Red_Zeppelin_4_LV2.sf2",)),
    "FluidR3_GM.sf2": Known(package="fluid-soundfont-gm", name="FluidR3 GM", family="FluidR3 GM",
                            license="MIT", author="Frank Wen and contributors"),
    "MuseScore_General_Full.sf2": Known(package="musescore-general-soundfont-lossless", name="MuseScore General",
                                        family="FluidR3 GM", license="MIT",
                                        author="S. Christian Collins; Fluid (R3) Mono by Michael Cowgill"),
    "TimGM6mb.sf2": Known(package="timgm6mb-soundfont", name="TimGM6mb", family="TimGM6mb", license="GPL-2",
                          author="Tim Brechbill"),
    "GeneralUser-v1.47.sf2": Known(package="minuet-data", name="GeneralUser GS",
                                   license="GeneralUser GS License v2.0 (any use, incl. commercial)",
                                   author="S. Christian Collins"),
}
"""Keyed by file name. FluidR3's presets share hi-hats and cymbals: one family.
GeneralUser GS's drum presets use distinct samples: each is its own family. MuseScore
General's drums are FluidR3's (Fluid R3 Mono: the same sample names, layers and lengths),
so they join its family. TimGM6mb's presets share one small sample set: one family. Both
are optional packages, not in scripts/install-kits.sh, and not trained on yet."""

SONIC_PI = Known(package="sonic-pi-samples", name="Sonic Pi drums",
                 author="menegass, Zajo, Neotone, Heigh-hoo (freesound.org)",
                 copyright_paths=("etc/samples/drum_snare_hard.flac",))

PRESET_KINDS: dict[str, str] = {
    "808": "electronic", "909": "electronic", "electronic": "electronic", "dance": "electronic",
    "techno": "electronic", "tr-": "electronic", "orchestra": "percussion", "sfx": "sfx",
    "marching": "percussion", "metronome": "sfx",
}


def preset_kind(preset_name: str) -> str:
    """acoustic unless a GM drum preset's name says otherwise (TR-808, Orchestra, SFX)."""
    lowered = preset_name.lower()
    return next((kind for word, kind in PRESET_KINDS.items() if word in lowered), "acoustic")


@functools.lru_cache(maxsize=32)
def _stanzas(package: str) -> tuple[tuple[tuple[str, ...], str, str], ...]:
    """(file patterns, license, copyright) per DEP-5 ``Files:`` stanza; () if not DEP-5."""
    path = Path("/usr/share/doc") / package / "copyright"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    if not text.startswith("Format:"):
        return ()
    out = []
    for para in text.split("\n\n"):
        fields: dict[str, str] = {}
        current = None
        for line in para.splitlines():
            if line[:1] in (" ", "\t") and current:
                fields[current] += "\n" + line.strip()
            elif ":" in line:
                current, _, value = line.partition(":")
                fields[current] = value.strip()
        if "Files" in fields and "License" in fields:
            patterns = tuple(fields["Files"].split())
            out.append((patterns, fields["License"].splitlines()[0].strip(),
                        fields.get("Copyright", "").strip()))
    return tuple(out)


def copyright_license(package: str, paths: tuple[str, ...]) -> tuple[str, str] | None:
    """(license, copyright holder) of the last DEP-5 stanza matching one of ``paths``."""
    found = None
    for patterns, license, holder in _stanzas(package):
        if any(fnmatch.fnmatchcase(p, pat) for p in paths for pat in patterns):
            found = (license, holder)
    return found
