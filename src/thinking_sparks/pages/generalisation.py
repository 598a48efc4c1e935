"""Page ``08_generalisation``: the emergence analysis on a second organism family (paper v2 Figs 10, 11, 18).

The Llama organism (``organism.config.LlamaShape``: the Qwen students' grid of heads with Llama's
attention without biases, MLP width and RoPE base) has its own base, pretrained on the same corpus,
and SFT and GRPO runs with the Qwen runs' recipes. :class:`Params` is the notebook's parameters
cell; :func:`run` traces every checkpoint of every Llama run against its base with page 04's code
(cohorts, reward tracking, the plan's rule with its same-size null, the final circuits) and the
Qwen runs' final checkpoints for the family comparison, into a :class:`Result`; :func:`verdicts`
decides Figs 10 and 11's claims (:mod:`~thinking_sparks.emergence.generalise`). Fig 12 (§A.3):
residual SAEs on the Qwen base and node attributions of the base and the distilled student
(:mod:`~thinking_sparks.emergence.saeattr`), with its claims.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from thinking_sparks.cache import cached
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.emergence import generalise, modelruns, saeattr
from thinking_sparks.emergence.device import use_device
from thinking_sparks.emergence.drawing import CircuitDrawing, circuit_graph
from thinking_sparks.emergence.modelruns import ModelRun, check_values
from thinking_sparks.emergence.pairs import PairParams, Side, side_fingerprint
from thinking_sparks.emergence.sizing import sized_config
from thinking_sparks.emergence.tables import (
    RewardTrack,
    checkpoint_counts,
    head_grid,
    resample_plan,
    reward_frames,
    table3,
)
from thinking_sparks.emergence.trace import TraceTables, trace_models
from thinking_sparks.organism.scores import accuracy_table
from thinking_sparks.organism.shapes import runs_table
from thinking_sparks.pages.params import CircuitInputs, _check_positive, emergence_settings
from thinking_sparks.plan import PLAN, SIZE_RULES
from thinking_sparks.verdicts import verdict_table


@dataclass
class Params(CircuitInputs):
    """Parameters of ``08_generalisation``.

    Attributes (besides :class:`CircuitInputs`'):
        llama_runs: the second family's post-training runs, each traced at every checkpoint against
            its base (organism run names, or ``label -> {base, checkpoints, kind}`` as page 04's
            ``runs``; not named ``runs``, so that a book-wide ``-p runs`` meant for page 04 leaves it be).
        qwen_runs: the first family's SFT and GRPO runs, traced at their final checkpoints, for the
            row that compares the families (page 04's SFT and hard-data GRPO runs).
        n_boot: paired-bootstrap resamples of the inclusion probabilities (the plan's).
        size: how circuits are sized when ``top_n`` is None (as page 04).
        n, limit: samples per problem and problems (None: all) of the pass@1 of each Llama run's
            base and final checkpoint on the plan's calibrated set (page 02's premise set and sizes).
        sae_runs: Fig 12's pair of organism runs ``[base, distilled student]`` (final checkpoints):
            SAEs trained on the first, node attributions of both (``emergence.saeattr``); [] skips it.
    """

    llama_runs: list[str] | dict[str, Any] = field(default_factory=lambda: ["llama-sft", "llama-grpo"])
    qwen_runs: list[str] | dict[str, Any] = field(default_factory=lambda: ["sft", "grpo-hard"])
    n_boot: int = PLAN.circuits.n_boot
    size: str = PLAN.size.rule
    n: int = PLAN.sizes.premise_k
    limit: int | None = None
    sae_runs: list[str] = field(default_factory=lambda: ["base", "distill"])

    def __post_init__(self):
        super().__post_init__()
        if self.size not in SIZE_RULES:
            raise ValueError(f"size must be one of {', '.join(SIZE_RULES)}, got {self.size!r}")
        check_values(self.llama_runs, "llama_runs", self.profile, need_base=True)
        check_values(self.qwen_runs, "qwen_runs", self.profile, need_base=True)
        _check_positive(self, "n_boot", "n", optional=("limit",))
        if self.sae_runs and len(self.sae_runs) != 2:
            raise ValueError(f"sae_runs must name two organism runs [base, distilled] or none, got {self.sae_runs!r}")

    def run_values(self) -> list:
        return [self.llama_runs, self.qwen_runs]


@dataclass
class Result:
    """What ``08_generalisation`` shows.

    Attributes:
        runs: one :class:`~thinking_sparks.emergence.trace.TraceTables` per run of the second family
            (cohorts ``bands, counts``, ``frequency`` for the heatmap, each circuit's heads).
        kinds, roles: ``label -> kind``; ``sft`` / ``grpo`` -> the label the claims read ("" if none).
        zoo: the family's runs (``organism.shapes.runs_table``: shape, parameters, train seconds).
        summary: per circuit (``emergence.tables.sweep_summary`` columns of the traced runs).
        head_grid, top_n: the models' shapes in words; edges kept.
        table: Table 3 for the family (the plan's rule, intervals and same-size floors);
            ``boots``: the rule's counts per outer resample of each final checkpoint.
        counts: the final checkpoints' counts with their emergent heads (``emergent_heads``).
        early: the same at each GRPO run's early checkpoint (``emergence.generalise.early_counts``);
            ``early_boots`` its resamples by ``run@step``.
        layers: emergent heads per layer of every row of ``counts`` and ``early``.
        rewards: reward tracking of the GRPO runs with a reward log.
        drawings: the final SFT and GRPO circuits with signal (Fig 18).
        compare_table, compare_boots: Table 3 of the first family's runs (final checkpoints only).
        seconds: compute seconds of the analysis.
        accuracy: pass@1 of each run's base and final checkpoint on the plan's calibrated set
            (``organism.scores.accuracy_table`` columns and ``run``; each cell cached on its own).
        sae: Fig 12's SAE quality and per-question component importances
            (:class:`~thinking_sparks.emergence.saeattr.SaeCircuits`; None without ``sae_runs``).
    """

    runs: list[TraceTables]
    kinds: dict[str, str]
    roles: dict[str, str]
    compare_roles: dict[str, str]
    zoo: pd.DataFrame
    summary: pd.DataFrame
    head_grid: str
    top_n: int
    table: pd.DataFrame
    boots: dict[str, pd.DataFrame]
    counts: pd.DataFrame
    early: pd.DataFrame
    early_boots: dict[str, pd.DataFrame]
    layers: pd.DataFrame
    rewards: dict[str, RewardTrack]
    drawings: list[CircuitDrawing]
    compare_table: pd.DataFrame
    compare_boots: dict[str, pd.DataFrame]
    seconds: float = 0.0
    accuracy: pd.DataFrame = field(default_factory=pd.DataFrame)
    sae: saeattr.SaeCircuits | None = None

    @property
    def traces(self) -> dict[str, TraceTables]:
        return {tr.run: tr for tr in self.runs}


def run(params: Params) -> Result:
    """Build the missing zoo runs (``params.build``), then trace the runs and compute the tables
    (cached: a warm rebuild loads no model and recomputes nothing)."""
    use_device(params.device)
    if params.build:
        modelruns.build_organism(params.profile, params.llama_runs, params.qwen_runs)
    models = modelruns.resolve_runs(params.llama_runs, params.profile)
    compare = {label: _final_only(m) for label, m in modelruns.resolve_runs(params.qwen_runs, params.profile).items()}
    pairs, config = emergence_settings(params)
    zoo = runs_table(params.profile, "llama") if modelruns.organism_names(params.llama_runs) else pd.DataFrame()
    result = _generalisation(models, compare, pairs, sized_config(params.size, models, pairs, config),
                             sized_config(params.size, compare, pairs, config), params.n_boot, zoo)
    sae = None
    if params.sae_runs:
        pre, post = (f"organism/{params.profile}/{r}@final" for r in params.sae_runs)
        sae = saeattr.sae_circuits(pre, post, pairs, config)
    return dataclasses.replace(result, accuracy=calibrated_accuracy(models, params.n, params.limit), sae=sae)


def sae_effects(result: Result) -> pd.DataFrame:
    """Fig 12's cells (``emergence.saeattr.effect_frame``; empty without SAE circuits)."""
    if result.sae is None:
        return pd.DataFrame(columns=["layer", "component", "I_pre", "I_post", "E", "ci_low", "ci_high"])
    return saeattr.effect_frame(result.sae.pre_importance, result.sae.post_importance)


def calibrated_accuracy(models: dict[str, ModelRun], n: int, limit: int | None) -> pd.DataFrame:
    """pass@1 on the plan's calibrated set (``plan.PLAN.levels.premise_set``) of every run's base
    (first) and final checkpoint, as page 02 measures the Qwen runs."""
    specs: dict[str, str] = {}
    for label, m in models.items():  # a base shared by several runs is named after the first
        if m.base:
            specs.setdefault(m.base, f"base of {label}")
    specs |= {m.final: label for label, m in models.items()}
    table = accuracy_table(list(specs), n=n, limit=limit, sets=(PLAN.levels.premise_set,))
    return table.assign(run=table.model.map(specs))


def _final_only(m: ModelRun) -> ModelRun:
    """``m`` with its last checkpoint only (the family row reads final checkpoints)."""
    return dataclasses.replace(m, checkpoints=tuple(m.checkpoints[-1:]))


def _key(models: dict[str, ModelRun], compare: dict[str, ModelRun], pairs: PairParams, config: CircuitConfig,
         compare_config: CircuitConfig, n_boot: int, zoo: pd.DataFrame) -> dict:
    def fp(ms):
        return {label: {"run": m, "base": side_fingerprint(Side(m.base)),
                        "checkpoints": [side_fingerprint(Side(c)) for c in m.checkpoints]} for label, m in ms.items()}

    return {"runs": fp(models), "compare": fp(compare), "pairs": pairs, "circuit": config,
            "compare_circuit": compare_config, "n_boot": n_boot, "zoo": zoo.to_dict("records"),
            "plan": [resample_plan(n_boot), PLAN.stats, PLAN.section4, PLAN.generalisation],
            "result": [[c.__qualname__, [[f.name, str(f.type)] for f in dataclasses.fields(c)]]
                       for c in (Result, TraceTables, CircuitDrawing, RewardTrack)]}


@cached("page-generalisation", key=_key)
def _generalisation(models: dict[str, ModelRun], compare: dict[str, ModelRun], pairs: PairParams,
                    config: CircuitConfig, compare_config: CircuitConfig, n_boot: int, zoo: pd.DataFrame) -> Result:
    t0 = time.perf_counter()
    plan = dataclasses.replace(PLAN, circuits=resample_plan(n_boot))
    traces = trace_models(models, pairs, config)
    counts = checkpoint_counts(traces, config, plan.circuits, final_only=True)
    table = table3(traces, config, counts=counts)
    counts.attrs.clear()  # the resamples (Table 3 keeps the finals')
    roles = modelruns.claim_roles(models)
    grpo_runs = [r for r, m in models.items() if m.kind == "grpo"]
    early, early_boots = generalise.early_counts(traces, grpo_runs, config, plan)
    first = next(iter(traces.values())).base
    drawings = [CircuitDrawing(r, *circuit_graph(traces[r].results[-1], config))
                for r in (roles[k] for k in ("sft", "grpo") if roles[k]) if traces[r].results[-1].has_signal]
    rewards = reward_frames(traces, models)
    qtraces = trace_models(compare, pairs, compare_config)
    qtable = table3(qtraces, compare_config, plan=plan.circuits)
    return Result(
        runs=[tr.tables() for tr in traces.values()], kinds={label: m.kind for label, m in models.items()},
        roles=roles, compare_roles=modelruns.claim_roles(compare), zoo=zoo,
        summary=pd.concat([tr.summary for tr in traces.values()], ignore_index=True), head_grid=head_grid(traces),
        top_n=first.top_n, table=table, boots=table.attrs.pop("boot", {}), counts=counts, early=early,
        early_boots=early_boots,
        layers=generalise.layer_profile(pd.concat([counts, early], ignore_index=True), first.n_layers),
        rewards={r: RewardTrack(**d) for r, d in rewards.items()}, drawings=drawings, compare_table=qtable,
        compare_boots=qtable.attrs.pop("boot", {}), seconds=round(time.perf_counter() - t0, 3))


def verdicts(result: Result) -> pd.DataFrame:
    """Figs 10 and 11's claims on the second family, and the row comparing the families."""
    rows = []
    sft, grpo = result.roles.get("sft", ""), result.roles.get("grpo", "")
    final = result.counts.set_index("run")
    shape = next(iter(result.runs)).base if result.runs else None
    if sft and sft in final.index:
        rows.append(generalise.sft_row(sft, final.loc[sft]))
    for run, what, paper in ((sft, "SFT", generalise.FIG10), (grpo, "GRPO", generalise.FIG11)):
        if run and run in final.index and shape is not None:
            rows.append(generalise.layer_row(run, what, final.loc[run], shape.n_layers, shape.n_heads,
                                             paper.split(":")[0] + ": 'spread across early-mid layers'"))
    if grpo and grpo in final.index:
        early = result.early.set_index("run")
        boots = dict(result.early_boots) | ({f"{grpo}@{int(final.loc[grpo, 'step'])}": result.boots[grpo]}
                                            if grpo in result.boots else {})
        rows.append(generalise.after_first_row(grpo, final.loc[grpo], early.loc[grpo] if grpo in early.index else None,
                                               boots))
    q = result.compare_roles
    if sft and grpo and q.get("sft") and q.get("grpo"):
        rows.append(generalise.family_row((result.table, result.boots, sft, grpo),
                                          (result.compare_table, result.compare_boots, q["sft"], q["grpo"])))
    if result.sae is not None:
        rows += saeattr.claim_rows(result.sae.pre_importance, result.sae.post_importance,
                                   result.sae.pre, result.sae.post, result.sae.pre_null_importance)
    return verdict_table(rows)
