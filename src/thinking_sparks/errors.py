"""One-line errors for the ``sparks`` command line, shared by every room's verbs.

A room's CLI module imports :func:`friendly_errors` from here (not from ``thinking_sparks.cli``,
which imports the rooms' CLI modules to register their verbs).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import typer

_DEBUG = {"on": False}
#: exceptions that mean "bad input". ``KeyError`` is not one: an unknown name the user typed is
#: turned into a ``ValueError`` where it is looked up, so a ``KeyError`` is a bug and shows a traceback.
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, PermissionError)


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
