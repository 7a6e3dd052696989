"""One exception family for everything a user can get wrong.

Every message is a single line that names the file (or option) and the fix, so that
the CLI can print ``error: <message>`` and move on to the next file of a batch.
Tracebacks are shown only with ``--debug``.
"""
from __future__ import annotations

from pathlib import Path


class LarsNetError(Exception):
    """Base class of all user-facing errors raised by larsnet."""

    exit_code = 1


class AudioInputError(LarsNetError):
    """An input audio file is missing, unreadable, empty, non-finite or has a bad layout."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class CheckpointError(LarsNetError):
    """A model file or folder cannot be used: missing, wrong keys or shapes, unknown format."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class OptionError(LarsNetError):
    """A command-line option or API argument is out of range."""

    exit_code = 2


class KitError(LarsNetError):
    """A drum kit cannot be loaded or maps no usable pieces."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class MidiError(LarsNetError):
    """A MIDI file cannot be used: corrupt, empty, or without drum notes."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)
