"""Verdict tables: one schema for every page that tests a claim of the paper.

A page ends with ``show(verdict_table([Verdict(...), ...]))``: a DataFrame with the columns of
:data:`COLUMNS`::

    claim       one sentence, the paper's wording shortened
    paper       where the paper says it (section / figure / table)
    statistic   what is measured, e.g. "hard-set pass@1, sft minus base"
    value       the point estimate
    ci_low      lower end of its confidence interval
    ci_high     upper end
    criterion   the rule, in words, e.g. "CI above 0"
    verdict     reproduced | partly | not reproduced | inconclusive

The verdict is computed, never typed in. The criterion is ``above < x < below`` (either bound may be
None; with neither, ``x > 0``): the claim is ``reproduced`` when the whole interval meets it,
``not reproduced`` when the whole interval lies at or beyond one bound (``ci_high <= above`` or
``ci_low >= below``), and ``inconclusive`` when the interval straddles a bound or is missing (NaN).
A sampled quantity (an accuracy, a difference of accuracies, a head count of a circuit built on
sampled questions) is decided by its interval only. One documented option:

- ``point_decides``: a statistic that is an *exact count with no sampling* (nothing to resample, so
  no interval exists) is decided by its value. Never for an estimate: an estimate without an
  interval is ``inconclusive``.

Every bound is the paper's number, the paper's direction (``above=0`` / ``below=0``) or a quantile
of a measured null; the row's ``statistic`` or ``criterion`` quotes which.

``partly`` has one meaning: :func:`combine`'s verdict for a claim checked in parts, some parts
reproduced and the others not.
:func:`show` displays a page's table and marks it for the book's verdicts page
(:func:`collect` reads it back from an executed notebook).

Example::

    v = Verdict("SFT raises hard-set accuracy", "§5.1", "pass@1, sft - base", 0.12, 0.05, 0.19)
    verdict_table([v])           # verdict "reproduced", criterion "CI above 0"
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

COLUMNS = ("claim", "paper", "statistic", "value", "ci_low", "ci_high", "criterion", "verdict")
#: columns a verdict table may add after :data:`COLUMNS` (kept by :func:`show` and :func:`collect`):
#: ``n_to_decide``, the sample size at which an inconclusive row would be decided (``thinking_sparks.power``)
OPTIONAL = ("n_to_decide",)
VERDICTS = ("reproduced", "partly", "not reproduced", "inconclusive")
#: the MIME type of the JSON copy of a page's verdict table (see :func:`show`)
MIME = "application/vnd.thinking-sparks.verdicts+json"


def _nan(x: float | None) -> bool:
    return x is None or math.isnan(float(x))


def decide(value: float, ci_low: float, ci_high: float, above: float | None = None, below: float | None = None,
           point_decides: bool = False) -> str:
    """``reproduced`` / ``not reproduced`` / ``inconclusive`` for the criterion ``above < x < below``.

    Args:
        value, ci_low, ci_high: the estimate and its interval (NaN or None: no interval).
        above, below: the bounds (at least one).
        point_decides: without an interval, decide by ``value`` (else: ``inconclusive``); only for an
            exact count with no sampling.
    """
    if above is None and below is None:
        raise ValueError("decide needs a bound: above, below or both")
    if any(b is not None and math.isnan(b) for b in (above, below)):
        return "inconclusive"  # a criterion that could not be measured decides nothing

    def inside(x: float) -> bool:
        return (above is None or x > above) and (below is None or x < below)

    if _nan(ci_low) or _nan(ci_high):
        if not point_decides or _nan(value):
            return "inconclusive"
        return "reproduced" if inside(float(value)) else "not reproduced"
    lo, hi = float(ci_low), float(ci_high)
    if lo > hi:
        raise ValueError(f"ci_low {lo} is above ci_high {hi}")
    if inside(lo) and inside(hi):
        return "reproduced"
    if (above is not None and hi <= above) or (below is not None and lo >= below):
        return "not reproduced"
    return "inconclusive"


def _criterion(above: float | None, below: float | None, point: bool) -> str:
    what = "value" if point else "CI"
    if above is not None and below is not None:
        return f"{what} within ({above:g}, {below:g})"
    return f"{what} above {above:g}" if above is not None else f"{what} below {below:g}"


@dataclass(frozen=True)
class Verdict:
    """One row of a verdict table; ``verdict`` (and a default ``criterion``) are computed.

    Attributes:
        claim, paper, statistic: see the module docstring.
        value, ci_low, ci_high: the estimate and its confidence interval (NaN: no interval).
        above, below: the criterion ``above < x < below``; with neither given, ``x > 0``.
        criterion: the rule in words; default e.g. ``"CI above 0"``.
        point_decides: a row without an interval is decided by its value (only for an exact count
            with no sampling).
    """

    claim: str
    paper: str
    statistic: str
    value: float
    ci_low: float
    ci_high: float
    above: float | None = None
    below: float | None = None
    criterion: str = ""
    point_decides: bool = False
    verdict: str = field(init=False)

    def __post_init__(self) -> None:
        if self.above is None and self.below is None:
            object.__setattr__(self, "above", 0.0)
        kw = {"above": self.above, "below": self.below, "point_decides": self.point_decides}
        object.__setattr__(self, "verdict", decide(self.value, self.ci_low, self.ci_high, **kw))
        if not self.criterion:
            point = self.point_decides and (_nan(self.ci_low) or _nan(self.ci_high))
            object.__setattr__(self, "criterion", _criterion(self.above, self.below, point))

    def row(self) -> dict:
        return {c: getattr(self, c) for c in COLUMNS}


def combine(verdicts: Sequence[str]) -> str:
    """One verdict for a claim checked in parts: all reproduced -> reproduced; none reproduced and
    none inconclusive -> not reproduced; some reproduced, the rest not -> partly; else inconclusive."""
    parts = set(verdicts)
    if not parts or "inconclusive" in parts:
        return "inconclusive"
    if parts == {"reproduced"}:
        return "reproduced"
    if "reproduced" in parts:
        return "partly"
    return "not reproduced"


def verdict_table(rows: Iterable[Verdict], digits: int | None = 3) -> pd.DataFrame:
    """The page's closing table: one row per :class:`Verdict`, columns :data:`COLUMNS`, numbers
    rounded to ``digits`` for display (None: as computed)."""
    df = pd.DataFrame([r.row() for r in rows], columns=list(COLUMNS))
    for c in ("value", "ci_low", "ci_high"):
        df[c] = df[c].astype(float)
        if digits is not None:
            df[c] = df[c].round(digits)
    return df


def summary(table: pd.DataFrame) -> str:
    """One sentence about a verdict table that never claims more than it shows."""
    if table.empty:
        return "No claim could be checked on this run."
    counts = table["verdict"].value_counts()
    if counts.get("reproduced", 0) == len(table):
        return f"All {len(table)} checks hold: every confidence interval supports its claim."
    parts = [f"{counts[v]} {v}" for v in VERDICTS if counts.get(v, 0)]
    return f"Of {len(table)} checks: " + ", ".join(parts) + "."


def number(x: float | None) -> str:
    """2-3 significant digits, as a paper prints them: ``0.31415 -> 0.314``, ``12.34 -> 12.3``,
    ``1282.4 -> 1,282``, whole numbers whole; "–" for a missing value."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    x = float(x)
    if x.is_integer() and abs(x) < 1e6:
        return f"{int(x):,}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def interval(value: float | None, low: float | None, high: float | None) -> str:
    """``0.31 [0.23, 0.39]``; the value alone when the interval is missing."""
    if _nan(low) or _nan(high):
        return number(value)
    return f"{number(value)} [{number(low)}, {number(high)}]"


