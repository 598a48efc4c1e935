"""The paper's §4 claims, decided from the organism's data: one verdict row per claim.

Columns (STYLE.md's verdict schema): ``claim, paper, statistic, value, ci_low, ci_high, criterion,
verdict``, built by :mod:`thinking_sparks.verdicts`.  A verdict is ``reproduced`` when the whole
95% CI satisfies the criterion, ``not reproduced`` when the whole CI fails it, ``inconclusive`` when
the CI straddles it.  An emergent count (:func:`emergent_row`) is decided by its paired-bootstrap
CI against its same-size null's ``floor_q95`` (:mod:`.headstats`); without a CI it decides nothing.
Without a CI the point value of an exact count decides (``point_decides``); a mean layer or a rank
correlation without a CI decides nothing.

Too little data gives no interval, never a narrow one: a layer difference needs
:data:`MIN_HEADS` heads on each side, a Spearman over checkpoints :data:`MIN_CHECKPOINTS`
checkpoints. A run whose same-size null could not be measured gets an ``inconclusive`` row that says so.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from thinking_sparks.emergence.stats import spearman
from thinking_sparks.emergence.trace import Trace
from thinking_sparks.heads import parse_head
from thinking_sparks.plan import PLAN
from thinking_sparks.verdicts import Verdict, verdict_table

#: heads on each side that :func:`_layer_boot` needs for an interval (one head has no spread to resample)
MIN_HEADS = 2
#: checkpoints that :func:`_spearman_boot` needs for an interval (2 or 3 ranks are always near +-1)
MIN_CHECKPOINTS = 4

def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion ``k / n`` (nan, nan when ``n == 0``)."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return mid - half, mid + half


def ever_emergent(tr: Trace) -> dict[str, list[bool]]:
    """Per head ever emergent along the run: its active flags from its first appearance on."""
    base = set(tr.base.heads)
    seq = [set(r.heads) - base for r in tr.live()]
    out = {}
    for h in sorted(set().union(*seq)):
        first = next(i for i, s in enumerate(seq) if h in s)
        out[h] = [h in s for s in seq[first:]]
    return out


def _stable(tr: Trace) -> tuple[int, int]:
    """(heads ever emergent that are active at the final checkpoint, heads ever emergent)."""
    flags = ever_emergent(tr)
    return sum(f[-1] for f in flags.values()), len(flags)


def _switched(tr: Trace) -> tuple[int, int]:
    """(heads ever emergent that left the circuit at least once after appearing, heads ever emergent)."""
    flags = ever_emergent(tr)
    return sum(not all(f) for f in flags.values()), len(flags)


def _layer_boot(a: list[str], b: list[str], n_layers: int, n_boot: int = 2000, seed: int = 0):
    """Mean relative layer (layer / (L - 1)) of heads ``a`` minus that of ``b``, with a bootstrap CI
    (NaN when a side has fewer than :data:`MIN_HEADS` heads; all NaN when a side is empty)."""
    if not a or not b:
        return float("nan"), float("nan"), float("nan")
    la = np.array([parse_head(h)[0] for h in a]) / max(n_layers - 1, 1)
    lb = np.array([parse_head(h)[0] for h in b]) / max(n_layers - 1, 1)
    if min(la.size, lb.size) < MIN_HEADS:
        return float(la.mean() - lb.mean()), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    d = [rng.choice(la, la.size).mean() - rng.choice(lb, lb.size).mean() for _ in range(n_boot)]
    return float(la.mean() - lb.mean()), float(np.quantile(d, 0.025)), float(np.quantile(d, 0.975))


def _spearman_boot(x, y, n_boot: int = 2000, seed: int = 0):
    """95% bootstrap CI of Spearman(x, y), pairs resampled (NaN with fewer than :data:`MIN_CHECKPOINTS`
    pairs, or when most resamples are constant)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < MIN_CHECKPOINTS:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        i = rng.integers(0, len(x), len(x))
        r = spearman(x[i], y[i])
        if not math.isnan(r):
            vals.append(r)
    if len(vals) < n_boot // 2:
        return float("nan"), float("nan")
    return float(np.quantile(vals, 0.025)), float(np.quantile(vals, 0.975))


