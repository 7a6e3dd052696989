"""What an instrument's name (and MIDI note) says about which drum piece it is.

Kit authors name instruments freely: "Pearl Kick", "BD_01", "SabianRockHatCl",
"tomhi2", "c3 - bass drum 1", "Hi-Hat Closed (Paiste 14")". Names are split into
words (camelCase, digits and glued keywords like ``closehihat`` are separated), and the
words vote for pieces. MIDI notes vote too, but only when the name says nothing: in
real kits the notes are often wrong (every Hydrogen instrument on note 60) or
non-standard (the AVL kits put a hi-hat swish on 48, a GM high tom note), whereas a
name that says "hat" is never a tom.

Scores are small numbers on purpose: 3 for a clear name, 1.5 for a GM note, minus 1.5
for an articulation (rimshot, choke, bell...) so that "Snare" beats "Snare Rimshot"
but a rimshot is still used when it is all a kit has.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

KICK = {"kick", "kik", "kck", "bd", "bassdrum", "kickdrum", "bombo", "bass"}
SNARE = {"snare", "snr", "sd", "sn", "snaredrum"}
TOM = {"tom", "toms", "tomtom", "floortom", "racktom", "ft", "flr", "floor"}
HAT = {"hat", "hh", "hihat", "hihats", "hats", "hhat", "hatc", "hato", "hhc", "hho", "hhp",
       "chh", "ohh", "phh"}
CYMBAL = {"cymbal", "cym", "cymb"}
CLOSED = {"closed", "close", "cl", "clsd", "tight", "chh", "hhc", "hatc"}
OPEN = {"open", "opened", "op", "opn", "oh", "ohh", "hho", "hato"}
SEMI = {"semi", "semiopen", "half", "halfopen", "se", "loose"}
PEDAL = {"pedal", "pd", "pe", "ped", "foot", "chick", "phh", "hhp"}
CRASH = {"crash", "crsh", "cra", "cras"}  # "Cras": SF2 sample names are cut at 20 chars
EXTRA_CYMBAL = {"splash", "china", "chinese", "spl"}
RIDE = {"ride", "rd"}
ARTICULATION = {"rim", "rimshot", "rimclick", "stick", "sidestick", "xstick", "crossstick",
                "roll", "flam", "drag", "ghost", "edge", "swish", "choke", "choked", "mute",
                "muted", "stop", "flink", "brush", "brushes", "buzz", "press", "bell", "cup",
                "sizzle", "dead", "damp", "trash", "ch", "sw"}
OTHER = {"clap", "claps", "handclap", "cowbell", "tamb", "tambourine", "tambourin", "conga",
         "congas", "bongo", "bongos", "shaker", "clave", "claves", "agogo", "cajon", "djembe",
         "maraca", "maracas", "woodblock", "block", "triangle", "whistle", "cabasa", "guiro",
         "timbale", "timbales", "vibraslap", "scratch", "click", "metronome", "snap", "snaps",
         "finger", "zap", "noise", "perc", "cuica", "castanet", "castanets", "chime", "chimes",
         "gong", "tabla", "waterglass", "sangban", "dununba", "kenkeni", "laser", "blip",
         "beep", "vox", "voice", "bells", "tambo", "shake", "fx"}
HEIGHT = {"floor": 0.0, "flr": 0.0, "ft": 0.0, "floortom": 0.0, "low": 1.0, "lo": 1.0,
          "lw": 1.0, "mid": 2.0, "middle": 2.0, "med": 2.0, "md": 2.0, "high": 3.0, "hi": 3.0, "rack": 3.0}
GLUE = {"hi", "lo", "low", "mid", "high", "drum", "tom", "hat", "kick", "snare", "open",
        "closed", "close", "pedal", "crash", "ride", "hh", "bass", "floor", "rack", "side",
        "stick", "rim", "shot", "cymbal", "bell", "cup", "semi", "half", "splash", "china",
        "choke", "edge", "roll", "op", "cl"}
"""Words that may be glued to others in a token (``tomhi``, ``closehihat``, ``hhopen``)."""

VOCABULARY = (KICK | SNARE | TOM | HAT | CYMBAL | CLOSED | OPEN | SEMI | PEDAL | CRASH
              | EXTRA_CYMBAL | RIDE | ARTICULATION | OTHER | set(HEIGHT) | GLUE)

NOTE_SCORE: dict[int, tuple[str, float]] = {
    35: ("kick", 1.5), 36: ("kick", 1.6),
    38: ("snare", 1.6), 40: ("snare", 1.5), 37: ("snare", 0.5),
    41: ("tom", 1.5), 43: ("tom", 1.5), 45: ("tom", 1.5), 47: ("tom", 1.5),
    48: ("tom", 1.5), 50: ("tom", 1.5),
    42: ("hihat_closed", 1.5), 44: ("hihat_closed", 1.0), 46: ("hihat_open", 1.5),
    49: ("crash", 1.6), 57: ("crash", 1.5), 52: ("crash", 0.5), 55: ("crash", 0.5),
    51: ("ride", 1.6), 59: ("ride", 1.5), 53: ("ride", 0.5),
}
"""General MIDI percussion notes as evidence for a piece: strong for the usual notes
(a hair stronger for the main one of a pair: 36 over 35, 38 over 40, 49 over 57, 51
over 59), weak for the GMD extras (side stick, china, splash, ride bell)."""

TOM_NOTE_HEIGHT: dict[int, float] = {41: 0.0, 43: 0.5, 45: 1.5, 47: 2.0, 48: 2.5, 50: 3.0}
"""Relative height of the GM tom notes, on the scale of :data:`HEIGHT`."""

ARTICULATION_PENALTY = 1.5


@dataclass
class NameVotes:
    """What a name says: piece (or ``"tom"``) -> score, and how to rank toms."""

    pieces: dict[str, float] = field(default_factory=dict)
    penalty: float = 0.0
    other: bool = False
    """Percussion that is none of the nine pieces (clap, cowbell...): never mapped by note."""
    tom_height: float | None = None
    tom_number: int | None = None
    words: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        """True if the name said anything at all (then notes may not contradict it)."""
        return bool(self.pieces) or self.other


def words(name: str) -> tuple[str, ...]:
    """Split a name into lowercase words: camelCase, digits and glued keywords apart."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    spaced = re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", spaced)
    out: list[str] = []
    for token in re.split(r"[^a-z0-9]+", spaced.lower()):
        if token:
            out.extend(_unglue(token))
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def _unglue(token: str) -> tuple[str, ...]:
    """``tomhi`` -> (tom, hi) when the token is exactly a run of known words."""
    if token in VOCABULARY or token.isdigit() or len(token) < 4:
        return (token,)
    best: list[tuple[str, ...] | None] = [None] * (len(token) + 1)
    best[0] = ()
    for end in range(1, len(token) + 1):
        for start in range(max(0, end - 12), end):
            piece = token[start:end]
            if best[start] is not None and len(piece) >= 2 and piece in VOCABULARY:
                candidate = best[start] + (piece,)
                if best[end] is None or len(candidate) < len(best[end]):
                    best[end] = candidate
    return best[-1] if best[-1] else (token,)


