"""Find the drum kits on this machine, and load one by name.

Scanned, in order: the Debian kit locations (:data:`debian.SYSTEM_PATHS`), every
folder or file in ``$LARSNET_KITS_PATH`` (``os.pathsep``-separated), and
``extra_paths``. A path may be a kit (drumkit.xml or its folder, .sfz, .sf2, a piece-
folder kit) or a folder of kits (searched two levels deep). An SF2 with several drum
presets gives one entry per preset.

Listing reads metadata only (XML, SFZ text, the SF2 preset table): no sample is
decoded and nothing is rendered, so ``larsnet kits`` stays fast. :func:`get_kit`
loads, maps and caches one kit per process.
"""
from __future__ import annotations

import difflib
import functools
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from larsnet.data import debian, loaders, sf2file
from larsnet.data.kit import MappedKit, MappingReport
from larsnet.data.kitinfo import KitInfo
from larsnet.data.mapping import map_kit, plan_mapping, require_kick_and_snare
from larsnet.data.sf2 import drum_presets
from larsnet.errors import KitError
from larsnet.stems import HELD_OUT_KITS

ENV_VAR = "LARSNET_KITS_PATH"
SCAN_DEPTH = 2


@dataclass(frozen=True)
class KitEntry:
    """A kit found on disk. ``preset`` is ``"bank:program"`` for SF2 kits.

    ``family`` groups kits made from the same recordings (GMRockKit and The Black
    Pearl 1.0; the three Millo kits; the AVL pair): count a family as one kit, and
    never train on a family that contains a held-out kit (see :func:`training_kits`).
    """

    name: str
    path: Path
    format: str
    license: str
    preset: str | None = None
    held_out: bool = False
    family: str = ""
    kind: str = "unknown"
    author: str = ""
    package: str = ""

    def to_dict(self) -> dict:
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def _paths_from_env() -> list[Path]:
    value = os.environ.get(ENV_VAR, "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def find_kits(extra_paths: tuple[str | Path, ...] | list[str | Path] = (), *, system: bool = True) -> list[KitEntry]:
    """Every kit in the Debian locations, ``$LARSNET_KITS_PATH`` and ``extra_paths``.

    Paths that do not exist are skipped silently for the system locations and
    reported with KitError for paths the user named.
    """
    roots: list[tuple[Path, bool]] = [(Path(p), False) for p in debian.SYSTEM_PATHS] if system else []
    roots += [(p, True) for p in _paths_from_env()]
    roots += [(Path(p).expanduser(), True) for p in extra_paths]
    entries: list[KitEntry] = []
    seen: set[tuple[str, str | None]] = set()
    for root, user in roots:
        if not root.exists():
            if user:
                raise KitError(root, f"kit path does not exist (from {ENV_VAR} or --path)")
            continue
        for entry in _scan(root, SCAN_DEPTH):
            key = (str(entry.path.resolve()), entry.preset)
            if key not in seen:
                seen.add(key)
                entries.append(entry)
    return _unique_names(entries)


def _unique_names(entries: list[KitEntry]) -> list[KitEntry]:
    counts: dict[str, int] = {}
    out = []
    for e in entries:
        counts[e.name] = counts.get(e.name, 0) + 1
        if counts[e.name] > 1:
            e = KitEntry(**{**asdict(e), "name": f"{e.name} ({counts[e.name]})"})
        out.append(e)
    return out


def _scan(path: Path, depth: int) -> list[KitEntry]:
    try:
        fmt, target = loaders.detect_format(path)
    except KitError:
        fmt, target = None, path
    if fmt is not None and not (path.is_dir() and fmt == "sf2"):
        try:
            return _entries(fmt, target, path)
        except KitError:  # list it anyway: describe() then shows the user what is wrong
            name = path.name if path.is_dir() or fmt == "sf2" else path.stem
            if fmt == "hydrogen":
                name = target.parent.name
            return [KitEntry(name=name, path=path, format=fmt, license="unknown", family=name,
                             held_out=name in HELD_OUT_KITS)]
    if depth == 0 or not path.is_dir():
        return []
    out: list[KitEntry] = []
    try:
        children = sorted(path.iterdir())
    except OSError:
        return []
    for child in children:
        if child.is_symlink() and child.resolve().parent == path.resolve():
            continue  # default-GM.sf2 -> FluidR3_GM.sf2 and the like
        if child.is_dir() or child.suffix.lower() in (".sfz", *loaders.SF2_SUFFIXES):
            out.extend(_scan(child, depth - 1))
    return out


def _entries(fmt: str, target: Path, found: Path) -> list[KitEntry]:
    """Entries for one kit; ``found`` is the scanned path (a folder names its SFZ kit)."""
    if fmt == "sf2":
        return _sf2_entries(target)
    if fmt == "hydrogen":
        folder = target.parent
        info = loaders.inspect_kit(target)
        known = debian.KNOWN_HYDROGEN.get(folder.name) if _is_system(folder) else None
        return [_entry(folder.name, folder, fmt, info, known)]
    if fmt == "sonic-pi":
        info = loaders.inspect_kit(target)
        return [_entry(debian.SONIC_PI.name or info.name, target, fmt, info,
                       debian.SONIC_PI if _is_system(target) else None)]
    info = loaders.inspect_kit(target)
    name = found.name if found.is_dir() else target.stem
    return [_entry(name, target, fmt, info, None)]


def _is_system(path: Path) -> bool:
    resolved = str(path.resolve())
    return any(resolved.startswith(root) for root in debian.SYSTEM_PATHS)


def _entry(name: str, path: Path, fmt: str, info: KitInfo, known: debian.Known | None,
           preset: str | None = None, kind: str | None = None, family: str | None = None) -> KitEntry:
    license, author = _license(info, known)
    return KitEntry(
        name=name, path=path, format=fmt, license=license, preset=preset,
        held_out=name in HELD_OUT_KITS,
        family=family or (known.family if known and known.family else name),
        kind=kind or (known.kind if known else "unknown"),
        author=author, package=known.package if known else "",
    )


def _license(info: KitInfo, known: debian.Known | None) -> tuple[str, str]:
    """Curated license, else the package's DEP-5 copyright, else the kit's own claim."""
    author = (known.author if known and known.author else "") or info.author
    if known and known.license:
        return known.license, author
    if known and known.copyright_paths:
        found = debian.copyright_license(known.package, known.copyright_paths)
        if found:
            return found[0], author or found[1]
    return info.license or "unknown", author


def _sf2_entries(path: Path) -> list[KitEntry]:
    sf2 = sf2file.read_sf2(path)
    known = debian.KNOWN_SF2.get(path.name) if _is_system(path) else None
    presets = drum_presets(sf2)
    base = known.name if known and known.name else sf2.name
    out = []
    for preset in presets:
        name = f"{base}: {preset.name}" if len(presets) > 1 else base
        spec = f"{preset.bank}:{preset.program}"
        info = KitInfo(name=name, format="sf2", source=str(path), instruments=[], author=sf2.author)
        family = (known.family if known and known.family else name)
        out.append(_entry(name, path, "sf2", info, known, preset=spec,
                          kind=debian.preset_kind(preset.name) if len(presets) > 1 else None,
                          family=family))
    return out


def find_entry(name: str, entries: list[KitEntry] | None = None) -> KitEntry:
    """The entry called ``name`` (case-insensitive); KitError with suggestions if none."""
    entries = find_kits() if entries is None else entries
    for match in (lambda e: e.name == name, lambda e: e.name.casefold() == name.casefold()):
        hits = [e for e in entries if match(e)]
        if hits:
            return hits[0]
    names = [e.name for e in entries]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    raise KitError(None, f"no kit named '{name}'; {hint}`larsnet kits` lists the {len(names)} kits found")


@dataclass
class KitDescription:
    """What ``larsnet kits`` shows for one entry, from metadata only."""

    entry: KitEntry
    info: KitInfo | None = None
    report: MappingReport | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.error is None


def describe(entry: KitEntry) -> KitDescription:
    """Inspect and plan the mapping of one kit, without loading audio."""
    desc = KitDescription(entry=entry)
    try:
        desc.info = loaders.inspect_kit(entry.path, preset=entry.preset)
        desc.report = plan_mapping(desc.info.instruments, kit_name=entry.name).report
        broken = {i.name: i.missing for i in desc.info.instruments if i.missing}
        for inst, files in broken.items():
            desc.warnings.append(f"'{inst}' is missing {', '.join(files[:3])}: skipped")
            if inst in desc.report.mapped.values():
                raise KitError(entry.path, f"instrument '{inst}' needed for a piece is missing samples: {', '.join(files[:3])}")
        require_kick_and_snare(desc.report, str(entry.path))
    except KitError as exc:
        desc.error = exc.problem
    return desc


@functools.lru_cache(maxsize=None)
def _get_kit(name: str, extra_paths: tuple[str, ...]) -> MappedKit:
    try:
        entry = find_entry(name, find_kits(extra_paths))
    except KitError:
        path = Path(name).expanduser()
        if not path.exists():
            raise
        return map_kit(loaders.load_kit(path, strict=False))
    kit = loaders.load_kit(entry.path, name=entry.name, preset=entry.preset, strict=False)
    kit.license = entry.license
    kit.author = entry.author or kit.author
    return map_kit(kit)


def get_kit(name: str, extra_paths: tuple[str | Path, ...] = ()) -> MappedKit:
    """Load, map and cache (per process) the kit called ``name`` (or at that path).

    Instruments with missing samples are skipped unless a piece needs them. Raises
    KitError if no such kit exists or it maps no kick or snare. The MappedKit is
    shared: treat it as read-only.
    """
    return _get_kit(name, tuple(str(p) for p in extra_paths))


def clear_cache() -> None:
    """Forget the kits :func:`get_kit` loaded (tests, or after installing kits)."""
    _get_kit.cache_clear()


def training_kits(entries: list[KitEntry] | None = None, *, kinds: tuple[str, ...] = ("acoustic",)) -> list[KitEntry]:
    """Kits a model may be trained on: of the given kinds, not held out, and not in a
    family that contains a held-out kit (shared samples would leak into the test)."""
    entries = find_kits() if entries is None else entries
    tainted = {e.family for e in entries if e.held_out}
    return [e for e in entries if e.kind in kinds and not e.held_out and e.family not in tainted]


def held_out_kits(entries: list[KitEntry] | None = None) -> list[KitEntry]:
    """The unseen-kit validation/test kits (ForzeeStereo, AVL Red Zeppelin 4pc)."""
    entries = find_kits() if entries is None else entries
    return [e for e in entries if e.held_out]
