"""Drum transcription: separated (or true) drum stems -> General MIDI drum notes.

- :mod:`~larsnet.transcription.onsets`: log-band spectral flux and peak picking per stem;
- :mod:`~larsnet.transcription.classify`: velocity, open/closed hat, crash/ride, which tom;
- :mod:`~larsnet.transcription.transcribe`: :func:`transcribe` (stems -> notes);
- :mod:`~larsnet.transcription.bleed`: the gate that drops one stem's hits heard through another;
- :mod:`~larsnet.transcription.quantize`: tempo estimate and grid snapping (optional);
- :mod:`~larsnet.transcription.midi`: :func:`write_midi`;
- :mod:`~larsnet.transcription.evaluation`: onset F-measure per stem against known MIDI.

    >>> from larsnet.transcription import transcribe, write_midi
    >>> notes = transcribe({"kick": kick, "snare": snare}, 44_100)
    >>> write_midi(notes, "drums.mid")
"""
from __future__ import annotations

from larsnet.transcription.midi import notes_to_midi, write_midi
from larsnet.transcription.notes import PIECE_PITCH, Note
from larsnet.transcription.quantize import estimate_tempo, quantize
from larsnet.transcription.bleed import BLEED_DB, RECORDED_BLEED_DB
from larsnet.transcription.transcribe import SOURCES, TranscriptionSettings, transcribe, transcribe_stem

__all__ = [
    "BLEED_DB",
    "PIECE_PITCH",
    "RECORDED_BLEED_DB",
    "SOURCES",
    "Note",
    "TranscriptionSettings",
    "estimate_tempo",
    "notes_to_midi",
    "quantize",
    "transcribe",
    "transcribe_stem",
    "write_midi",
]
