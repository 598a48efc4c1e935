"""The "Paper and book" page: every figure and table of the paper, where the book redraws it, and how it fared.

:data:`ITEMS` lists the paper's figures and tables with their v2 number, the v1 number where it
differs (the map in ``../shared/paper.md`` §6, inferred there from the OpenReview reviews), and
the page and section heading of this book that reproduce it. :func:`status` reads a status off the
verdict rows that cite the item in their ``paper`` column (``"§4.1, Figs 2B/14"`` cites Figs 2
and 14): every row reproduced, none, a mix (``partly``), or all open (``inconclusive``); an item
drawn without a verdict row is ``shown``; one whose page is not in this build, ``not in this
build``; one its page does not draw yet (``heading`` None), ``not built yet``. :func:`write_page` writes the page in Markdown, each item linked to its section.
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from pathlib import Path

import pandas as pd

from thinking_sparks import atomic
from thinking_sparks.pages import PAGES


@dataclasses.dataclass(frozen=True)
class Item:
    """One figure or table. ``ref``: the v2 label (``"Fig 2"``, ``"Table 5"``); ``v1``: its v1 label
    where different (``"-"``: new in v2); ``heading``: a substring of the page's section heading."""

    ref: str
    v1: str
    what: str
    page: str | None
    heading: str | None


ITEMS: tuple[Item, ...] = (
    Item("Fig 1", "Fig 1", "overview schematic (no data)", None, None),
    Item("Fig 2", "Fig 2", "SFT: cohorts and activation heatmap", "04_emergence", "Cohorts and activation"),
    Item("Fig 3", "Fig 3", "GRPO: cohorts, reward, heatmap", "04_emergence", "Cohorts and activation"),
    Item("Fig 4", "Fig 4", "GRPO checkpoints: accuracy trade-offs", "05_interventions", "Fig 4"),
    Item("Fig 5", "Fig 5", "think off: pass@k and success@k", "06_thinking_modes", "Fig 5"),
    Item("Fig 6", "Fig 6", "SFT, AMC circuits", "04_emergence", "Cohorts and activation"),
    Item("Fig 7", "Fig 7", "GRPO on GSM8K (the organism's easy data)", "04_emergence", "Cohorts and activation"),
    Item("Fig 8", "Fig 8", "GRPO at a 20x learning rate", "04_emergence", "Cohorts and activation"),
    Item("Fig 9", "Fig 9", "GRPO, AMC circuits", "04_emergence", "Cohorts and activation"),
    Item("Fig 10", "-", "Llama-3.2-1B after SFT", "08_generalisation", "Figs 10, 11"),
    Item("Fig 11", "-", "Llama-3.2-1B after GRPO", "08_generalisation", "Figs 10, 11"),
    Item("Fig 12", "-", "sparse-feature (SAE) component shift", "08_generalisation", "(Fig 12)"),
    Item("Fig 13", "-", "head importance and effect maps", "04_emergence", "Fig 13"),
    Item("Fig 14", "Fig 10", "emergent-head maps across methods", "04_emergence", "Fig 14"),
    Item("Fig 15", "Fig 11", "simplified circuits with and without thinking", "06_thinking_modes", "Fig 15"),
    Item("Fig 16", "Fig 12", "circuits after SFT and after GRPO", "04_emergence", "Fig 16"),
    Item("Fig 17", "Fig 13", "think-on and think-off circuits", "06_thinking_modes", "Fig 17"),
    Item("Fig 18", "-", "Llama-3.2-1B circuits after SFT and GRPO", "08_generalisation", "Fig 18"),
    Item("Table 1", "Table 2", "head ablation in the distilled model", "05_interventions", "Table 1"),
    Item("Table 2", "Table 3", "think on/off interventions", "06_thinking_modes", "Table 2"),
    Item("Table 3", "Table 1", "emergent heads per method", "04_emergence", "Table 3"),
    Item("Table 4", "-", "ablation in the base model", "05_interventions", "Tables 4 and 5"),
    Item("Table 5", "-", "scaling heads in the base model", "05_interventions", "Tables 4 and 5"),
)

_CITE = re.compile(r"\b(Fig|Table)s?\.?\s*((?:\d+[A-Z]?(?:\s*[–-]\s*\d+[A-Z]?)?(?:\s*(?:/|,|&|and)\s*(?=\d))?)+)")


def cited(paper: str) -> set[str]:
    """The figures and tables a verdict row's ``paper`` cell cites: ``"§4.1-4.2, Table 3, Figs 2A/14"``
    gives ``{"Table 3", "Fig 2", "Fig 14"}``; ranges (``Figs 6–9``) are expanded."""
    out = set()
    for kind, numbers in _CITE.findall(paper):
        for part in re.split(r"\s*(?:/|,|&|and)\s*", numbers.strip()):
            ends = [int(re.match(r"\d+", x).group()) for x in re.split(r"\s*[–-]\s*", part) if x]
            for n in range(ends[0], ends[-1] + 1):
                out.add(f"{kind} {n}")
    return out


