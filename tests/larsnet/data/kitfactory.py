"""Tiny drum kits in every format (Hydrogen, SFZ, SF2, plain folder), written into tmp_path.

Samples are generated one-shots (decaying sines or noise, 30-60 ms) so that a kit costs
milliseconds to write and load. Each helper returns the path to hand to ``load_kit``.
The SF2 writer produces a minimal but valid SoundFont 2.01 (RIFF sfbk with INFO,
sdta/smpl and the nine pdta sub-chunks) that TinySoundFont plays.
"""
from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 44_100


def oneshot(freq: float = 200.0, seconds: float = 0.05, rate: int = RATE, *, noise: bool = False,
            amplitude: float = 0.8, seed: int = 0) -> np.ndarray:
    """Mono decaying sine (or noise burst), float32."""
    t = np.arange(int(seconds * rate)) / rate
    env = np.exp(-t * 60.0)
    if noise:
        body = np.random.default_rng(seed).uniform(-1.0, 1.0, t.size)
    else:
        body = np.sin(2 * np.pi * freq * t)
    return (amplitude * env * body).astype(np.float32)


def write_wav(path: Path, audio: np.ndarray | None = None, rate: int = RATE, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), oneshot(rate=rate, **kw) if audio is None else audio, rate)
    return path


# --- Hydrogen --------------------------------------------------------------------

HYDROGEN_INSTRUMENTS = [
    # name, note, mute group, [(file, min, max, gain[, pitch in semitones])]
    ("Kick", 36, -1, [("kick_soft.wav", 0.0, 0.5, 1.0), ("kick_hard.wav", 0.5, 1.0, 0.8)]),
    ("Snare", 38, -1, [("snare_a.wav", 0.0, 1.0, 1.0), ("snare_b.wav", 0.0, 1.0, 1.0)]),
    ("Tom Hi", 50, -1, [("tom_hi.wav", 0.0, 1.0, 1.0)]),
    ("Tom Low", 43, -1, [("tom_low.wav", 0.0, 1.0, 1.0)]),
    ("Hat Closed", 42, 1, [("hh_closed.wav", 0.0, 1.0, 1.0)]),
    ("Hat Open", 46, 1, [("hh_open.wav", 0.0, 1.0, 1.0)]),
    ("Crash", 49, -1, [("crash.wav", 0.0, 1.0, 1.0)]),
    ("Ride", 51, -1, [("ride.wav", 0.0, 1.0, 1.0)]),
    ("Cowbell", 56, -1, [("cowbell.wav", 0.0, 1.0, 1.0)]),
]


def make_hydrogen_kit(root: Path, *, layout: str = "namespaced", name: str = "Test Kit",
                      rate: int = 48_000, notes: bool = True, license: str = "CC0",
                      instruments: list | None = None, skip_files: Sequence[str] = ()) -> Path:
    """A Hydrogen kit folder. layout: "namespaced" (instrumentComponent/layer),
    "old" (no namespace, instrument/layer) or "oldest" (instrument/filename)."""
    root.mkdir(parents=True, exist_ok=True)
    insts = HYDROGEN_INSTRUMENTS if instruments is None else instruments
    parts = []
    for i, (inst_name, note, group, layers) in enumerate(insts):
        if layout == "oldest":
            body = f"<filename>{layers[0][0]}</filename>"
        else:
            body = "".join(
                f"<layer><filename>{f}</filename><min>{lo}</min><max>{hi}</max><gain>{g}</gain>"
                f"<pitch>{pitch[0] if pitch else 0}</pitch></layer>"
                for f, lo, hi, g, *pitch in layers)
            if layout == "namespaced":
                body = f"<instrumentComponent><component_id>0</component_id>{body}</instrumentComponent>"
        note_xml = f"<midiOutNote>{note if notes else 60}</midiOutNote>"
        parts.append(
            f"<instrument><id>{i}</id><name>{inst_name}</name><volume>1</volume><isMuted>false</isMuted>"
            f"<pan_L>1</pan_L><pan_R>{0.5 if inst_name == 'Ride' else 1}</pan_R><gain>1</gain>"
            f"<muteGroup>{group}</muteGroup>{note_xml}{body}</instrument>")
        for j, (f, *_rest) in enumerate(layers):
            if f not in skip_files:
                write_wav(root / f, rate=rate, freq=100.0 + 50 * i + 10 * j)
    ns = ' xmlns="http://www.hydrogen-music.org/drumkit"' if layout == "namespaced" else ""
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<drumkit_info{ns}><name>{name}</name>'
           f"<author>Test Author</author><license>{license}</license>"
           f"<instrumentList>{''.join(parts)}</instrumentList></drumkit_info>")
    (root / "drumkit.xml").write_text(xml, encoding="utf-8")
    return root


