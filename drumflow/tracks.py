"""Input files -> tracks: files, folders (every audio file inside) and globs."""
from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from drumflow.errors import InputError
from drumflow.spec import InputSpec

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


@dataclass(frozen=True)
class Track:
    name: str  # the file name without extension: {track} in export paths
    path: Path


def _is_audio(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith(".")


def find_tracks(spec: InputSpec) -> list[Track]:
    """Expand the input's patterns in order; each file once. Raises :class:`InputError`."""
    where = f"{spec.loc}: " if spec.loc else ""
    files: list[Path] = []
    for pattern in spec.patterns:
        p = Path(pattern).expanduser()
        p = p if p.is_absolute() else spec.base_dir / p
        if any(ch in pattern for ch in "*?["):
            found = [Path(f) for f in sorted(glob.glob(str(p), recursive=True))]
            found = [f for f in found if _is_audio(f)]
            if not found:
                raise InputError(f"{where}input '{spec.name}': no audio file matches {pattern!r} "
                                 f"(looked in {p.parent}); check the pattern")
        elif p.is_dir():
            found = sorted(f for f in p.rglob("*") if _is_audio(f))
            if not found:
                if spec.default:
                    raise InputError(f"the bundled demo loop is missing from {p}; pass input files: "
                                     "drumflow run GRAPH song.wav")
                raise InputError(f"{where}input '{spec.name}': folder {p} holds no audio files "
                                 f"({', '.join(AUDIO_EXTENSIONS)})")
        elif p.is_file():
            if p.suffix.lower() not in AUDIO_EXTENSIONS:
                raise InputError(f"{where}input '{spec.name}': {p} is not an audio file we read "
                                 f"({', '.join(AUDIO_EXTENSIONS)})")
            found = [p]
        else:
            raise InputError(f"{where}input '{spec.name}': {p} does not exist; give a file, a folder or a glob")
        for f in found:
            f = f.resolve()
            if f not in files:
                files.append(f)
    tracks = [Track(f.stem, f) for f in files]
    seen: dict[str, Path] = {}
    for t in tracks:
        if t.name in seen:
            raise InputError(f"two inputs are both named '{t.name}' ({seen[t.name]} and {t.path}); "
                             "{track} would clash: rename one or run them separately")
        seen[t.name] = t.path
    return tracks
