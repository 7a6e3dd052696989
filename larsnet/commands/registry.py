"""Which subcommands the ``larsnet`` CLI has.

A subcommand module exposes one click command named ``command``; adding a line here
is all it takes to register it. A module that fails to import is a bug, not a skip.
"""
from __future__ import annotations

import importlib

import click

COMMAND_MODULES: tuple[str, ...] = (
    "larsnet.commands.separate",
    "larsnet.commands.convert",
    "larsnet.commands.kits",
    "larsnet.commands.synth",
    "larsnet.commands.train",
    "larsnet.commands.evaluate",
    "larsnet.commands.transcription",
    "larsnet.commands.average",
    "larsnet.commands.ensemble",
)


def all_commands() -> list[click.Command]:
    return [importlib.import_module(name).command for name in COMMAND_MODULES]