def classify(name: str) -> NameVotes:
    """The votes of one instrument name. Pure; cached by the caller if needed."""
    bare = re.sub(r"\([^)]*\)", " ", name)  # "(Paiste Alpha Metal edge 14\")" describes the
    ws = words(bare if bare.strip() else name)  # model, not the articulation
    s = set(ws)
    pairs = set(zip(ws, ws[1:]))
    votes = NameVotes(words=ws)
    hat = bool(s & HAT) or ("hi", "hat") in pairs or (bool(s & CYMBAL) and bool(s & (CLOSED | OPEN | PEDAL)))
    kick = bool(s & KICK) or ("bass", "drum") in pairs
    if s & OTHER:
        votes.other = True
        return votes
    if kick:
        votes.pieces["kick"] = 2.0 if s & KICK == {"bass"} else 3.0
    if s & SNARE:
        votes.pieces["snare"] = 3.0
    if s & TOM:
        votes.pieces["tom"] = 3.0
        votes.tom_height = _name_height(ws)
        votes.tom_number = next((int(w) for w in ws if w.isdigit() and 0 < int(w) < 10), None)
    if hat:
        if s & CLOSED or ("ch" in s and not s & OPEN):
            votes.pieces["hihat_closed"] = 3.0
        elif s & SEMI:
            votes.pieces["hihat_open"] = 2.0
        elif s & OPEN:
            votes.pieces["hihat_open"] = 3.0
        elif s & PEDAL:
            votes.pieces["hihat_closed"] = 1.5
        else:
            votes.pieces["hihat_closed"] = votes.pieces["hihat_open"] = 1.0
    else:
        crash, ride = bool(s & CRASH), bool(s & RIDE)
        if crash and ride:
            votes.pieces["crash"] = votes.pieces["ride"] = 2.0
        elif crash:
            votes.pieces["crash"] = 3.0
        elif ride:
            votes.pieces["ride"] = 3.0
        elif s & EXTRA_CYMBAL or s & CYMBAL:
            votes.pieces["crash"] = 1.5
        elif s & {"bell", "cup"}:
            votes.pieces["ride"] = 1.0
    articulations = s & ARTICULATION - ({"ch"} if hat else set())
    if s & (CRASH | RIDE) and "c" in s:  # "CrashC": a choke, name cut at 20 chars
        articulations.add("c")
    if articulations:
        if not votes.pieces and s & {"stick", "sidestick", "xstick", "crossstick", "rim", "rimclick"}:
            votes.other = True  # a lone "Stick" or "Rim" is a side stick, not a snare
        votes.penalty = ARTICULATION_PENALTY
    return votes


def _name_height(ws: tuple[str, ...]) -> float | None:
    """Height words of a tom name: floor dominates ("Low Floor" below "Floor", "High
    Floor" above it); otherwise the mean ("Low Mid" 1.5, "MdHi" 2.5)."""
    heights = [HEIGHT[w] for w in ws if w in HEIGHT]
    if not heights:
        return None
    if 0.0 in heights:
        return 0.0 - 0.5 * ("low" in ws or "lo" in ws) + 0.5 * ("high" in ws or "hi" in ws)
    return sum(heights) / len(heights)


def note_votes(notes: tuple[int, ...]) -> dict[str, float]:
    """Best GM-note score per piece (``"tom"`` for any tom note)."""
    out: dict[str, float] = {}
    for note in notes:
        if note in NOTE_SCORE:
            piece, score = NOTE_SCORE[note]
            out[piece] = max(out.get(piece, 0.0), score)
    return out


def tom_height(votes: NameVotes, notes: tuple[int, ...]) -> float:
    """Where a tom sits from floor (0) to high (3): the name's word, else its GM note,
    else its number ("Tom 1" is the highest rack tom), else a rack tom (3)."""
    if votes.tom_height is not None:
        return votes.tom_height
    heights = [TOM_NOTE_HEIGHT[n] for n in notes if n in TOM_NOTE_HEIGHT]
    if heights:
        return min(heights)
    if votes.tom_number is not None:
        return max(1.0, 3.0 - 0.5 * (votes.tom_number - 1))
    return 3.0
