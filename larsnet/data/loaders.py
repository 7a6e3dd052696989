"""One entry point for every kit format: look at the path, pick the loader.

``load_kit`` decodes (or renders) audio; ``inspect_kit`` reads only metadata, for
listings and mapping previews. Both raise :class:`~larsnet.errors.KitError` with the
path and what to do when the path is not a kit.

Recognised: a Hydrogen ``drumkit.xml`` or its folder; an ``.sfz`` file (or a folder
with exactly one); an ``.sf2``/``.sf3`` file with an optional preset; Sonic Pi's
sample folder; a plain folder of piece folders (``kick/``, ``snare/``...; see
:mod:`larsnet.data.folder`).
"""
from __future__ import annotations

from pathlib import Path

from larsnet.data import folder, hydrogen, sf2, sfz
from larsnet.data.kit import Kit
from larsnet.data.kitinfo import KitInfo
from larsnet.data.samples import SAMPLE_EXTENSIONS
from larsnet.errors import KitError

FORMATS: tuple[str, ...] = ("hydrogen", "sfz", "sf2", "sonic-pi", "folder")
SF2_SUFFIXES = (".sf2", ".sf3")


def detect_format(path: str | Path) -> tuple[str, Path]:
    """(format, the file or folder to hand to that loader)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise KitError(path, "no such kit file or folder")
    if path.is_file():
        suffix = path.suffix.lower()
        if path.name.lower() == "drumkit.xml":
            return "hydrogen", path
        if suffix == ".sfz":
            return "sfz", path
        if suffix in SF2_SUFFIXES:
            return "sf2", path
        if suffix == ".h2drumkit":
            raise KitError(path, f"a packed Hydrogen kit: unpack it first (tar -xzf '{path.name}') and use the folder")
        if suffix in SAMPLE_EXTENSIONS:
            raise KitError(path, "a single sample is not a kit: put samples in piece folders (kick/, snare/, ...)")
        raise KitError(path, "unknown kit format: expected drumkit.xml, .sfz, .sf2 or a folder of piece folders")
    if (path / "drumkit.xml").is_file():
        return "hydrogen", path / "drumkit.xml"
    sfzs = sorted(path.glob("*.sfz"))
    if len(sfzs) == 1:
        return "sfz", sfzs[0]
    if len(sfzs) > 1:
        raise KitError(path, f"{len(sfzs)} .sfz files here; pass one of them: {', '.join(p.name for p in sfzs[:6])}")
    sf2s = sorted(p for p in path.iterdir() if p.suffix.lower() in SF2_SUFFIXES)
    if len(sf2s) == 1:
        return "sf2", sf2s[0]
    if folder.is_sonic_pi(path):
        return "sonic-pi", path
    if folder.is_folder_kit(path):
        return "folder", path
    if len(sf2s) > 1:
        raise KitError(path, f"{len(sf2s)} SoundFonts here; pass one of them: {', '.join(p.name for p in sf2s[:6])}")
    raise KitError(path, "not a kit: expected drumkit.xml, an .sfz, an .sf2, or piece folders (kick/, snare/, ...)")


def _check_preset(fmt: str, path: Path, preset: object) -> None:
    if preset is not None and fmt != "sf2":
        raise KitError(path, f"preset={preset!r} applies to SF2 SoundFonts only, this is a {fmt} kit")


def inspect_kit(path: str | Path, *, preset: sf2.PresetSpec = None) -> KitInfo:
    """A kit's metadata (names, notes, layer counts, missing files) without audio."""
    fmt, target = detect_format(path)
    _check_preset(fmt, target, preset)
    if fmt == "hydrogen":
        return hydrogen.inspect_hydrogen(target)
    if fmt == "sfz":
        return sfz.inspect_sfz(target)
    if fmt == "sf2":
        return sf2.inspect_sf2(target, preset)
    if fmt == "sonic-pi":
        return folder.inspect_sonic_pi(target)
    return folder.inspect_folder(target)


def load_kit(
    path: str | Path,
    *,
    name: str | None = None,
    preset: sf2.PresetSpec = None,
    strict: bool = True,
) -> Kit:
    """Load any supported kit into a :class:`Kit` (44.1 kHz stereo float32 samples).

    ``name`` overrides the kit's own name; ``preset`` picks an SF2 drum preset
    (program number, ``"bank:program"`` or name; default: the first drum preset).
    ``strict`` (default): missing or unreadable samples raise KitError listing them;
    with ``strict=False`` the instruments concerned are dropped into ``kit.broken``
    (and :func:`~larsnet.data.mapping.map_kit` refuses if a piece needed one).
    """
    fmt, target = detect_format(path)
    _check_preset(fmt, target, preset)
    if fmt == "hydrogen":
        return hydrogen.load_hydrogen(target, name=name, strict=strict)
    if fmt == "sfz":
        return sfz.load_sfz(target, name=name, strict=strict)
    if fmt == "sf2":
        return sf2.load_sf2(target, name=name, preset=preset)
    if fmt == "sonic-pi":
        return folder.load_sonic_pi(target, name=name, strict=strict)
    return folder.load_folder(target, name=name, strict=strict)