#: the columns a verdict table is shown with (value and interval in one cell; no index)
SHOWN = ("claim", "paper", "statistic", "value [95% CI]", "criterion", "verdict")


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """A verdict table as a page shows it: :data:`SHOWN` (plus ``n to decide`` where a row has one),
    numbers at 2-3 significant digits, strings only."""
    out = pd.DataFrame({
        "claim": table["claim"], "paper": table["paper"], "statistic": table["statistic"],
        "value [95% CI]": [interval(v, lo, hi) for v, lo, hi in zip(table["value"], table["ci_low"], table["ci_high"])],
        "criterion": table["criterion"], "verdict": table["verdict"]})
    if "n_to_decide" in table.columns and table["n_to_decide"].notna().any():
        out["n to decide"] = [number(x) if not pd.isna(x) else "–" for x in table["n_to_decide"]]
    return out.reset_index(drop=True)


def show(table: pd.DataFrame) -> None:
    """Display a page's verdict table (:func:`readable`, as HTML without an index) with a JSON copy
    of the full table under :data:`MIME`, which marks it as the page's verdicts for :func:`collect`."""
    from IPython.display import display  # deferred: IPython is heavy or optional, loaded only here

    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"not a verdict table: missing columns {missing}")
    keep = list(COLUMNS) + [c for c in OPTIONAL if c in table.columns]
    records = json.loads(table[keep].to_json(orient="records"))  # NaN -> null
    shown = readable(table)
    html = shown.to_html(index=False, classes="sparks-verdicts", border=0)
    display({"text/html": html, "text/plain": shown.to_string(index=False), MIME: records}, raw=True)


def collect(notebook: Path) -> pd.DataFrame | None:
    """The verdict table(s) an executed notebook shows with :func:`show`, concatenated (None: none);
    :data:`OPTIONAL` columns are kept when a table has them."""
    import nbformat  # deferred: nbformat is heavy or optional, loaded only here

    nb = nbformat.read(str(notebook), as_version=4)
    found = [o["data"][MIME] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             if MIME in o.get("data", {})]
    if not found:
        return None
    rows = [r for part in found for r in part]
    extra = [c for c in OPTIONAL if any(c in r for r in rows)]
    return pd.DataFrame(rows, columns=list(COLUMNS) + extra)