# --- SFZ -------------------------------------------------------------------------

SFZ_TEXT = r"""// a tiny kit
/* block
   comment */
#define $KICK 36
<control> default_path=samples\
<global> pitch_keytrack=0
<group> key=$KICK
<region> sample=kick_soft.wav hivel=63
<region> sample=kick_hard.wav lovel=64
<group> key=d2 seq_length=2
<region> sample=snare1.wav seq_position=2
<region> sample=snare2.wav seq_position=1
<group> group=1 off_by=2 key=46
<region> sample=hat open.wav
<group> group=2 key=42
<region> sample=hat_closed.wav volume=-6.0206 pan=-50
<group>
<region> sample=tom.wav key=48 tune=-300
<region> sample=crash.wav key=c#3
<region> sample=ride.wav key=51
<region> sample=*sine key=60
<region> sample=kick_hard.wav key=36 trigger=release
"""
SFZ_SAMPLES = ["kick_soft.wav", "kick_hard.wav", "snare1.wav", "snare2.wav", "hat open.wav",
               "hat_closed.wav", "tom.wav", "crash.wav", "ride.wav"]


def make_sfz_kit(root: Path, *, skip: Sequence[str] = (), text: str = SFZ_TEXT) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(SFZ_SAMPLES):
        if name not in skip:
            write_wav(root / "samples" / name, freq=100.0 + 40 * i, rate=22_050 if name == "ride.wav" else RATE)
    path = root / "kit.sfz"
    path.write_text(text, encoding="utf-8")
    return path


# --- plain folder ----------------------------------------------------------------

def make_folder_kit(root: Path, *, toms: Sequence[str] = ("tom1", "tom3")) -> Path:
    write_wav(root / "kick" / "kick_v1.wav", freq=60, amplitude=0.3)
    write_wav(root / "kick" / "kick_v2.wav", freq=60, amplitude=0.9)
    write_wav(root / "snare" / "snare_rr1.wav", noise=True, seed=1)
    write_wav(root / "snare" / "snare_rr2.wav", noise=True, seed=2)
    write_wav(root / "HH" / "hat.flac", noise=True, seed=3)
    write_wav(root / "hihat_open" / "soft" / "a.wav", noise=True, seed=4, amplitude=0.2)
    write_wav(root / "hihat_open" / "hard" / "a.wav", noise=True, seed=5)
    write_wav(root / "ride" / "ride.wav", freq=3000)
    for i, tom in enumerate(toms):
        write_wav(root / tom / "hit.wav", freq=150 - 30 * i)
    write_wav(root / "cowbell" / "cb.wav", freq=800)
    (root / "LICENSE").write_text("\nCC0-1.0, do what you like\n")
    return root


# --- SF2 -------------------------------------------------------------------------

@dataclass
class Sf2Zone:
    lokey: int
    hikey: int
    lovel: int
    hivel: int
    sample: str
    root_key: int | None = None


def _chunk(cid: bytes, data: bytes) -> bytes:
    pad = b"\0" if len(data) % 2 else b""
    return cid + struct.pack("<I", len(data)) + data + pad


def _list(kind: bytes, *chunks: bytes) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def _name(text: str, size: int = 20) -> bytes:
    return text.encode("latin-1")[: size - 1].ljust(size, b"\0")


