"""The paper's claims as page ``07_real_model`` tests them on a real 135M model: one verdict row each.

STYLE.md's verdict schema (:mod:`thinking_sparks.verdicts`); every row is computed from the page's
data.  The §4 rows on the SFT run reuse the emergence room's (:func:`~thinking_sparks.emergence.
claims.section4_verdicts`: emergent heads against the same-size null, persistence), the Fig 5 rows the
interventions room's (:func:`~thinking_sparks.interventions.claims.think_verdicts`, with the direct
style as think-off); the rest are here:

* SFT on worked solutions raises accuracy (paired difference over problems);
* SFT's emergent heads sit in mid-late layers (share in the last two thirds of the layers, Wilson CI,
  against that share of all heads);
* the direct (think-off) circuit recruits more heads than the step-by-step one, and none of the
  step-by-step heads is missing from it (paired bootstrap over questions);
* zeroing the heads only one style recruits hurts that style more than zeroing as many layer-matched
  random heads; scaling the direct-only heads by 0.5 lowers direct-style accuracy.

The random-set comparison resamples the sets and the problems
(:func:`~thinking_sparks.evaluation.metrics.sets_paired_difference`): with one random set (the
page's ``seeds = 1``) it is ``inconclusive``. A check whose precondition failed (a style circuit
without signal or without heads, no random sets) is an ``inconclusive`` row whose criterion says
why, never a missing row.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from thinking_sparks.emergence.claims import section4_verdicts, wilson
from thinking_sparks.evaluation.metrics import paired_difference, sets_paired_difference
from thinking_sparks.heads import parse_head
from thinking_sparks.interventions.claims import random_criterion, think_verdicts
from thinking_sparks.verdicts import Verdict, verdict_table

__all__ = ["real_verdicts", "late_share"]


def late_share(heads: list[str], n_layers: int) -> tuple[int, int, float]:
    """(heads in layers >= ``n_layers // 3``, heads, the share of *all* heads in those layers)."""
    cut = n_layers // 3
    k = sum(parse_head(h)[0] >= cut for h in heads)
    return k, len(heads), (n_layers - cut) / n_layers


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
                    "pass@1, final checkpoint − start model, paired over problems", *acc.diff, above=0.0,
                    criterion="CI above 0")]
    k, n, share = late_share(list(tr.sets().emergent), tr.base.n_layers)
    rows.append(Verdict("SFT's emergent heads sit in mid-late layers", "§4.1, Figs 2B/14",
                        f"share of final emergent heads in layers >= {tr.base.n_layers // 3} ({k}/{n})",
                        k / n if n else nan, *wilson(k, n), above=share,
                        criterion=f"CI above that share of all heads ({share:.2f})"))
    signal = ov.get("jaccard_low") is not None and not math.isnan(ov.get("jaccard_low", nan))
    empty = [name for name, c in (("step-by-step", "n_on"), ("direct", "n_off")) if not ov.get(c)]
    why = ("; a style circuit has no signal: not measured" if not signal else
           f"; the {' and '.join(empty)} circuit is empty: nothing to compare" if empty else "")
    ok = signal and not empty
    rows.append(Verdict("Think-off (direct) circuits recruit more heads than think-on (step-by-step) ones",
                        "§6, Fig 17", "heads in the direct circuit − heads in the step-by-step circuit",
                        ov["n_off"] - ov["n_on"] if ok else nan, ov.get("diff_low", nan) if ok else nan,
                        ov.get("diff_high", nan) if ok else nan, above=0.0, criterion="CI above 0" + why,
                        point_decides=True))
    rows.append(Verdict("Think-on heads are (almost) all in the think-off circuit: no think-only heads", "§6",
                        "step-by-step heads missing from the direct circuit", ov["on_only"] if ok else nan,
                        ov.get("on_only_low", nan) if ok else nan, ov.get("on_only_high", nan) if ok else nan,
                        below=0.5, criterion="CI below 0.5 (none)" + why, point_decides=True))
    for style, what in (("direct", "think-off (direct)"), ("think", "think-on (step-by-step)")):
        res = styles.get(style)
        claim = (f"Zeroing the heads only the {what} circuit recruits hurts that style more than "
                 "zeroing as many random heads")
        statistic = (f"{style} pass@1, random layer-matched sets (mean) − {style}-only heads zeroed, "
                     "paired over problems, sets and problems resampled")
        if res is None or not styles["heads"][style]:
            if style == "think":
                continue  # no step-by-step-only heads is what §6 expects: nothing to zero
            rows.append(Verdict(claim, "§6, Table 2 (added control)", statistic, nan, nan, nan, above=0.0,
                                criterion=f"CI above 0; no {style}-only heads to zero"))
            continue
        if not res.samples["condition"].str.startswith("random #").any():
            rows.append(Verdict(claim, "§6, Table 2 (added control)", statistic, nan, nan, nan, above=0.0,
                                criterion="CI above 0; no random sets were evaluated"))
            continue
        rnd = _samples(res, "random")
        rows.append(Verdict(claim, "§6, Table 2 (added control)", statistic,
                            *sets_paired_difference(rnd, _samples(res, f"ablate {style}-only"), **kw),
                            above=0.0, criterion=random_criterion(rnd)))
    direct = styles.get("direct")
    if direct is not None and styles["heads"]["direct"]:
        scaled = next(c for c in direct.samples["condition"].unique() if c.startswith("x"))
        rows.append(Verdict("Scaling the think-off-only heads down (x0.5) lowers think-off accuracy",
                            "§6, Table 2, Fig 5", f"direct pass@1, {scaled} − unmodified, paired over problems",
                            *paired_difference(_samples(direct, scaled), _samples(direct, "no ablation"), **kw),
                            below=0.0, criterion="CI below 0"))
        curves = styles["curves"].samples
        fig5 = think_verdicts([], [], curves, ablated="ablate direct-only", off="no ablation", n_boot=n_boot,
                              seed=seed)
        fig5 = fig5[fig5["paper"] == "Fig 5"]
    else:
        fig5 = verdict_table([])
    s4 = section4_verdicts({run: tr}, table, {}, sft=run)
    return pd.concat([verdict_table(rows[:1]), s4, verdict_table(rows[1:]), fig5], ignore_index=True)
