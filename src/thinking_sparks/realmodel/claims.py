"""The paper's claims as page ``07_real_model`` tests them on a real 135M model: one verdict row each.

STYLE.md's verdict schema (:mod:`thinking_sparks.verdicts`); every row is computed from the page's
data, in the paper's direction, with the number it compares quoted.  The §4 rows on the SFT run
reuse the emergence room's (:func:`~thinking_sparks.emergence.claims.section4_verdicts`: emergent heads
against the same-size null, persistence), the §6 head counts and the Fig 5 rows the interventions room's
(:func:`~thinking_sparks.interventions.claims.count_verdicts`,
:func:`~thinking_sparks.interventions.claims.fig5_verdicts`, the direct style as think-off); the rest are here:

* SFT on worked solutions raises accuracy (paired difference over problems, scipy BCa bootstrap);
* SFT's emergent heads sit in mid-late layers: their mean layer lies above the mean layer of all
  heads, ``(n_layers - 1) / 2`` (what heads placed at random give; BCa interval over the heads);
* zeroing the heads only the direct (think-off) circuit recruits *raises* direct-style accuracy, as
  Table 2's think-off ablation does on four of five benchmarks, against the unmodified model and
  against as many layer-matched random heads; scaling them by 0.5 lowers it (Fig 5, Table 2 AIME'24).

The random-set comparison resamples the sets and the problems
(:func:`~thinking_sparks.evaluation.metrics.sets_paired_difference`): with one random set (the
page's ``seeds = 1``) it is ``inconclusive``. A check whose precondition failed (a style circuit
without signal or without heads, no random sets) is an ``inconclusive`` row whose criterion says
why, never a missing row.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from thinking_sparks.emergence.claims import section4_verdicts
from thinking_sparks.evaluation.intervals import mean_ci
from thinking_sparks.evaluation.metrics import paired_difference, sets_paired_difference
from thinking_sparks.heads import parse_head
from thinking_sparks.interventions.claims import count_rows, fig5_verdicts, random_criterion
from thinking_sparks.verdicts import Verdict, verdict_table

__all__ = ["mean_layer", "real_verdicts"]


def mean_layer(heads: list[str], n_layers: int, n_boot: int | None = None,
               seed: int | None = None) -> tuple[float, float, float, float]:
    """``(mean layer of heads, ci_low, ci_high, mean layer of all heads)``: the heads' mean layer with a
    bootstrap interval over the heads (NaN: fewer than two heads or all in one layer) and its null
    ``(n_layers - 1) / 2``, the mean layer of every head of the model (of a set placed at random)."""
    layers = np.asarray([parse_head(h)[0] for h in heads], dtype=float)
    null = (n_layers - 1) / 2
    if layers.size == 0:
        return math.nan, math.nan, math.nan, null
    return (float(layers.mean()), *mean_ci(layers, n_resamples=n_boot, seed=seed), null)


def _samples(result: Any, label: str) -> pd.DataFrame:
    s = result.samples
    out = s[s["condition"].str.startswith("random #")] if label == "random" else s[s["condition"] == label]
    if out.empty:
        raise ValueError(f"no samples for condition {label!r}")
    return out


def real_verdicts(run: str, tr: Any, table: pd.DataFrame, acc: Any, ov: dict[str, float], styles: dict[str, Any],
                  n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The page's verdict table.

    Args:
        run: the SFT run's name (its row in ``table``).
        tr: the run's :class:`~thinking_sparks.emergence.trace.Trace`.
        table: :func:`thinking_sparks.emergence.tables.table3` of ``{run: tr}``.
        acc: :func:`~thinking_sparks.realmodel.accuracy.accuracy` (before / after the run).
        ov: :func:`~thinking_sparks.realmodel.styles.overlap` of the two style circuits.
        styles: :func:`~thinking_sparks.realmodel.ablations.style_interventions`.
    """
    kw = dict(n_boot=n_boot, seed=seed)
    nan = float("nan")
    rows = [Verdict("Post-training on worked solutions raises accuracy", "§4 (SFT), Fig 4",
                    "pass@1, final checkpoint − start model, paired over problems (paper, GSM8K GRPO run: "
                    "AIME'24 13.3 -> about 20, MATH 56 -> about 67)", *acc.diff, above=0.0,
                    criterion="CI above 0")]
    emergent = list(tr.sets().emergent)
    value, lo, hi, null = mean_layer(emergent, tr.base.n_layers, **kw)
    rows.append(Verdict("SFT's emergent heads sit in mid-late layers", "§4.1, Figs 2B/14",
                        f"mean layer of the {len(emergent)} final emergent heads (the paper gives no number)",
                        value, lo, hi, above=null,
                        criterion=f"CI above the mean layer of all heads ({null:g} of 0..{tr.base.n_layers - 1})"))
    signal = ov.get("jaccard_low") is not None and not math.isnan(ov.get("jaccard_low", nan))
    empty = [name for name, c in (("step-by-step", "n_on"), ("direct", "n_off")) if not ov.get(c)]
    why = ("; a style circuit has no signal: not measured" if not signal else
           f"; the {' and '.join(empty)} circuit is empty: nothing to compare" if empty else "")
    ok = signal and not empty
    rows += count_rows(ov["n_on"] if ok else nan, ov["n_off"] if ok else nan, ov["on_only"] if ok else nan,
                       (ov["diff_low"], ov["diff_high"]) if ok else (nan, nan),
                       (ov["on_only_low"], ov["on_only_high"]) if ok else (nan, nan),
                       ov.get("on_only_null", nan), why, on="step-by-step (think-on)", off="direct (think-off)",
                       more="Think-off (direct) circuits recruit more heads than think-on (step-by-step) ones")
    res = styles.get("direct")
    claim = "Zeroing the heads only the think-off (direct) circuit recruits raises direct-style accuracy"
    paper = "§6, Table 2 (think off 30.0 -> 36.6 AIME'24)"
    if res is None or not styles["heads"]["direct"]:
        rows.append(Verdict(claim, paper, "direct pass@1, direct-only heads zeroed − unmodified", nan, nan, nan,
                            above=0.0, criterion="CI above 0; no direct-only heads to zero"))
    else:
        ablated = _samples(res, "ablate direct-only")
        rows.append(Verdict(claim, paper, "direct pass@1, direct-only heads zeroed − unmodified, paired over problems "
                            "(paper: AIME'24 36.6 − 30.0, AIME'25 20.0 − 13.3, GPQA 49.4 − 44.9, MATH 83.6 − 81.4; "
                            "AMC 61.4 − 67.4)", *paired_difference(ablated, _samples(res, "no ablation"), **kw),
                            above=0.0, criterion="CI above 0"))
        claim_r = "Zeroing the direct-only heads raises direct-style accuracy more than zeroing as many random heads"
        stat_r = ("direct pass@1, direct-only heads zeroed − random layer-matched sets (mean), paired over "
                  "problems, sets and problems resampled")
        if not res.samples["condition"].str.startswith("random #").any():
            rows.append(Verdict(claim_r, "§6, Table 2 (added control)", stat_r, nan, nan, nan, above=0.0,
                                criterion="CI above 0; no random sets were evaluated"))
        else:
            rnd = _samples(res, "random")
            value, lo, hi = sets_paired_difference(rnd, ablated, **kw)  # random − ablated: flip the sign
            rows.append(Verdict(claim_r, "§6, Table 2 (added control)", stat_r, -value, -hi, -lo, above=0.0,
                                criterion=random_criterion(rnd)))
    direct = styles.get("direct")
    if direct is not None and styles["heads"]["direct"]:
        scaled = next(c for c in direct.samples["condition"].unique() if c.startswith("x"))
        rows.append(Verdict("Scaling the think-off-only heads down (x0.5) lowers think-off accuracy",
                            "§6, Fig 5 (scale-down underperforms throughout), Table 2",
                            f"direct pass@1, {scaled} − unmodified, paired over problems (paper: AIME'24 20.0 − 30.0)",
                            *paired_difference(_samples(direct, scaled), _samples(direct, "no ablation"), **kw),
                            below=0.0, criterion="CI below 0"))
        fig5 = verdict_table(fig5_verdicts(styles["curves"].samples, ablated="ablate direct-only", off="no ablation",
                                           n_boot=n_boot, seed=seed))
    else:
        fig5 = verdict_table([])
    s4 = section4_verdicts({run: tr}, table, {}, sft=run)
    return pd.concat([verdict_table(rows[:1]), s4, verdict_table(rows[1:]), fig5], ignore_index=True)

