"""The intervention tables of pages 05 and 06 from head sets and loaded models (every evaluation
cached by :func:`~thinking_sparks.interventions.experiments.pass_at_1_table`), and their display forms.

- :func:`ablation_table` — Table 1: zero-ablate each named set and layer-matched random sets.
- :func:`scaling_table` — Tables 4, 5: SFT's and early GRPO's heads x1.3, x0.5 and zeroed in the base.
- :func:`grpo_sweep` — Fig 4: pass@1, problems gained / lost and failures along a GRPO run.
- :func:`think_tables` — Table 2 and Fig 5: the hybrid's modes and interventions, pass@k / success@k.
- :func:`examples`, :func:`pass_table`, :func:`failure_table`, :func:`failures_by_step` — display forms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from thinking_sparks.emergence.modelruns import ModelRun
from thinking_sparks.evaluation.harness import EvalParams
from thinking_sparks.heads.edits import parse_edits
from thinking_sparks.interventions import experiments as ex
from thinking_sparks.models import step_of

#: Table 5's scale factors (the paper's x1.3 up, x0.5 down)
SCALE_FACTORS = (1.3, 0.5)


def ablation_table(lm: Any, sets: Mapping[str, Sequence[str]], params: EvalParams, eval_sets: Sequence[str],
                   seeds: int) -> ex.ExperimentResult:
    """Table 1 on ``lm`` (a loaded model): no ablation, each non-empty named set of ``emergent``,
    ``base``, ``control`` zeroed, and ``seeds`` random sets layer-matched to ``emergent`` (none
    when it is empty)."""
    named = {k: list(sets[k]) for k in ("emergent", "base", "control") if sets.get(k)}  # empty sets: no row
    conds = ex.ablation_conditions(named, lm.n_layers, lm.n_heads,
                                   random_like="emergent" if sets.get("emergent") else None, seeds=range(seeds))
    return ex.pass_at_1_table(lm, conds, params, eval_sets)


def scaled_sets(sets: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The non-empty ``sft`` and ``grpo early`` sets (Table 5's rows)."""
    return {k: list(sets[k]) for k in ("sft", "grpo early") if sets.get(k)}


def scaling_table(base_lm: Any, sets: Mapping[str, Sequence[str]], params: EvalParams,
                  eval_sets: Sequence[str]) -> ex.ExperimentResult:
    """Table 5 on the base model: the unmodified model, each of :func:`scaled_sets` scaled by each of
    :data:`SCALE_FACTORS`, and each zeroed (``ablate sft``, ...)."""
    scaled = scaled_sets(sets)
    conds = ex.scaling_conditions(scaled, factors=SCALE_FACTORS)
    conds += [ex.Condition(f"ablate {k}", parse_edits(v), f"ablate {k}") for k, v in scaled.items()]
    return ex.pass_at_1_table(base_lm, conds, params, eval_sets)


def grpo_sweep(grpo: ModelRun, base: str, load: Callable[[str], Any], params: EvalParams,
               eval_sets: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Fig 4 (:func:`~.experiments.checkpoint_sweep`) along ``grpo``'s checkpoints, step 0 being the
    model the run started from (``grpo.base``, else ``base``); ``load``: spec -> loaded model."""
    start = grpo.base or base
    points = [(0, start)] + [(step_of(c, i + 1), c) for i, c in enumerate(grpo.checkpoints)]
    return ex.checkpoint_sweep(points, params, eval_sets, load=load)


def think_tables(lm: Any, off_only: Sequence[str], params: EvalParams, k_params: EvalParams, k_dataset: str,
                 eval_sets: Sequence[str], switch: str = "flags") -> tuple[ex.ExperimentResult, ex.ExperimentResult]:
    """Table 2 (pass@1 per set: think on, think off, think off with ``off_only`` zeroed or x0.5) and
    Fig 5 (pass@k, success@k on ``k_dataset`` for every row but think on): ``(table2, curves)``."""
    conds = ex.think_conditions(off_only, scale=0.5, switch=switch)
    table2 = ex.pass_at_1_table(lm, conds, params, eval_sets)
    curves = ex.k_curves(lm, [c for c in conds if c.label != "think on"], k_params, dataset=k_dataset)
    return table2, curves


def generation_seconds(*results: ex.ExperimentResult) -> float:
    """Generation seconds of the evaluations behind these results (as measured when each evaluation
    was first computed; a cached evaluation keeps its own)."""
    total = 0.0
    for res in results:
        for r in res.results.values():
            total += float(r.info.get("timing", {}).get("seconds", 0.0))
    return total


def examples(classified: pd.DataFrame, conditions: list[str], n_problems: int = 3, seed: int = 0) -> pd.DataFrame:
    """A few problems with the first completion of each condition (and its failure category, where
    the taxonomy applies), side by side: ``problem, gold, condition, [failure,] completion``.

    Problems are picked (seeded) among those where the conditions disagree on correctness.
    """
    sub = classified[classified["condition"].isin(conditions) & (classified["sample_index"] == 0)]
    wide = sub.pivot_table(index=["set", "problem_id"], columns="condition", values="correct", aggfunc="first")
    mixed = wide[wide.nunique(axis=1) > 1].index.tolist() or wide.index.tolist()
    rng = np.random.default_rng(seed)
    picks = [mixed[i] for i in sorted(rng.choice(len(mixed), size=min(n_problems, len(mixed)), replace=False))]
    rows = []
    for s, pid in picks:
        for cond in conditions:
            r = sub[(sub["set"] == s) & (sub["problem_id"] == pid) & (sub["condition"] == cond)]
            if not r.empty:
                r = r.iloc[0]
                rows.append({"problem": pid, "gold": r["gold"], "condition": cond,
                             **({"failure": r["failure"]} if "failure" in r else {}), "completion": r["completion"]})
    return pd.DataFrame(rows)


def pass_table(table: pd.DataFrame) -> pd.DataFrame:
    """Conditions x sets, each cell ``pass@1 [ci_low, ci_high]`` (display form of a pass@1 table;
    sets in the table's order)."""
    cells = table.assign(cell=[f"{v:.3f} [{lo:.3f}, {hi:.3f}]" for v, lo, hi in
                               zip(table["pass@1"], table["ci_low"], table["ci_high"])])
    wide = cells.pivot_table(index="condition", columns="set", values="cell", aggfunc="first", sort=False)
    return wide.reindex(columns=list(dict.fromkeys(table["set"]))).rename_axis(None, axis=1)


def failure_table(failures: pd.DataFrame, index: Sequence[str]) -> pd.DataFrame:
    """Tidy failure counts (``..., failure, count``) as one row per ``index`` value, one column per
    failure kind (counts summed over the other columns, e.g. sets)."""
    return failures.pivot_table(index=list(index), columns="failure", values="count", aggfunc="sum",
                                sort=False).reset_index()


def failures_by_step(failures: pd.DataFrame) -> pd.DataFrame:
    """Fig 4's failure counts over all sets: ``step, failure, count`` without the correct answers."""
    fails = failures[failures["failure"] != "correct"]
    return fails.groupby(["step", "failure"], as_index=False)["count"].sum()
