"""How much data would decide page 04's inconclusive claims: the sample size behind each verdict row
of :func:`~.claims.section4_verdicts`, for :func:`thinking_sparks.power.with_n_to_decide`.

``n_to_decide`` scales a row's 95 % half-width ``w`` at its sample size ``n`` as ``w sqrt(n / n')``
and asks at what ``n'`` it would no longer reach the rule's bound from the point estimate (the
estimate and the bound held where they are). What ``n`` counts differs by row (:func:`row_sizes`):

* emergent counts (Table 3) and the GRPO-SFT difference: questions per circuit, at the final
  checkpoint (the paired bootstrap resamples questions). Assumed: the count's bootstrap spread
  shrinks as ``1 / sqrt(questions)`` and the same-size null's 95 % quantile stays put. With more
  questions the null's floor falls too, so the n is, if anything, too large for "CI above the floor";
* retained share (two parts): questions per circuit, the same assumption; the direction part
  (``CI within (1/2, 1)``) is the one sized;
* persistence: ever-emergent heads (Clopper-Pearson over heads: more heads, the same share);
* earlier layers (distillation vs SFT): emergent heads on the smaller side;
* switching: emergent heads (the bootstrap resamples heads);
* reward tracking: checkpoint changes (the permutation interval narrows roughly as
  ``1 / sqrt(changes)``: an approximation, the interval is not a normal one).

A row whose estimate sits on its bound, that has no interval, or that is decided gets none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from thinking_sparks import power

__all__ = ["row_sizes", "with_n_to_decide"]


def _questions(traces: Mapping[str, Any], run: str) -> int | None:
    """Questions (kept pairs) of ``run``'s final circuit; None when the run is not traced or has no signal."""
    tr = traces.get(run)
    if tr is None or not tr.results or not tr.results[-1].has_signal:
        return None
    return int(tr.results[-1].n_pairs)


def _number(pattern: str, text: str, group: int = 1) -> int | None:
    m = re.search(pattern, text)
    return int(m.group(group)) if m else None


def row_sizes(table: pd.DataFrame, traces: Mapping[str, Any], roles: Mapping[str, str]) -> list[int | None]:
    """Per row of a page-04 verdict table (in order), the sample size its interval rests on (see the
    module docstring; None where no size applies).

    Args:
        table: the verdict table (``claim``, ``statistic``).
        traces: ``label -> Trace`` (or ``TraceTables``): the circuits' kept pairs.
        roles: ``sft``, ``distill``, ``grpo`` -> the run label playing it (``""``: none).
    """
    out: list[int | None] = []
    for claim, statistic in zip(table["claim"].astype(str), table["statistic"].astype(str), strict=True):
        if claim.endswith("adds many emergent heads"):
            run = roles.get("sft" if claim.startswith("SFT") else "distill", "")
            out.append(_questions(traces, run))
        elif claim.startswith("GRPO adds fewer"):
            sizes = [q for q in (_questions(traces, roles.get("grpo", "")), _questions(traces, roles.get("sft", "")))
                     if q is not None]
            out.append(min(sizes) if sizes else None)
        elif "two-thirds of base heads" in claim:
            out.append(_questions(traces, roles.get("distill", "")))
        elif "persist to the end" in claim:
            out.append(_number(r"\((\d+)/(\d+);", statistic, 2))
        elif "earlier layers" in claim:
            sides = [int(x) for x in re.findall(r"\((\d+)\)", statistic)]
            out.append(min(sides) if len(sides) == 2 and min(sides) > 0 else None)
        elif "switches emergent heads" in claim:
            out.append(_number(r"bootstrap over (\d+) heads", statistic))
        elif "accuracy reward" in claim:
            out.append(_number(r"(\d+) changes between", statistic))
        else:
            out.append(None)
    return [None if n is not None and n < 1 else n for n in out]


def with_n_to_decide(table: pd.DataFrame, traces: Mapping[str, Any], roles: Mapping[str, str],
                     table3: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the column ``n_to_decide`` (:func:`thinking_sparks.power.n_to_decide` at
    :func:`row_sizes`). An emergent-count row's bound is its run's ``floor_q95`` in ``table3``
    (Table 3: ``method, floor_q95``), which its criterion shows rounded; other rows' bounds are read
    from their criteria (:func:`thinking_sparks.power.bounds_of`)."""
    floors = dict(zip(table3["method"], table3["floor_q95"], strict=True)) if "floor_q95" in table3 else {}
    values = []
    for row, n in zip(table.to_dict("records"), row_sizes(table, traces, roles), strict=True):
        claim = str(row["claim"])
        if claim.endswith("adds many emergent heads"):
            row["above"] = floors.get(roles.get("sft" if claim.startswith("SFT") else "distill", ""))
            if row["above"] is None:
                n = None
        values.append(None if n is None else power.n_to_decide(row, n))
    return table.assign(n_to_decide=pd.array(values, dtype="Int64"))
