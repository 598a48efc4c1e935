"""Parameterized notebook runs: typed parameters per section, papermill execution, the book.

- :mod:`.params` — one ``*Params`` dataclass per notebook (the parameters cell's schema).
- :mod:`.sections` — :data:`SECTIONS` (stem -> params class, book title), :func:`validate` (every
  notebook's second cell), :func:`make_params`.
- :mod:`.book` — :func:`execute` (papermill, atomic), :func:`build_book` with its environment and
  verdicts pages; ``python -m thinking_sparks.runs book``.
"""

from thinking_sparks.runs.book import (ENVIRONMENT_PAGE, KERNEL, VERDICTS_PAGE, build_book, ensure_kernel, execute,
                                       main, prepare, write_environment_page, write_verdicts_page)
from thinking_sparks.runs.params import (CircuitsParams, EmergenceParams, InterventionsParams, ModelsParams,
                                         OrganismParams, RealModelParams, ThinkingParams)
from thinking_sparks.runs.sections import NULLS, SECTIONS, check_names, emergence_settings, make_params, validate

__all__ = ["ENVIRONMENT_PAGE", "KERNEL", "NULLS", "SECTIONS", "VERDICTS_PAGE", "CircuitsParams", "EmergenceParams",
           "InterventionsParams", "ModelsParams", "OrganismParams", "RealModelParams", "ThinkingParams", "build_book",
           "check_names",
           "emergence_settings", "ensure_kernel", "execute", "main", "make_params", "prepare", "validate",
           "write_environment_page", "write_verdicts_page"]
