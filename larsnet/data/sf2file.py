"""Read the structure of an SF2 SoundFont (presets, zones, sample names) in pure Python.

TinySoundFont renders audio but does not tell which bank/program a preset has, which
keys it covers, or what its samples are called. Those come from the ``pdta`` chunk,
read here in milliseconds without touching the sample data, so that listing kits and
planning their mapping never needs a render. The layout follows the SoundFont 2.04
specification (RIFF ``sfbk``: ``INFO``, ``sdta``, ``pdta`` with phdr/pbag/pgen,
inst/ibag/igen and shdr records).
"""
from __future__ import annotations

import functools
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from larsnet.errors import KitError

GEN_INSTRUMENT = 41
GEN_KEY_RANGE = 43
GEN_VEL_RANGE = 44
GEN_COARSE_TUNE = 51
GEN_FINE_TUNE = 52
GEN_SAMPLE_ID = 53
GEN_SCALE_TUNING = 56
GEN_ROOT_KEY = 58
SIGNED_GENS = {GEN_COARSE_TUNE, GEN_FINE_TUNE, GEN_SCALE_TUNING, GEN_ROOT_KEY}
RANGE_GENS = {GEN_KEY_RANGE, GEN_VEL_RANGE}


@dataclass
class Zone:
    """One sample as a preset plays it: key and velocity ranges, and tuning."""

    sample_id: int
    sample_name: str
    instrument: str
    lokey: int
    hikey: int
    lovel: int
    hivel: int
    root_key: int
    scale_tuning: float
    cents: float
    """coarse * 100 + fine + the sample's pitch correction, preset and instrument summed."""

    def semitones(self, key: int) -> float:
        return (key - self.root_key) * self.scale_tuning / 100.0 + self.cents / 100.0


@dataclass
class Preset:
    name: str
    bank: int
    program: int
    zones: list[Zone] = field(default_factory=list)

    def keys(self) -> set[int]:
        return {k for z in self.zones for k in range(z.lokey, z.hikey + 1)}


@dataclass
class Sf2File:
    path: Path
    name: str
    author: str
    copyright: str
    comment: str
    presets: list[Preset]


def _chunks(f: BinaryIO, end: int):
    while f.tell() + 8 <= end:
        head = f.read(8)
        cid, size = struct.unpack("<4sI", head)
        start = f.tell()
        yield cid, size, start
        f.seek(start + size + (size & 1))


