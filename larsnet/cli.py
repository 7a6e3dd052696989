"""The ``larsnet`` command: a thin click group over the library.

Each subcommand lives in its own module under :mod:`larsnet.commands` and only maps
flags onto library calls. This module owns the one place where errors become exit
codes: a :class:`~larsnet.errors.LarsNetError` prints one line, other exceptions too
unless ``--debug`` asks for the traceback.
"""
from __future__ import annotations

import sys

import click

from larsnet.errors import LarsNetError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """LarsNet drum demixing: separate, convert checkpoints, kits, synth, train, evaluate."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _register() -> None:
    """Attach every subcommand; imports stay inside so `larsnet -h` is fast."""
    from larsnet.commands import registry

    for command in registry.all_commands():
        cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code instead of raising."""
    _register()
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        result = cli.main(args=args, prog_name="larsnet", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except LarsNetError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: one line unless --debug
        if debug:
            raise
        click.echo(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        return 1
    # click returns the code given to ctx.exit(n) (batch commands exit 1 when a file failed)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