def write_sf2(path: Path, *, samples: dict[str, np.ndarray], instruments: dict[str, list[Sf2Zone]],
              presets: list[tuple[str, int, int, list[str]]], name: str = "Test SoundFont",
              rate: int = RATE) -> Path:
    """A minimal valid SF2. ``presets``: (name, bank, program, instrument names)."""
    smpl = bytearray()
    shdr = bytearray()
    sample_ids: dict[str, int] = {}
    pos = 0
    for i, (sname, audio) in enumerate(samples.items()):
        pcm = np.clip(np.asarray(audio) * 32767, -32768, 32767).astype("<i2")
        smpl += pcm.tobytes() + b"\0\0" * 46  # 46 zero points after each sample (spec)
        start, end = pos, pos + pcm.size
        shdr += struct.pack("<20sIIIIIBbHH", _name(sname), start, end, start + 8, end - 8, rate, 60, 0, 0, 1)
        pos = end + 46
        sample_ids[sname] = i
    shdr += struct.pack("<20sIIIIIBbHH", _name("EOS"), 0, 0, 0, 0, 0, 0, 0, 0, 0)

    inst, ibag, igen = bytearray(), bytearray(), bytearray()
    inst_ids: dict[str, int] = {}
    bag = gen = 0
    for i, (iname, zones) in enumerate(instruments.items()):
        inst += struct.pack("<20sH", _name(iname), bag)
        inst_ids[iname] = i
        for z in zones:
            ibag += struct.pack("<HH", gen, 0)
            bag += 1
            for op, amount in ((43, z.lokey | (z.hikey << 8)), (44, z.lovel | (z.hivel << 8)),
                               (58, z.lokey if z.root_key is None else z.root_key), (54, 0),
                               (53, sample_ids[z.sample])):
                igen += struct.pack("<HH", op, amount)
                gen += 1
    inst += struct.pack("<20sH", _name("EOI"), bag)
    ibag += struct.pack("<HH", gen, 0)
    igen += struct.pack("<HH", 0, 0)

    phdr, pbag, pgen = bytearray(), bytearray(), bytearray()
    bag = gen = 0
    for pname, bank, program, inames in presets:
        phdr += struct.pack("<20sHHHIII", _name(pname), program, bank, bag, 0, 0, 0)
        for iname in inames:
            pbag += struct.pack("<HH", gen, 0)
            bag += 1
            pgen += struct.pack("<HH", 41, inst_ids[iname])
            gen += 1
    phdr += struct.pack("<20sHHHIII", _name("EOP"), 0, 0, bag, 0, 0, 0)
    pbag += struct.pack("<HH", gen, 0)
    pgen += struct.pack("<HH", 0, 0)
    mod_terminal = b"\0" * 10

    info = _list(b"INFO", _chunk(b"ifil", struct.pack("<HH", 2, 1)), _chunk(b"isng", b"EMU8000\0"),
                 _chunk(b"INAM", name.encode("latin-1") + b"\0"), _chunk(b"IENG", b"Test Engineer\0"))
    sdta = _list(b"sdta", _chunk(b"smpl", bytes(smpl)))
    pdta = _list(b"pdta", _chunk(b"phdr", bytes(phdr)), _chunk(b"pbag", bytes(pbag)),
                 _chunk(b"pmod", mod_terminal), _chunk(b"pgen", bytes(pgen)), _chunk(b"inst", bytes(inst)),
                 _chunk(b"ibag", bytes(ibag)), _chunk(b"imod", mod_terminal), _chunk(b"igen", bytes(igen)),
                 _chunk(b"shdr", bytes(shdr)))
    body = b"sfbk" + info + sdta + pdta
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def make_sf2_kit(path: Path) -> Path:
    """Two drum presets (bank 128: 0 "Studio", 25 "Electro") and a melodic one.

    Studio: a kick with two velocity-switched samples (100 Hz soft, 300 Hz hard), snare,
    closed and open hat, two toms (45, 50) and crash/ride; the floor tom is missing.
    """
    samples = {
        "Kick Soft": oneshot(100, 0.06, amplitude=0.5),
        "Kick Hard": oneshot(300, 0.06, amplitude=0.9),
        "Snare": oneshot(noise=True, seconds=0.05),
        "Hat Closed": oneshot(noise=True, seconds=0.03, seed=2),
        "Hat Open": oneshot(noise=True, seconds=0.06, seed=3),
        "Tom": oneshot(150, 0.06),
        "Crash": oneshot(noise=True, seconds=0.06, seed=4),
        "Ride": oneshot(2500, 0.06),
        "Piano": oneshot(440, 0.06),
    }
    instruments = {
        "Kick": [Sf2Zone(36, 36, 0, 63, "Kick Soft"), Sf2Zone(36, 36, 64, 127, "Kick Hard")],
        "Snare": [Sf2Zone(38, 38, 0, 127, "Snare")],
        "Hats": [Sf2Zone(42, 42, 0, 127, "Hat Closed"), Sf2Zone(46, 46, 0, 127, "Hat Open")],
        "Toms": [Sf2Zone(45, 45, 0, 127, "Tom", root_key=45), Sf2Zone(50, 50, 0, 127, "Tom", root_key=47)],
        "Cymbals": [Sf2Zone(49, 49, 0, 127, "Crash"), Sf2Zone(51, 51, 0, 127, "Ride")],
        "Piano": [Sf2Zone(0, 127, 0, 127, "Piano", root_key=60)],
    }
    presets = [
        ("Piano", 0, 0, ["Piano"]),
        ("Studio", 128, 0, ["Kick", "Snare", "Hats", "Toms", "Cymbals"]),
        ("Electro", 128, 25, ["Kick", "Snare"]),
    ]
    return write_sf2(path, samples=samples, instruments=instruments, presets=presets)