def anchor(heading: str) -> str:
    """The HTML id Sphinx gives a section heading (docutils' ``make_id``: ASCII, lower case, runs of
    other characters to one hyphen)."""
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def headings(notebook: Path) -> list[str]:
    """The section headings (``##`` and deeper) of a notebook's Markdown cells, in order."""
    cells = json.loads(notebook.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return [m.group(1).strip() for m in re.finditer(r"^#{2,6}\s+(.+)$", text, flags=re.M)]


def status(rows: list[str]) -> str:
    """An item's status from the verdicts of the rows that cite it (empty: ``shown``)."""
    if not rows:
        return "shown, no claim tested"
    decided = [r for r in rows if r != "inconclusive"]
    if not decided:
        return "inconclusive"
    if all(r == "reproduced" for r in decided) and len(decided) == len(rows):
        return "reproduced"
    if all(r == "not reproduced" for r in decided) and len(decided) == len(rows):
        return "not reproduced"
    return "partly"


def table(verdicts: dict[str, pd.DataFrame], notebooks: dict[str, Path]) -> pd.DataFrame:
    """One row per :data:`ITEMS` entry: ``ref, v1, what, page, section, rows, status``.

    Args:
        verdicts: page stem -> its verdict table (``thinking_sparks.verdicts.collect``).
        notebooks: page stem -> the executed notebook (for the section headings); pages missing
            here are not in this build.
    """
    out = []
    for item in ITEMS:
        section, rows = None, []
        if item.page is None:
            state = "not reproduced: no data to redraw"
        elif item.page not in notebooks:
            state = "not in this build"
        elif item.heading is None:
            state = "not built yet"
        else:
            found = [h for h in headings(notebooks[item.page]) if item.heading and item.heading in h]
            section = found[0] if found else None
            table_ = verdicts.get(item.page)
            if table_ is not None and len(table_):
                rows = [v for p, v in zip(table_["paper"], table_["verdict"]) if item.ref in cited(str(p))]
            state = status(rows)
        out.append({"ref": item.ref, "v1": item.v1, "what": item.what, "page": item.page, "section": section,
                    "rows": len(rows), "status": state})
    return pd.DataFrame(out)


def row_links(stem: str, paper: str, notebook: Path) -> str:
    """Markdown links from one verdict row of page ``stem`` to the sections of that page that draw
    the figures and tables its ``paper`` cell cites, one link per section ("-" when none is drawn)."""
    refs = cited(paper)
    found = headings(notebook) if notebook.exists() else []
    sections: dict[str, list[str]] = {}
    for item in ITEMS:
        if item.ref in refs and item.page == stem and item.heading:
            section = next((h for h in found if item.heading in h), None)
            if section:
                sections.setdefault(section, []).append(item.ref)
    return ", ".join(f"[{', '.join(r)}]({stem}.ipynb#{anchor(h)})" for h, r in sections.items()) or "-"


PAGE = "book/pages/paper.md"


def write_page(root: Path, verdicts: dict[str, pd.DataFrame]) -> Path:
    """``book/pages/paper.md`` from the executed pages under ``book/pages`` (written atomically)."""
    pages = root / "book" / "pages"
    notebooks = {stem: pages / f"{stem}.ipynb" for stem in PAGES if (pages / f"{stem}.ipynb").exists()}
    t = table(verdicts, notebooks)
    lines = ["# Paper and book", "",
             "Every figure and table of the paper (arXiv 2509.25758 v2; the v1 number where it differs, as "
             "the OpenReview reviews cite it), the section of this book that redraws it on the model at hand, "
             "and how the claims it carries fared: the verdict rows of that page whose *paper* column cites "
             "it, *reproduced* or *not reproduced* when all of them are, *partly* for a mix, *inconclusive* "
             "when none is decided.", "",
             "| paper (v2) | v1 | content | where in this book | verdict rows | status |", "|---|---|---|---|---:|---|"]
    for r in t.itertuples():
        if not isinstance(r.page, str):
            where = "-"
        elif isinstance(r.section, str):
            where = f"[{r.page}: {r.section}]({r.page}.ipynb#{anchor(r.section)})"
        elif r.page in notebooks:
            where = f"[{r.page}]({r.page}.ipynb)"
        else:
            where = f"{r.page} (not in this build)"
        lines.append(f"| {r.ref} | {r.v1} | {r.what} | {where} | {r.rows} | {r.status} |")
    out = root / PAGE
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out, "\n".join(lines) + "\n")
    return out
