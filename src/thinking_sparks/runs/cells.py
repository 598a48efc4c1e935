"""Notebook parameters cells written from the page modules' ``Params``.

``python -m thinking_sparks.runs cells`` rewrites the ``parameters`` cell of every notebook in
``notebooks/`` from :func:`thinking_sparks.pages.params.parameters_cell` (the defaults declared once
in each page module); ``tests/test_docs.py`` fails when a notebook's cell has drifted.
"""

from __future__ import annotations

import logging
from pathlib import Path

from thinking_sparks import atomic
from thinking_sparks.pages import PAGES
from thinking_sparks.pages.params import parameters_cell

log = logging.getLogger(__name__)


def sync_parameters_cells(notebooks: Path) -> list[str]:
    """Rewrite each page notebook's parameters cell from its ``Params``; returns the stems changed."""
    import nbformat  # deferred: nbformat is heavy or optional, loaded only here

    changed = []
    for stem in PAGES:
        path = notebooks / f"{stem}.ipynb"
        if not path.exists():
            continue
        nb = nbformat.read(path, as_version=4)
        cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        if len(cells) != 1:
            raise ValueError(f"{path.name}: needs exactly one cell tagged 'parameters', found {len(cells)}")
        source = parameters_cell(stem)
        if cells[0].source.strip() != source:
            cells[0].source = source
            atomic.write_text(path, nbformat.writes(nb) + "\n")
            changed.append(stem)
            log.info("%s: parameters cell rewritten", stem)
    return changed