def _records(data: bytes, fmt: str) -> list[tuple]:
    size = struct.calcsize(fmt)
    return [struct.unpack_from(fmt, data, i) for i in range(0, len(data) - size + 1, size)]


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def read_sf2(path: str | Path) -> Sf2File:
    """Parse an SF2's INFO and pdta chunks. KitError if it is not a SoundFont.

    Memoised per process on (path, size, mtime): listing a SoundFont with 30 drum
    presets would otherwise parse it 30 times. Treat the result as read-only.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise KitError(path, f"cannot read SF2 ({exc.strerror or exc})") from exc
    return _read_sf2_cached(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _read_sf2_cached(path_text: str, size: int, mtime_ns: int) -> Sf2File:
    path = Path(path_text)
    info: dict[str, str] = {}
    pdta: dict[str, bytes] = {}
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
                raise KitError(path, "not an SF2 SoundFont (no RIFF sfbk header)")
            riff_end = 8 + struct.unpack("<I", head[4:8])[0]
            for cid, size, start in _chunks(f, riff_end):
                if cid != b"LIST":
                    continue
                kind = f.read(4)
                if kind == b"INFO":
                    for sub, sub_size, _ in _chunks(f, start + size):
                        info[sub.decode("latin-1")] = _cstr(f.read(sub_size))
                elif kind == b"pdta":
                    for sub, sub_size, _ in _chunks(f, start + size):
                        pdta[sub.decode("latin-1")] = f.read(sub_size)
    except OSError as exc:
        raise KitError(path, f"cannot read SF2 ({exc.strerror or exc})") from exc
    except struct.error as exc:
        raise KitError(path, "truncated SF2 file") from exc
    needed = ("phdr", "pbag", "pgen", "inst", "ibag", "igen", "shdr")
    if any(k not in pdta for k in needed):
        raise KitError(path, f"SF2 without preset data (missing {', '.join(k for k in needed if k not in pdta)})")
    return Sf2File(
        path=path,
        name=info.get("INAM", path.stem),
        author=info.get("IENG", ""),
        copyright=info.get("ICOP", ""),
        comment=info.get("ICMT", ""),
        presets=_presets(path, pdta),
    )


def _gens(bags: list[tuple], gens: list[tuple], first: int, last: int) -> list[dict[int, int]]:
    zones = []
    for b in range(first, min(last, len(bags) - 1)):
        zone: dict[int, int] = {}
        for op, amount in gens[bags[b][0]: bags[b + 1][0]]:
            if op in RANGE_GENS:
                zone[op] = amount  # lo byte, hi byte
            elif op in SIGNED_GENS:
                zone[op] = amount - 0x10000 if amount >= 0x8000 else amount
            else:
                zone[op] = amount
        zones.append(zone)
    return zones


def _range(zone: dict[int, int], op: int) -> tuple[int, int]:
    value = zone.get(op)
    return (0, 127) if value is None else (value & 0xFF, value >> 8)


def _split_global(zones: list[dict[int, int]], terminal: int) -> tuple[dict[int, int], list[dict[int, int]]]:
    if zones and terminal not in zones[0]:
        return zones[0], [z for z in zones[1:] if terminal in z]
    return {}, [z for z in zones if terminal in z]


def _presets(path: Path, pdta: dict[str, bytes]) -> list[Preset]:
    phdr = _records(pdta["phdr"], "<20sHHHIII")
    pbag = _records(pdta["pbag"], "<HH")
    pgen = _records(pdta["pgen"], "<HH")
    inst = _records(pdta["inst"], "<20sH")
    ibag = _records(pdta["ibag"], "<HH")
    igen = _records(pdta["igen"], "<HH")
    shdr = _records(pdta["shdr"], "<20sIIIIIBbHH")
    if len(phdr) < 2 or len(inst) < 2 or len(shdr) < 1:
        raise KitError(path, "SF2 has no presets")
    inst_zones = []
    for i in range(len(inst) - 1):
        zones = _gens(ibag, igen, inst[i][1], inst[i + 1][1])
        inst_zones.append(_split_global(zones, GEN_SAMPLE_ID))
    presets = []
    for p in range(len(phdr) - 1):  # the last record is the EOP terminator
        name, program, bank, bag0 = _cstr(phdr[p][0]), phdr[p][1], phdr[p][2], phdr[p][3]
        pglobal, pzones = _split_global(_gens(pbag, pgen, bag0, phdr[p + 1][3]), GEN_INSTRUMENT)
        preset = Preset(name=name, bank=bank, program=program)
        for pz in pzones:
            pmerged = {**pglobal, **pz}
            idx = pmerged[GEN_INSTRUMENT]
            if idx >= len(inst_zones):
                continue
            pk, pv = _range(pmerged, GEN_KEY_RANGE), _range(pmerged, GEN_VEL_RANGE)
            iglobal, izones = inst_zones[idx]
            for iz in izones:
                m = {**iglobal, **iz}
                sid = m[GEN_SAMPLE_ID]
                if sid >= len(shdr) - 1:
                    continue
                ik, iv = _range(m, GEN_KEY_RANGE), _range(m, GEN_VEL_RANGE)
                lokey, hikey = max(pk[0], ik[0]), min(pk[1], ik[1])
                lovel, hivel = max(pv[0], iv[0]), min(pv[1], iv[1])
                if lokey > hikey or lovel > hivel:
                    continue
                sample = shdr[sid]
                root = m.get(GEN_ROOT_KEY, -1)
                preset.zones.append(Zone(
                    sample_id=sid,
                    sample_name=_cstr(sample[0]),
                    instrument=_cstr(inst[idx][0]),
                    lokey=lokey, hikey=hikey, lovel=lovel, hivel=hivel,
                    root_key=root if 0 <= root <= 127 else sample[6],
                    scale_tuning=m.get(GEN_SCALE_TUNING, 100) + pmerged.get(GEN_SCALE_TUNING, 0),
                    cents=100.0 * (m.get(GEN_COARSE_TUNE, 0) + pmerged.get(GEN_COARSE_TUNE, 0))
                    + m.get(GEN_FINE_TUNE, 0) + pmerged.get(GEN_FINE_TUNE, 0) + sample[7],
                ))
        presets.append(preset)
    return presets
