"""One exception family for drumflow, and the one place that maps it to exit codes.

Every message is a single line that names where the problem is (``file:line:col``),
which node, what is wrong and how to fix it, e.g.::

    graphs/remix.yaml:12:9: node 'kick': unknown parameter 'treshold_db' of Compressor (did you mean 'threshold_db'?)

The CLI prints ``error: <message>`` per error; tracebacks only with ``--debug``.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Sequence

EXIT_OK = 0
EXIT_FAILED = 1
"""A run finished but at least one node or track failed (keep-going), or an internal error."""
EXIT_USAGE = 2
"""The graph, an override or a command-line option is wrong; nothing was run."""
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Loc:
    """Where something was written: a graph file position, or a ``--set`` override.

    ``line``/``col`` are 1-based; 0 means unknown. For overrides ``file`` is ``"--set"``
    and ``text`` holds the override as typed.
    """

    file: str
    line: int = 0
    col: int = 0
    text: str = ""

    def __str__(self) -> str:
        if self.file == "--set":
            return f"--set {self.text}"
        if self.line:
            return f"{self.file}:{self.line}:{self.col}"
        return self.file


class DrumflowError(Exception):
    """Base class of every error a user can cause; ``exit_code`` is what the CLI returns."""

    exit_code = EXIT_FAILED


class GraphError(DrumflowError):
    """Something wrong in a graph file or an override, found before any audio is touched."""

    exit_code = EXIT_USAGE

    def __init__(self, problem: str, *, loc: Loc | None = None, node: str | None = None, hint: str | None = None):
        self.problem = problem
        self.loc = loc
        self.node = node
        self.hint = hint
        super().__init__(self._format())

    @property
    def file(self) -> str | None:
        return self.loc.file if self.loc else None

    @property
    def line(self) -> int:
        return self.loc.line if self.loc else 0

    def _format(self) -> str:
        parts = []
        if self.loc:
            parts.append(f"{self.loc}: ")
        if self.node:
            parts.append(f"node '{self.node}': ")
        parts.append(self.problem)
        if self.hint:
            parts.append(f" ({self.hint})")
        return "".join(parts)


class GraphErrors(GraphError):
    """Several validation errors at once; ``str()`` is one line per error."""

    def __init__(self, errors: Sequence[GraphError]):
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.problem, loc=first.loc, node=first.node, hint=first.hint)
        self.args = ("\n".join(str(e) for e in self.errors),)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class InputError(DrumflowError):
    """Input files are missing or unusable (no file matched, two tracks with one name, ...)."""

    exit_code = EXIT_USAGE


class RegistryError(DrumflowError):
    """A node type cannot be loaded from its entry point, or two packages claim one name."""

    exit_code = EXIT_USAGE


class CacheError(DrumflowError):
    """The cache folder cannot be used."""


def exit_code_for(exc: BaseException) -> int:
    """Exception -> process exit code, in one place."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, DrumflowError):
        return exc.exit_code
    try:  # larsnet's own user errors carry their code (OptionError = 2)
        from larsnet.errors import LarsNetError
    except ImportError:  # pragma: no cover - larsnet always ships with drumflow
        LarsNetError = ()  # type: ignore[assignment]
    if LarsNetError and isinstance(exc, LarsNetError):
        return int(getattr(exc, "exit_code", EXIT_FAILED))
    return EXIT_FAILED


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """``"did you mean 'x'?"`` for the closest choice, or None."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def one_of(choices: Iterable[str]) -> str:
    return ", ".join(f"'{c}'" for c in choices)
