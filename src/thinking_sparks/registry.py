"""Name prefixes that rooms higher up fill in: how a low room reaches what a high room makes.

``models`` resolves ``organism/...`` and ``real/...`` specs, ``evaluation`` loads ``organism/...``
and ``words/...`` sets, yet neither may import the rooms that train those models or make those
sets. Each keeps a :class:`Registry` of ``prefix -> function``; the higher rooms declare their
functions as package entry points (``pyproject.toml``, groups ``thinking_sparks.model_specs`` and
``thinking_sparks.eval_sets``; entry point ``organism`` serves the prefix ``organism/``), loaded
the first time a name is looked up, and code may add its own with :meth:`Registry.register`.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from typing import Any


class Registry:
    """``prefix -> function`` for one entry-point group (see the module docstring)."""

    def __init__(self, group: str):
        self.group = group
        self._functions: dict[str, Callable[[str], Any]] = {}
        self._loaded = False

    def register(self, prefix: str, function: Callable[[str], Any]) -> None:
        """Serve names starting with ``prefix`` (e.g. ``"organism/"``) by ``function``; what it is
        called with is the owning room's choice (``models``: the whole spec; ``evaluation``: the
        rest of the name after the prefix)."""
        if not prefix.endswith("/"):
            raise ValueError(f"a registry prefix ends with '/', got {prefix!r}")
        self._functions[prefix] = function

    def _load_entry_points(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for ep in metadata.entry_points(group=self.group):
            self._functions.setdefault(f"{ep.name}/", _Lazy(ep))

    def prefixes(self) -> list[str]:
        """Every prefix served."""
        self._load_entry_points()
        return sorted(self._functions)

    def find(self, name: str) -> tuple[str, Callable[[str], Any]] | None:
        """``(prefix, function)`` serving ``name``, or None."""
        self._load_entry_points()
        prefix = next((p for p in sorted(self._functions, key=len, reverse=True) if name.startswith(p)), None)
        return None if prefix is None else (prefix, self._functions[prefix])


class _Lazy:
    """An entry point's function, imported on its first call."""

    def __init__(self, ep: metadata.EntryPoint):
        self.ep = ep
        self.fn: Callable[[str], Any] | None = None

    def __call__(self, name: str) -> Any:
        if self.fn is None:
            self.fn = self.ep.load()
        return self.fn(name)