def emergent_row(run: str, what: str, r) -> Verdict:
    """"<what> adds many emergent heads": the rule's count at ``run``'s final checkpoint (a
    :func:`~.tables.table3` row) is reproduced when its whole CI lies above the same-size null's
    ``floor_q95`` (not reproduced when wholly at or below; inconclusive when it straddles it, or when
    the count or the floor has no interval)."""
    q = PLAN.circuits.floor_quantile
    measured = not (math.isnan(r.floor_q95) or math.isnan(r.ci_low))
    floor = (f"CI above the same-size null's {q:.0%} quantile ({r.floor_q95:.1f})" if measured
             else f"CI above the same-size null's {q:.0%} quantile; "
                  + ("the null was not measured" if math.isnan(r.floor_q95) else "the count has no interval"))
    return Verdict(f"{what} adds many emergent heads", "§4.1-4.2, Table 3, Figs 2A/14",
                   f"emergent heads (p_model >= {PLAN.circuits.p_model:g}, p_base <= {PLAN.circuits.p_base:g}), "
                   f"{run} final vs base (null: {r.get('null', 'sample 1')}, mean {r.floor_mean:.1f})",
                   r.emergent, r.ci_low, r.ci_high, above=r.floor_q95, criterion=floor)


def section4_verdicts(traces: dict[str, Trace], table: pd.DataFrame, rewards: dict[str, dict],
                      sft: str = "sft", distill: str = "distill", grpo: str = "grpo-hard") -> pd.DataFrame:
    """The §4 claims on the organism (runs missing from ``traces`` are skipped).

    Args:
        traces: :func:`~.zoo.trace_runs`.
        table: :func:`~.zoo.table3` (with its bootstrap draws in ``table.attrs["boot"]``).
        rewards: :func:`~.zoo.reward_frames`.
    """
    t = table.set_index("method")
    boots = table.attrs.get("boot", {})
    rows = []
    nan = float("nan")
    for run, what in ((sft, "SFT"), (distill, "Distillation")):
        if run not in t.index:
            continue
        rows.append(emergent_row(run, what, t.loc[run]))
        if run in traces:
            k, n = _stable(traces[run])
            rows.append(Verdict(f"{what} heads persist to the end of training", "§4.1, Fig 2A/B",
                                f"share of ever-emergent {run} heads active at the final checkpoint ({k}/{n})",
                                k / n if n else nan, *wilson(k, n), above=0.5, criterion="above 0.5",
                                point_decides=True))
    if sft in t.index and distill in t.index and sft in traces and distill in traces:
        ea, eb = traces[distill].sets().emergent, traces[sft].sets().emergent
        rows.append(Verdict("Distillation's emergent heads sit in earlier layers than SFT's", "§4.1, Fig 14",
                            "mean relative layer (layer / (L-1)) of emergent heads, distill minus sft",
                            *_layer_boot(list(ea), list(eb), traces[sft].base.n_layers), below=0.0,
                            criterion="CI below 0" + ("" if min(len(ea), len(eb)) >= MIN_HEADS else
                                                        f"; needs {MIN_HEADS} heads a side, "
                                                        f"{len(ea)} and {len(eb)} here")))
    if grpo in boots and sft in boots:
        d = boots[grpo].emergent.to_numpy() - boots[sft].emergent.to_numpy()
        rows.append(Verdict("GRPO adds fewer emergent heads than SFT", "§4.2, Table 3, Fig 3A",
                            f"emergent heads, {grpo} final minus {sft} final",
                            float(t.loc[grpo, "emergent"] - t.loc[sft, "emergent"]),
                            float(np.quantile(d, 0.025)), float(np.quantile(d, 0.975)), below=0.0,
                            criterion="below 0", point_decides=True))
    if grpo in traces and sft in traces:
        k, n = _switched(traces[grpo])
        ks, ns = _switched(traces[sft])
        ref = ks / ns if ns else nan  # no sft heads to compare with: the criterion is NaN, inconclusive
        rows.append(Verdict("GRPO switches emergent heads on and off", "§4.2, Fig 3A/C",
                            f"share of ever-emergent {grpo} heads that leave the circuit at least once ({k}/{n})",
                            k / n if n else nan, *wilson(k, n), above=ref,
                            criterion=f"above the same share for {sft} ({ref:.2f})", point_decides=True))
    if grpo in rewards:
        r = rewards[grpo]
        pc = r["per_checkpoint"].dropna()
        rows.append(Verdict("The number of new heads rises and falls with the accuracy reward", "§4.2, Fig 3B",
                            f"Spearman(new heads, reward) over {r['n']} {grpo} checkpoints "
                            f"(permutation p = {r['p']:.3g})",
                            r["spearman"], *_spearman_boot(pc.new_heads, pc.reward), above=0.0,
                            criterion="CI above 0" + ("" if len(pc) >= MIN_CHECKPOINTS else
                                                       f"; needs {MIN_CHECKPOINTS} checkpoints, {len(pc)} here")))
    if distill in t.index:
        r = t.loc[distill]
        rows.append(Verdict("About two-thirds of base heads are retained after distillation", "§4.1, §7",
                            f"retained share of the base circuit's heads, {distill} final",
                            r.retained_share, r.retained_ci_low, r.retained_ci_high, above=0.5, below=5 / 6,
                            criterion="within 2/3 ± 1/6 (0.5 to 0.83)", point_decides=True))
    return verdict_table(rows)
