"""Parameterized notebook runs: papermill execution and the book.

- :mod:`.book` — :func:`execute` (papermill, atomic), :func:`build_book` with its environment and
  verdicts pages; ``python -m thinking_sparks.runs book``.

Each notebook's ``Params`` lives in its page module (:mod:`thinking_sparks.pages`); :func:`validate`
(every notebook's second cell) and :func:`make_params` (``sparks batch``) are re-exported here.
"""

from thinking_sparks.pages import PAGES
from thinking_sparks.pages.params import NULLS, check_names, emergence_settings, make_params, validate
from thinking_sparks.runs.book import (
                                       ENVIRONMENT_PAGE,
                                       KERNEL,
                                       VERDICTS_PAGE,
                                       build_book,
                                       ensure_kernel,
                                       execute,
                                       main,
                                       prepare,
                                       write_environment_page,
                                       write_verdicts_page,
)

__all__ = ["ENVIRONMENT_PAGE", "KERNEL", "NULLS", "PAGES", "VERDICTS_PAGE", "build_book", "check_names",
           "emergence_settings", "ensure_kernel", "execute", "main", "make_params", "prepare", "validate",
           "write_environment_page", "write_verdicts_page"]
