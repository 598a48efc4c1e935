"""One-line errors for the ``sparks`` command line, shared by every room's verbs.

A room's CLI module imports :func:`friendly_errors` from here (not from ``thinking_sparks.cli``,
which imports the rooms' CLI modules to register their verbs).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

import typer
import typer.core

try:  # typer >= 0.2x carries its own copy of click
    from typer._click import exceptions as _cx
except ImportError:  # pragma: no cover - older typer on plain click
    from click import exceptions as _cx


class ModelNotFound(FileNotFoundError):
    """A spec that names no loadable model; its message is one line meant for the user."""


_DEBUG = {"on": False}
#: exceptions that mean "bad input". ``KeyError`` is not one: an unknown name the user typed is
#: turned into a ``ValueError`` where it is looked up, so a ``KeyError`` is a bug and shows a traceback.
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


def friendly_errors(fn: Callable) -> Callable:
    """Decorator: user errors become ``error: <message>`` on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as err:
            if _DEBUG["on"]:
                raise
            message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(2) from None

    return wrapper


class OneLineUsageGroup(typer.core.TyperGroup):
    """The root group of ``sparks``: click/typer usage errors (a mistyped value, a missing option,
    an unknown verb) become one ``error: ...`` line on stderr and exit status 2, instead of typer's
    boxed panel. Used as ``typer.Typer(cls=OneLineUsageGroup)``; ``CliRunner`` goes through it too.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _cx.NoArgsIsHelpError as err:  # `sparks` alone: the help text
            err.show()
            sys.exit(err.exit_code)
        except _cx.ClickException as err:
            if _DEBUG["on"]:
                raise
            ctx = getattr(err, "ctx", None)
            where = f"{ctx.command_path}: " if ctx is not None else ""
            message = " ".join(err.format_message().split())
            typer.echo(f"error: {where}{message}", err=True)
            sys.exit(err.exit_code)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)
