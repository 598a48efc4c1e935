"""The second circuit question set (the paper's AMC circuits, Figs 6 and 9) and whether it agrees with the first.

The paper builds every analysis on AIME'24 and again on AMC questions: Fig 6 is Fig 2 (SFT) on AMC
circuits, Fig 9 is Fig 3 (GRPO on its main data) on AMC circuits. :func:`second_set` traces the runs
of the analysis plan's ``second_set.roles`` (:func:`~.modelruns.claim_roles`: ``sft``, ``grpo``) on
the second set (``plan.PLAN.second_set.question_set``, ``organism/circuit2``) with everything else as
the first set's sweep (questions per circuit, the two question samples and their null, the circuit
size), each circuit cached as the first set's are (:func:`~.sweep.circuit_for`), and compares the
two sets' final emergent heads per run (:func:`agreement`).

**Agreement.** For a run and sample ``s`` of set ``X``, ``E_X^s`` is the final checkpoint's circuit
heads minus its base circuit's heads, both on sample ``s`` (the cohort panel's final emergent set).
The statistic is the Jaccard ``J(E_A^0, E_B^0)`` of the first set ``A`` and the second ``B``. Its
interval is a percentile bootstrap paired by question within each set: every resample draws each
sample's questions with replacement once, the model's and the base's circuits taking the same draw
(:func:`~.headstats.paired_weights`; the two sets share no question, so they are drawn apart).
The null is the Jaccard between the two independent question samples of one set,
``J(E_A^0, E_A^1)`` and ``J(E_B^0, E_B^1)``, over the same resamples and pooled: how much an emergent
set changes when only the questions are redrawn. The two sets agree when the cross-set Jaccard's
whole interval lies above the null's ``plan.second_set.null_quantile`` quantile, and disagree (the
question set moves the heads beyond question sampling) when it lies wholly at or below it; a set
without a second sample has no null, and its row decides nothing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from thinking_sparks.cache import cached
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.emergence import fig8
from thinking_sparks.emergence.claims import section4_verdicts
from thinking_sparks.emergence.decide import with_n_to_decide
from thinking_sparks.emergence.drawing import edge_graph
from thinking_sparks.emergence.headstats import Scores, memberships, paired_weights
from thinking_sparks.emergence.modelruns import ModelRun, claim_roles
from thinking_sparks.emergence.pairs import PairParams, Side, side_fingerprint
from thinking_sparks.emergence.tables import (
    RewardTrack,
    checkpoint_counts,
    resample_plan,
    reward_frames,
    sweep_summary,
    table3,
)
from thinking_sparks.emergence.trace import Trace, TraceTables, trace_models
from thinking_sparks.plan import PLAN, SecondSetPlan, StatsPlan
from thinking_sparks.verdicts import Verdict

__all__ = ["AGREEMENT_COLUMNS", "FIGURES", "GRPO_POOL", "SecondSet", "agreement", "agreement_verdicts", "confirmatory_verdicts",
           "emergent_boot", "second_pairs", "second_set"]

#: the role of the GRPO runs traced on the second set besides the claim roles' (``plan.second_set.grpo_pool``)
GRPO_POOL = "grpo_pool"
#: claim role -> (the paper's figure on the AMC circuits, its AIME'24 counterpart); distillation has no
#: figure of its own on either set: Fig 14 pools both sets per method
FIGURES = {"sft": ("Fig 6", "Fig 2"), "grpo": ("Fig 9", "Fig 3"), "distill": ("Fig 14", "Fig 14"),
           GRPO_POOL: ("Fig 9", "Figs 3, 7")}
#: one row per run of :attr:`SecondSet.agreement`: the final emergent sets' sizes on each set (sample 0),
#: their shared heads and Jaccard with its interval, each set's within-set Jaccard (sample 0 vs 1) and the
#: null's quantile the interval is held to (``null_q``; NaN without a second sample on either set)
AGREEMENT_COLUMNS = ["run", "figure", "first_figure", "emergent_first", "emergent_second", "shared", "jaccard",
                     "ci_low", "ci_high", "within_first", "within_second", "null_q", "n_boot"]


@dataclass
class SecondSet:
    """Page 04 on the second circuit question set.

    Attributes:
        dataset, first_dataset: the second and the first circuit question sets.
        runs: the sweep of each traced run on the second set (cohort bands, frequencies: Figs 6 and 9),
            in :data:`FIGURES`' role order; :attr:`traces` by label.
        figures: the paper's figure of each run, aligned with ``runs``.
        agreement: :data:`AGREEMENT_COLUMNS`, one row per run.
        boot: one row per resample and run: ``run, cross, within_first, within_second`` (Jaccards).
        summary: the second set's per-checkpoint summaries (:func:`~.tables.sweep_summary`).
        seconds: compute seconds of the comparison (the circuits' own times are in ``summary``).
        roles: each traced run's role (aligned with ``runs``: a claim role or :data:`GRPO_POOL`).
        n_questions: questions per circuit on the second set (``plan.second_set.question_scale`` times
            the first set's).
        table, boots, rewards: Table 3, its rule counts per resample and the GRPO runs' reward tracking on
            the second set (:func:`~.tables.table3`, :func:`~.tables.reward_frames`): what the §4 claims
            are decided on (:func:`confirmatory_verdicts`).
    """

    dataset: str
    first_dataset: str
    runs: list[TraceTables] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    agreement: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=AGREEMENT_COLUMNS))
    boot: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["run", "cross", "within_first",
                                                                             "within_second"]))
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    seconds: float = 0.0
    n_questions: int = 0
    roles: list[str] = field(default_factory=list)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    boots: dict[str, pd.DataFrame] = field(default_factory=dict)
    rewards: dict[str, RewardTrack] = field(default_factory=dict)

    @property
    def traces(self) -> dict[str, TraceTables]:
        """``label -> TraceTables`` on the second set, in the page's order."""
        return {tr.run: tr for tr in self.runs}


def chosen_runs(models: Mapping[str, ModelRun], plan: SecondSetPlan = PLAN.second_set) -> dict[str, str]:
    """``label -> role`` of the runs traced on the second set: the plan's roles present among ``models``,
    then (``plan.grpo_pool``) every other GRPO run but Fig 8's learning-rate run, as :data:`GRPO_POOL`."""
    roles = claim_roles(models)
    out = {roles[r]: r for r in plan.roles if roles.get(r)}
    if plan.grpo_pool:
        out |= {label: GRPO_POOL for label, m in models.items() if m.kind == "grpo" and label not in out
                and label != fig8.RUN}
    return out


def second_set(models: Mapping[str, ModelRun], pairs: PairParams, config: CircuitConfig, n_boot: int,
               dataset: str) -> SecondSet:
    """The runs of the plan's roles traced on ``dataset`` (``pairs`` otherwise: the first set's pair
    params) with the first set's circuit ``config``, and their agreement with the first set (cached)."""
    if dataset == pairs.dataset:
        raise ValueError(f"the second circuit set must differ from the first ({dataset!r})")
    chosen = chosen_runs(models)
    if not chosen:
        return SecondSet(dataset, pairs.dataset)
    return _second({label: models[label] for label in chosen}, list(chosen.values()), pairs,
                   second_pairs(pairs, dataset), config, n_boot)


def second_pairs(pairs: PairParams, dataset: str, plan: SecondSetPlan = PLAN.second_set) -> PairParams:
    """The first set's pair params on ``dataset`` at ``plan.question_scale`` times its questions per circuit."""
    return dataclasses.replace(pairs, dataset=dataset, n_questions=pairs.n_questions * plan.question_scale)


def _key(models: dict[str, ModelRun], roles: list[str], first: PairParams, second: PairParams, config: CircuitConfig,
         n_boot: int) -> dict:
    runs = {label: {"run": m, "base": side_fingerprint(Side(m.base)),
                    "checkpoints": [side_fingerprint(Side(c)) for c in m.checkpoints]} for label, m in models.items()}
    return {"runs": runs, "roles": roles, "first": first, "second": second, "circuit": config, "n_boot": n_boot,
            "plan": [PLAN.second_set, PLAN.circuits.n_samples, PLAN.stats]}


@cached("page-emergence-second-set", key=_key)
def _second(models: dict[str, ModelRun], roles: list[str], first: PairParams, second: PairParams,
            config: CircuitConfig, n_boot: int) -> SecondSet:
    b = trace_models(models, second, config)
    t0 = time.perf_counter()
    counts = checkpoint_counts(b, config, resample_plan(n_boot), final_only=PLAN.circuits.count_checkpoints == "final")
    table = table3(b, config, counts=counts)
    boots = table.attrs.pop("boot", {})
    rewards = {r: RewardTrack(**d) for r, d in reward_frames(b, models).items()}
    a = trace_models(models, first, config)  # the page's own sweep: read from the cache
    rows, agree = [], []
    for (label, tr_a), role in zip(a.items(), roles, strict=True):
        row, boot = agreement(tr_a, b[label], config, n_boot)
        rows.append({"run": label, "figure": FIGURES[role][0], "first_figure": FIGURES[role][1]} | row)
        agree.append(boot.assign(run=label))
    return SecondSet(second.dataset, first.dataset, [tr.tables() for tr in b.values()],
                     [FIGURES[r][0] for r in roles], pd.DataFrame(rows).reindex(columns=AGREEMENT_COLUMNS),
                     pd.concat(agree, ignore_index=True)[["run", "cross", "within_first", "within_second"]],
                     sweep_summary(b), round(time.perf_counter() - t0, 3), second.n_questions, list(roles), table, boots,
                     rewards)


# ------------------------------------------------------------------ the statistic


def emergent_boot(model: Scores, base: Scores, graph, n: int, n_boot: int, gen: torch.Generator,
                  aggregation: str = "mean") -> tuple[torch.Tensor, torch.Tensor]:
    """``(point [n_layers * n_heads], boot [n_boot, n_layers * n_heads])`` bool: the emergent heads
    (model circuit minus base circuit, layer-major) on all rows, and on ``n_boot`` resamples of the
    questions paired between the two circuits (:func:`~.headstats.paired_weights`)."""
    ones_m, ones_b = torch.ones(1, len(model.questions)), torch.ones(1, len(base.questions))
    point = memberships(model.per_example, ones_m, graph, n, aggregation) & \
        ~memberships(base.per_example, ones_b, graph, n, aggregation)
    wm, wb, _ = paired_weights(model.questions, base.questions, n_boot, gen)
    boot = memberships(model.per_example, wm, graph, n, aggregation) & ~memberships(base.per_example, wb, graph, n,
                                                                                    aggregation)
    return point[0], boot


def _jaccard(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Row-wise Jaccard of bool masks (NaN where both are empty)."""
    inter, union = (a & b).sum(-1).double().numpy(), (a | b).sum(-1).double().numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1), np.nan)


def _samples(tr: Trace) -> list[tuple[Scores, Scores]]:
    """``(model, base)`` scores of the final checkpoint on each question sample with signal (0, then 1)."""
    out = [(tr.results[-1], tr.base)]
    if tr.nulls and tr.base_null is not None:
        out.append((tr.nulls[-1], tr.base_null))
    return [(Scores.of(m), Scores.of(b)) for m, b in out if m.has_signal and b.has_signal]


def agreement(first: Trace, second: Trace, config: CircuitConfig, n_boot: int, plan: SecondSetPlan = PLAN.second_set,
              stats: StatsPlan = PLAN.stats) -> tuple[dict, pd.DataFrame]:
    """One run's agreement row (:data:`AGREEMENT_COLUMNS` but the first three) and its resamples
    (``cross, within_first, within_second``) from its sweeps on the two sets (module docstring).
    Deterministic by ``stats.seed``; NaNs where a set's sample 0 has no signal."""
    final = first.results[-1]
    graph, n = edge_graph(final, config), final.top_n
    gen = torch.Generator().manual_seed(stats.seed)
    sets = [[emergent_boot(m, b, graph, n, n_boot, gen, config.aggregation) for m, b in _samples(tr)]
            for tr in (first, second)]
    nan = np.full(n_boot, np.nan)
    cross = _jaccard(sets[0][0][1], sets[1][0][1]) if sets[0] and sets[1] else nan
    within = [_jaccard(s[0][1], s[1][1]) if len(s) == 2 else nan for s in sets]
    boot = pd.DataFrame({"cross": cross, "within_first": within[0], "within_second": within[1]})
    null = np.concatenate(within)
    null = null[~np.isnan(null)]
    ok = cross[~np.isnan(cross)]
    a = (1 - stats.confidence) / 2
    point = [[p for p, _ in s] for s in sets]
    em = [set(torch.nonzero(s[0]).flatten().tolist()) if s else set() for s in point]
    row = {"emergent_first": len(em[0]), "emergent_second": len(em[1]), "shared": len(em[0] & em[1]),
           "jaccard": float(_jaccard(point[0][0], point[1][0])) if point[0] and point[1] else np.nan,
           "ci_low": float(np.quantile(ok, a)) if len(ok) else np.nan,
           "ci_high": float(np.quantile(ok, 1 - a)) if len(ok) else np.nan,
           "within_first": float(_jaccard(*point[0])) if len(point[0]) == 2 else np.nan,
           "within_second": float(_jaccard(*point[1])) if len(point[1]) == 2 else np.nan,
           "null_q": float(np.quantile(null, plan.null_quantile)) if len(null) else np.nan, "n_boot": n_boot}
    return row, boot


def agreement_verdicts(result: SecondSet, plan: SecondSetPlan = PLAN.second_set) -> list[Verdict]:
    """One row per run: do the two circuit sets give the same final emergent heads (module docstring)?"""
    out = []
    for r in result.agreement.itertuples(index=False):
        null = (f"the within-set null's {plan.null_quantile:.0%} quantile ({r.null_q:.2f}: Jaccard of two question "
                "samples of one set)") if not np.isnan(r.null_q) else "the within-set null (none: one sample; decides nothing)"
        out.append(Verdict("the emergent heads do not depend on the circuit question set (AIME'24 vs AMC)",
                           f"§4, {r.figure} vs {r.first_figure} (AMC vs AIME'24 circuits)",
                           f"Jaccard of final emergent sets, {result.first_dataset} vs {result.dataset} ({r.run})",
                           r.jaccard, r.ci_low, r.ci_high, above=r.null_q, criterion=f"CI above {null}"))
    return out


def confirmatory_verdicts(result: SecondSet) -> pd.DataFrame:
    """Page 04's §4 claims (:func:`~.claims.section4_verdicts`, with ``n_to_decide``) decided on the second
    set: stage 2 of the analysis plan's two-stage design (``plan.second_set.question_scale``), on
    questions the first set's pilot never saw. Each row's statistic names the set and its size; an
    empty frame when the second set traced no run."""
    if result.table.empty:
        return pd.DataFrame()
    runs = [tr.run for tr in result.runs]
    roles = {"sft": "", "distill": "", "grpo": ""} | {role: run for run, role in zip(runs, result.roles, strict=True)
                                                      if role != GRPO_POOL}
    pool = [roles["grpo"]] * bool(roles["grpo"]) + [r for r, role in zip(runs, result.roles, strict=True)
                                                    if role == GRPO_POOL]
    table = result.table.copy()
    table.attrs["boot"] = result.boots
    rows = section4_verdicts(result.traces, table, {r: t.as_dict() for r, t in result.rewards.items()},
                             sft=roles["sft"], distill=roles["distill"], grpo=roles["grpo"], grpo_pool=pool)
    rows = with_n_to_decide(rows, result.traces, roles, result.table)
    where = f"{result.dataset}, {result.n_questions:,} questions per circuit: "
    return rows.assign(statistic=where + rows["statistic"].astype(str))
