"""Page 08's claims on a second organism family (paper v2 Figs 10, 11): is emergence a Qwen quirk?

The Llama organism (``organism.config.LlamaShape``) is traced with page 04's code (:mod:`.trace`,
:mod:`.tables`, :mod:`.headstats`); these functions add what Figs 10 and 11 claim beyond Table 3:

* :func:`early_counts` — the plan's rule (with its same-size null) at a GRPO run's early checkpoint,
  the last one at or before ``plan.generalisation.early_share`` of its steps (:func:`early_index`).
* :func:`layer_row` — "emergent heads spread across early-mid layers": the mean relative layer of a
  final checkpoint's emergent heads minus that of every head of the model, heads resampled
  independently on each side (:func:`~.claimstats.layer_difference`, the interval page 04's layer
  claim uses); CI below 0.
* :func:`after_first_row` — "GRPO adds heads after its first checkpoints": final count minus the
  early checkpoint's, the two bootstrap distributions paired every-with-every
  (:func:`~.claimstats.independent_difference`, as page 04's GRPO-vs-SFT row); CI above 0.
* :func:`family_row` — do the two families agree on which training adds more heads? The Llama
  difference (GRPO final minus SFT final) is tested on the side of 0 where the Qwen difference's
  whole interval lies; when the Qwen interval straddles 0 there is no side to agree with
  (inconclusive).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.emergence.claims import emergent_row
from thinking_sparks.emergence.claimstats import independent_difference, layer_difference
from thinking_sparks.emergence.drawing import edge_graph
from thinking_sparks.emergence.headstats import Scores
from thinking_sparks.emergence.stats import head_names
from thinking_sparks.emergence.tables import COUNT_COLUMNS, count_row, null_of
from thinking_sparks.emergence.trace import Trace
from thinking_sparks.heads import parse_head
from thinking_sparks.plan import PLAN, Plan
from thinking_sparks.verdicts import Verdict

__all__ = ["after_first_row", "early_counts", "early_index", "family_row", "layer_profile", "layer_row", "sft_row"]

NAN = math.nan
FIG10 = "v2 Fig 10 (Llama-3.2-1B, SFT on OpenR1): 'emergent heads accumulate'"
FIG11 = "v2 Fig 11 (Llama-3.2-1B, GRPO on OpenR1): 'many more heads after checkpoint 500'"


def early_index(steps: Sequence[int], share: float = PLAN.generalisation.early_share) -> int:
    """Index of the last of ``steps`` at or before ``share`` of the final step (0 when none is)."""
    if not len(steps):
        raise ValueError("early_index: no checkpoints")
    early = [i for i, s in enumerate(steps) if s <= share * steps[-1]]
    return early[-1] if early else 0


def early_counts(traces: Mapping[str, Trace], runs: Sequence[str], settings: CircuitConfig,
                 plan: Plan = PLAN) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """``run, step`` + :data:`~.tables.COUNT_COLUMNS` at each of ``runs``' early checkpoint (among its
    checkpoints with signal; :func:`early_index`), against its base with its own same-size null; and
    the rule's counts per outer resample by ``"run@step"``. A run whose early checkpoint is its final
    one (fewer than two live checkpoints) is left out."""
    rows, boots = [], {}
    for run in runs:
        tr = traces[run]
        live = [i for i, r in enumerate(tr.results) if r.has_signal]
        if len(live) < 2 or not tr.base.has_signal:
            continue
        i = live[early_index([tr.steps[j] for j in live], plan.generalisation.early_share)]
        if i == live[-1]:
            continue
        r = tr.results[i]
        row, hs = count_row(Scores.of(r), Scores.of(tr.base), null_of(tr, i), edge_graph(r, settings), r.top_n,
                            plan.circuits, plan.stats, settings.aggregation, score=r.score)
        rows.append({"run": run, "step": tr.steps[i]} | row)
        boots[f"{run}@{tr.steps[i]}"] = hs.boot
    return pd.DataFrame(rows).reindex(columns=["run", "step", *COUNT_COLUMNS]), boots


def sft_row(run: str, row: pd.Series) -> Verdict:
    """Fig 10's "emergent heads accumulate under SFT": page 04's count-above-floor row
    (:func:`~.claims.emergent_row`) on the Llama SFT run's final checkpoint."""
    return dataclasses.replace(emergent_row(run, "Llama SFT", row), claim="Llama: emergent heads accumulate under SFT",
                               paper=FIG10)


def _heads(row: pd.Series) -> list[str]:
    text = row.get("emergent_heads", "")
    return str(text).split() if isinstance(text, str) else []


def layer_row(run: str, what: str, row: pd.Series, n_layers: int, n_heads: int, paper: str,
              plan: Plan = PLAN) -> Verdict:
    """"<what>'s emergent heads spread across early-mid layers": the mean relative layer
    (``layer / (L-1)``) of the rule's emergent heads at ``run``'s final checkpoint (a
    :func:`~.tables.checkpoint_counts` row, with ``emergent_heads``) minus that of every head of the model, each side's heads resampled
    independently; reproduced when the CI lies below 0."""
    heads = _heads(row)
    grid = head_names(n_layers, n_heads)
    layers = sorted({parse_head(h)[0] for h in heads})
    few = len(heads) < plan.section4.min_heads
    return Verdict(f"Llama: {what}'s emergent heads sit in early-mid layers", paper,
                   f"mean relative layer of the {len(heads)} emergent heads of {run} final (layers "
                   f"{', '.join(map(str, layers)) or 'none'} of 0-{n_layers - 1}) minus that of all {len(grid)} heads; "
                   "heads resampled independently on each side",
                   *layer_difference(heads, grid, n_layers, plan), below=0.0,
                   criterion="CI below 0 (earlier than a head drawn from the whole grid)"
                             + (f"; needs {plan.section4.min_heads} heads, {len(heads)} here" if few else ""))


