"""``python -m thinking_sparks.runs book ...``: see :func:`thinking_sparks.runs.book.main`."""

from thinking_sparks.runs.book import main

main()
