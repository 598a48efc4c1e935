"""The three-line box each page opens with, computed from its parameters, result and verdicts.

Line 1, *what was run*: the model or runs, the question and problem counts and the profile (read
off the page's ``Params``), and the compute time its result took when it was computed (the
result's ``seconds``, or the sum of a ``timing``'s parts). Line 2, *headline*: the page's decided
verdict rows first (reproduced, then not reproduced), then open ones, each as ``claim: value
[low, high]``, or the page's own headline where it tests no claim. Line 3: the verdict counts.

Numbers use 2-3 significant digits and intervals as ``0.31 [0.23, 0.39]``.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any

import pandas as pd

from thinking_sparks.verdicts import VERDICTS, interval, number

#: Params fields that say what a page ran, in the order the box lists them, with their labels
RAN_FIELDS = (("model", "model"), ("run", "run"), ("runs", "runs"), ("dataset", "question set"),
              ("n_questions", "questions per circuit"), ("n_problems", "problems"), ("profile", "profile"))


def seconds_of(result: Any) -> float | None:
    """Compute seconds a page's result took when it was computed, where it records them."""
    seconds = getattr(result, "seconds", None)
    if isinstance(seconds, dict):  # seconds per part (page 09)
        return float(sum(seconds.values())) if seconds else None
    if seconds:
        return float(seconds)
    timing = getattr(result, "timing", None)
    if timing is not None:
        parts = [v for k, v in dataclasses.asdict(timing).items() if k.endswith("_s") and k != "generation_s"]
        return float(sum(parts)) if parts else None
    return None


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def ran_line(params: Any, result: Any) -> str:
    """What was run: the page's model/run fields and sizes that are set, and its compute time."""
    parts = []
    for name, label in RAN_FIELDS:
        value = getattr(params, name, None)
        if value in (None, "", [], ()):
            continue
        if isinstance(value, dict):  # runs given as {name: model spec}
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        parts.append(f"{number(value)} {label}" if numeric else f"{label} `{value}`")
    parts.append(f"computed in {duration(seconds_of(result))}")
    return "; ".join(parts)


def headline_line(table: pd.DataFrame | None, k: int = 2) -> str:
    """The first ``k`` rows of the verdict table, decided rows first, as ``claim: value [lo, hi] (verdict)``."""
    if table is None or table.empty:
        return "no claim of the paper is tested on this page"
    order = {"reproduced": 0, "not reproduced": 1, "partly": 2, "inconclusive": 3}
    rows = table.assign(_o=table["verdict"].map(order)).sort_values("_o", kind="stable").head(k)
    return "; ".join(f"{r.claim}: {interval(r.value, r.ci_low, r.ci_high)} ({r.verdict})" for r in rows.itertuples())


def verdict_line(table: pd.DataFrame | None) -> str:
    if table is None or table.empty:
        return "no verdict rows"
    counts = table["verdict"].value_counts()
    return f"{len(table)} checks: " + ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts.get(v, 0))


@dataclasses.dataclass(frozen=True)
class SummaryBox:
    """The box's three lines (Markdown); displays as a bordered box in the notebook and the book."""

    ran: str
    headline: str
    verdicts: str

    def lines(self) -> list[str]:
        return [f"**Run:** {self.ran}", f"**Headline:** {self.headline}", f"**Verdicts:** {self.verdicts}"]

    def _repr_markdown_(self) -> str:
        return "\n\n".join(f"> {line}" for line in self.lines())

    def _repr_html_(self) -> str:
        def inline(text: str) -> str:  # the Markdown the lines use: **bold** and `code`
            out = html.escape(text)
            for mark, tag in (("**", "b"), ("`", "code")):
                pieces = out.split(mark)
                out = "".join(p if i % 2 == 0 else f"<{tag}>{p}</{tag}>" for i, p in enumerate(pieces))
            return out

        body = "".join(f"<p style='margin:0.2em 0'>{inline(line)}</p>" for line in self.lines())
        return (f"<div class='sparks-summary' style='border-left:4px solid #4c78a8;background:#f4f7fb;"
                f"padding:0.5em 0.9em;margin:0.5em 0'>{body}</div>")


def box(params: Any, result: Any, table: pd.DataFrame | None, headline: str | None = None) -> SummaryBox:
    """The page's summary box. ``headline`` replaces the verdict-row headline (pages with no claim)."""
    return SummaryBox(ran_line(params, result), headline or headline_line(table), verdict_line(table))
