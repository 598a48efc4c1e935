"""Verdict tables: one schema for every page that tests a claim of the paper.

A page ends with ``verdict_table([Verdict(...), ...])``, a DataFrame with the columns of
:data:`COLUMNS`::

    claim       one sentence, the paper's wording shortened
    paper       where the paper says it (section / figure / table)
    statistic   what is measured, e.g. "hard-set pass@1, sft minus base"
    value       the point estimate
    ci_low      lower end of its confidence interval
    ci_high     upper end
    criterion   the rule, in words, e.g. "CI above 0"
    verdict     reproduced | partly | not reproduced | inconclusive

The verdict is computed, never typed in: with ``threshold`` t and ``direction`` "above", the claim
is ``reproduced`` when the whole interval lies above t (``ci_low > t``), ``not reproduced`` when
it lies at or below t (``ci_high <= t``), and ``inconclusive`` when the interval straddles t or
is missing (NaN). "below" mirrors this. ``partly`` is for a claim checked on several parts
(e.g. per run): :func:`combine` gives it when some parts are reproduced and the others are not.

Example::

    v = Verdict("SFT raises hard-set accuracy", "§5.1", "pass@1, sft - base", 0.12, 0.05, 0.19)
    verdict_table([v])           # verdict "reproduced", criterion "CI above 0"
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

COLUMNS = ("claim", "paper", "statistic", "value", "ci_low", "ci_high", "criterion", "verdict")
VERDICTS = ("reproduced", "partly", "not reproduced", "inconclusive")
DIRECTIONS = ("above", "below")


def decide(ci_low: float, ci_high: float, threshold: float = 0.0, direction: str = "above") -> str:
    """``reproduced`` / ``not reproduced`` / ``inconclusive`` for one interval against ``threshold``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    lo, hi = float(ci_low), float(ci_high)
    if math.isnan(lo) or math.isnan(hi):
        return "inconclusive"
    if lo > hi:
        raise ValueError(f"ci_low {lo} is above ci_high {hi}")
    if direction == "above":
        return "reproduced" if lo > threshold else "not reproduced" if hi <= threshold else "inconclusive"
    return "reproduced" if hi < threshold else "not reproduced" if lo >= threshold else "inconclusive"


@dataclass(frozen=True)
class Verdict:
    """One row of a verdict table; ``verdict`` (and a default ``criterion``) are computed.

    Attributes:
        claim, paper, statistic: see the module docstring.
        value, ci_low, ci_high: the estimate and its confidence interval (NaN: no interval).
        threshold, direction: the claim holds when the interval lies entirely ``above`` (or
            ``below``) ``threshold``.
        criterion: the rule in words; default ``"CI above <threshold>"``.
    """

    claim: str
    paper: str
    statistic: str
    value: float
    ci_low: float
    ci_high: float
    threshold: float = 0.0
    direction: str = "above"
    criterion: str = ""
    verdict: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", decide(self.ci_low, self.ci_high, self.threshold, self.direction))
        if not self.criterion:
            object.__setattr__(self, "criterion", f"CI {self.direction} {self.threshold:g}")

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


def verdict_table(rows: Iterable[Verdict]) -> pd.DataFrame:
    """The page's closing table: one row per :class:`Verdict`, columns :data:`COLUMNS`."""
    return pd.DataFrame([r.row() for r in rows], columns=list(COLUMNS))


def summary(table: pd.DataFrame) -> str:
    """One sentence about a verdict table that never claims more than it shows."""
    if table.empty:
        return "No claim could be checked on this run."
    counts = table["verdict"].value_counts()
    if counts.get("reproduced", 0) == len(table):
        return f"All {len(table)} checks hold: every confidence interval supports its claim."
    parts = [f"{counts[v]} {v}" for v in VERDICTS if counts.get(v, 0)]
    return f"Of {len(table)} checks: " + ", ".join(parts) + "."
