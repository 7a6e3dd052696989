"""``larsnet kits``: list the drum kits found on this machine, or show one in detail.

Thin layer over :mod:`larsnet.data.discovery`. The listing maps every kit from its
metadata (no audio decoded, nothing rendered); ``--details`` loads one kit the way
training does (rendering an SF2 preset once, then cached) and prints its mapping.
"""
from __future__ import annotations

import json
import time

import click

from larsnet.data import discovery, sf2
from larsnet.data.discovery import KitDescription
from larsnet.data.loaders import load_kit
from larsnet.data.mapping import format_report, map_kit, summarize

INSTALL_HINT = "install kits with scripts/install-kits.sh, or point $LARSNET_KITS_PATH / --path at yours"


@click.command("kits")
@click.option("--details", metavar="NAME", help="Load kit NAME and print its mapping to the nine pieces.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--path", "paths", multiple=True, type=click.Path(), metavar="PATH",
              help="Also scan this kit or folder of kits (repeatable; $LARSNET_KITS_PATH too).")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False), metavar="YAML",
              help="With --details: try this piece mapping (e.g. `hi_tom: \"Tom 1\"`).")
def command(details: str | None, as_json: bool, paths: tuple[str, ...], mapping: str | None) -> None:
    """List drum kits (Hydrogen, SFZ, SF2, sample folders), their pieces and licenses.

    Kits are searched in the Debian kit packages' folders, $LARSNET_KITS_PATH and
    --path. A plain folder kit holds one folder per piece: kick/, snare/, hi_tom/,
    mid_tom/, floor_tom/, hihat_closed/, hihat_open/, crash/, ride/ (files _v1, _v2...
    are velocity layers, other files of a folder round-robin alternatives).
    """
    started = time.monotonic()
    entries = discovery.find_kits(paths)
    if details:
        _details(discovery.find_entry(details, entries), mapping, as_json)
        return
    if mapping:
        raise click.UsageError("--mapping only applies with --details NAME")
    descriptions = [discovery.describe(e) for e in entries]
    training = {e.name for e in discovery.training_kits(entries)}
    if as_json:
        click.echo(json.dumps({"kits": [_as_dict(d, d.entry.name in training) for d in descriptions]}, indent=2))
        return
    if not entries:
        click.echo(f"No drum kits found; {INSTALL_HINT}.", err=True)
        return
    click.echo(_table(descriptions, training))
    click.echo("\n" + _footer(entries, descriptions, training, time.monotonic() - started))


def _footer(entries: list[discovery.KitEntry], descriptions: list[KitDescription], training: set[str],
            seconds: float) -> str:
    usable = sum(d.usable for d in descriptions)
    held = [e.name for e in entries if e.held_out]
    families = {e.family for e in entries if e.name in training}
    tainted = {e.family for e in entries if e.held_out}
    excluded = [e.name for e in entries if not e.held_out and e.family in tainted]
    lines = [f"{len(entries)} kits, {usable} usable. Training (*): {len(training)} acoustic kits in "
             f"{len(families)} families (a family = one recording; weight it as one kit)."]
    if held:
        lines.append(f"Held out, never trained on: {', '.join(held)}.")
    if excluded:
        lines.append(f"Not trained on either, they share samples with a held-out kit: {', '.join(excluded)}.")
    lines.append(f"Listed in {seconds:.1f} s from kit metadata: no audio was loaded. SF2 presets are rendered "
                 f"on first use and cached in {sf2.cache_dir()}.")
    lines.append("'derived' toms are pitch-shifted copies of a neighbour; `larsnet kits --details NAME` "
                 "shows a kit's mapping.")
    return "\n".join(lines)


def _table(descriptions: list[KitDescription], training: set[str]) -> str:
    header = ("NAME", "FORMAT", "KIND", "LICENSE", "HELD-OUT", "FAMILY", "PIECES")
    rows = [header]
    for d in descriptions:
        e = d.entry
        pieces = summarize(d.report) if d.usable and d.report else f"unusable: {_short(d.error or '')}"
        family = "" if e.family == e.name else e.family
        rows.append((e.name, e.format, e.kind + ("*" if e.name in training else ""), _cut(e.license, 30),
                     "yes" if e.held_out else "", family, pieces))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _short(error: str) -> str:
    if "maps no " in error:
        return "no " + error.split("maps no ", 1)[1].split(":", 1)[0]
    return _cut(error, 60)


def _as_dict(d: KitDescription, training: bool) -> dict:
    out = d.entry.to_dict()
    out.update(usable=d.usable, training=training, error=d.error, warnings=d.warnings)
    if d.report:
        out["pieces"] = {"mapped": d.report.mapped, "derived": d.report.derived,
                         "missing": d.report.missing, "unused": d.report.unused}
    return out


def _details(entry: discovery.KitEntry, mapping: str | None, as_json: bool) -> None:
    started = time.monotonic()
    kit = load_kit(entry.path, name=entry.name, preset=entry.preset, strict=False)
    mapped = map_kit(kit, mapping)
    seconds = time.monotonic() - started
    if as_json:
        out = entry.to_dict()
        out.update(pieces={"mapped": mapped.report.mapped, "derived": mapped.report.derived,
                           "missing": mapped.report.missing, "unused": mapped.report.unused},
                   notes=mapped.report.notes, warnings=kit.warnings, broken=kit.broken)
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{entry.name}  ({entry.format}{', preset ' + entry.preset if entry.preset else ''})")
    click.echo(f"  path:     {entry.path}")
    click.echo(f"  license:  {entry.license}")
    if entry.author:
        click.echo(f"  author:   {entry.author}")
    click.echo(f"  family:   {entry.family}{'  (held out: never trained on)' if entry.held_out else ''}")
    click.echo(format_report(mapped.report))
    click.echo("  layers x round robin, longest sample:")
    for piece, inst in mapped.pieces.items():
        shape = " / ".join(str(len(layer.samples)) for layer in inst.layers)
        longest = max(s.shape[1] for layer in inst.layers for s in layer.samples) / 44100
        click.echo(f"    {piece:<13} {len(inst.layers)} layer(s) [{shape}], {longest:.2f} s")
    for name, files in kit.broken.items():
        click.echo(f"  skipped '{name}': missing or unreadable {', '.join(files[:3])}")
    for warning in kit.warnings:
        click.echo(f"  warning: {warning}")
    click.echo(f"Loaded in {seconds:.1f} s.")