def after_first_row(run: str, final: pd.Series, early: pd.Series | None, boots: Mapping[str, pd.DataFrame],
                    plan: Plan = PLAN) -> Verdict:
    """Fig 11's "GRPO adds heads after its first checkpoints": the emergent count at ``run``'s final
    checkpoint minus that at its early checkpoint (:func:`early_counts`), the two bootstrap
    distributions paired every-with-every; CI above 0."""
    claim = "Llama: GRPO adds emergent heads after its first checkpoints"
    share = plan.generalisation.early_share
    if early is None:
        return Verdict(claim, FIG11, f"{run}: emergent heads at the final checkpoint minus at the checkpoint at "
                       f"{share:.0%} of training", NAN, NAN, NAN, above=0.0,
                       criterion="CI above 0; fewer than two checkpoints with signal")
    fb, eb = boots.get(f"{run}@{int(final.step)}"), boots.get(f"{run}@{int(early.step)}")
    lo, hi = (independent_difference(fb.emergent.to_numpy(), eb.emergent.to_numpy(), plan)
              if fb is not None and eb is not None else (NAN, NAN))
    return Verdict(claim, FIG11,
                   f"emergent heads, {run} final (step {int(final.step)}: {int(final.emergent)}) minus step "
                   f"{int(early.step)} ({int(early.emergent)}, the last checkpoint at or before {share:.0%} of "
                   "training); bootstrap draws paired every-with-every",
                   float(final.emergent - early.emergent), lo, hi, above=0.0, criterion="CI above 0")


def _difference(table: pd.DataFrame, boots: Mapping[str, pd.DataFrame], sft: str, grpo: str,
                plan: Plan) -> tuple[float, float, float]:
    t = table.set_index("method")
    if sft not in t.index or grpo not in t.index or sft not in boots or grpo not in boots:
        return NAN, NAN, NAN
    lo, hi = independent_difference(boots[grpo].emergent.to_numpy(), boots[sft].emergent.to_numpy(), plan)
    return float(t.loc[grpo, "emergent"] - t.loc[sft, "emergent"]), lo, hi


def _side(lo: float, hi: float) -> str:
    if math.isnan(lo) or math.isnan(hi):
        return "none"
    return "SFT" if hi < 0 else "GRPO" if lo > 0 else "neither"


def family_row(llama: tuple[pd.DataFrame, Mapping[str, pd.DataFrame], str, str],
               qwen: tuple[pd.DataFrame, Mapping[str, pd.DataFrame], str, str], plan: Plan = PLAN) -> Verdict:
    """"The Qwen and Llama organisms agree on which training adds more heads". Each argument is
    ``(table3, boots, sft run, grpo run)`` of one family; the statistic is Llama's GRPO-minus-SFT
    emergent count, tested on the side of 0 where Qwen's whole interval lies (below 0: SFT adds
    more; above: GRPO); inconclusive when Qwen's interval straddles 0 or is missing."""
    lv, llo, lhi = _difference(*llama, plan)
    qv, qlo, qhi = _difference(*qwen, plan)
    side = _side(qlo, qhi)
    bound = {"SFT": {"below": 0.0}, "GRPO": {"above": 0.0}}.get(side, {"above": NAN})
    why = {"SFT": "CI below 0 (Qwen: SFT adds more)", "GRPO": "CI above 0 (Qwen: GRPO adds more)",
           "neither": "the side of 0 of Qwen's interval; Qwen's straddles 0, so there is no side to agree with",
           "none": "the side of 0 of Qwen's interval; Qwen's difference has no interval"}[side]
    return Verdict("Qwen and Llama organisms agree on which training adds more emergent heads",
                   "v2 §4.2 Table 3 (Qwen: SFT 34 vs GRPO 19-20) against Figs 10-11 (Llama)",
                   f"emergent heads, {llama[3]} final minus {llama[2]} final (Llama; the runs' bootstrap draws "
                   f"paired every-with-every), against {qwen[3]} minus {qwen[2]} (Qwen: {qv:.0f}, CI "
                   f"[{qlo:.1f}, {qhi:.1f}]: {side if side in ('SFT', 'GRPO') else 'undecided'})",
                   lv, llo, lhi, criterion=why, **bound)


def layer_profile(counts: pd.DataFrame, n_layers: int) -> pd.DataFrame:
    """``run, step, layer, emergent``: the rule's emergent heads per layer in each row of ``counts``
    (:func:`~.tables.checkpoint_counts` with ``emergent_heads``): where Figs 10-11 place them."""
    rows = []
    for _, r in counts.iterrows():
        per = np.bincount([parse_head(h)[0] for h in _heads(r)], minlength=n_layers)
        rows += [{"run": r["run"], "step": int(r["step"]), "layer": layer, "emergent": int(c)}
                 for layer, c in enumerate(per)]
    return pd.DataFrame(rows, columns=["run", "step", "layer", "emergent"])
