"""Page ``05_interventions``: heads ablated and scaled during generation (Tables 1, 4, 5; Fig 4).

:class:`Params` is the notebook's parameters cell; :func:`run` composes the interventions room
(:mod:`~thinking_sparks.interventions.choose` picks the head sets from the emergence room's
circuits, :mod:`~thinking_sparks.interventions.tables` evaluates them) into a :class:`Result`,
cached whole by content (parameters, every model's fingerprint, the question sets); :func:`verdicts`
decides Table 1's and Table 5's claims (:mod:`thinking_sparks.interventions.claims`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from thinking_sparks import models
from thinking_sparks.cache import cached
from thinking_sparks.emergence import modelruns
from thinking_sparks.emergence.device import analysis_dtype, use_device
from thinking_sparks.emergence.modelruns import ModelRun, check_value
from thinking_sparks.evaluation.datasets import fingerprint_problems, load_eval_set
from thinking_sparks.interventions import experiments as ex
from thinking_sparks.interventions import tables
from thinking_sparks.interventions.choose import ChosenHeads, choose_heads, control_set
from thinking_sparks.interventions.claims import ablation_verdicts, scaling_verdicts
from thinking_sparks.pages.params import HeadPageParams, _check_positive, circuit_dataset, emergence_settings
from thinking_sparks.power import with_n_to_decide
from thinking_sparks.verdicts import verdict_table

log = logging.getLogger(__name__)


@dataclass
class Params(HeadPageParams):
    """Parameters of ``05_interventions``: heads ablated and scaled during generation (Tables 1, 4, 5; Fig 4).

    Runs are organism run names of ``profile`` or mappings ``{base: SPEC, checkpoints: SPEC | [...]}``
    / ``{model: SPEC}`` (``emergence.modelruns``).

    Attributes (besides :class:`HeadPageParams`'):
        model_run, base_run: the post-trained model whose heads are ablated (its final checkpoint;
            Table 1) and the base model (its final checkpoint; base circuit, Table 5's model).
        sft_run, grpo_run: runs whose emergent heads are scaled in the base (Table 5); the GRPO
            run's first checkpoint gives its early circuit, and its checkpoints make Fig 4. None:
            that part of the page is left out.
        control_dataset: the control circuit's questions (Table 1's TriviaQA row): ``auto`` (the
            organism's single-operation problems when ``eval_sets`` are the organism's, else
            none), a set name or JSONL path, or None (no control set).
        seeds: random layer-matched head sets (Table 1's added control).
    """

    model_run: str | dict[str, Any] = "distill"
    base_run: str | dict[str, Any] = "base"
    sft_run: str | dict[str, Any] | None = "sft"
    grpo_run: str | dict[str, Any] | None = "grpo-easy"
    control_dataset: str | None = "auto"
    seeds: int = 5

    def __post_init__(self):
        for name in ("model_run", "sft_run", "grpo_run"):
            if getattr(self, name) is not None or name == "model_run":
                check_value(getattr(self, name), name, self.profile, need_base=True)
        check_value(self.base_run, "base_run", self.profile)
        super().__post_init__()
        _check_positive(self, "seeds")
        if self.control_dataset is not None and not (isinstance(self.control_dataset, str)
                                                     and self.control_dataset.strip()):
            raise ValueError(f"control_dataset must be 'auto', a set name, a JSONL path or None, "
                             f"got {self.control_dataset!r}")

    def run_values(self) -> list:
        return [self.model_run, self.base_run, self.sft_run, self.grpo_run]

    def eval_params(self):
        return self._eval_params(self.eval_sets[0], self.n, self.limit)


# ------------------------------------------------------------------ what the page shows


@dataclass
class Timing:
    """Compute seconds of a page as measured when its result was computed.

    Attributes:
        heads_s: choosing the head sets (the circuits; each read from the circuit cache when built before).
        eval_s: the evaluations (each read from the evaluation cache when run before).
        generation_s: generation seconds behind those evaluations, as measured when each was first run.
        computed_at: when the result was computed (seconds since the epoch).
        cached: whether this result was read from the page cache (then the seconds are those of the
            run that computed it).
    """

    heads_s: float
    eval_s: float
    generation_s: float = 0.0
    computed_at: float = 0.0
    cached: bool = False


@dataclass
class Sweep:
    """Fig 4 (:func:`thinking_sparks.interventions.experiments.checkpoint_sweep`): ``pass_at_1``
    (``step, set, pass@1, ci_low, ci_high, n_problems, gained, lost``), ``failures`` (``step, set,
    failure, count, share``) and the classified ``samples``."""

    pass_at_1: pd.DataFrame
    failures: pd.DataFrame
    samples: pd.DataFrame


@dataclass
class Result:
    """Everything page 05 shows.

    Attributes:
        runs: the page's models by role (``model``, ``base``, ``sft``, ``grpo``; None: left out).
        heads: the head sets and how each was chosen; ``head_sets`` its table (``set, n_heads,
            heads, source``).
        table1: Table 1 (``table``: ``condition, group, seed, n_heads, heads, set, pass@1, ci_low,
            ci_high, n_problems``; ``samples``); ``random``: its random rows pooled per set.
        table5: Tables 4, 5 in the base model (same columns).
        sweep: Fig 4 along the GRPO run (None without one).
        classified: every sample of Tables 1 and 5 with its failure kind (where the taxonomy applies);
            ``failures``: their counts (``model, condition, failure, count, share``; empty off the organism).
        examples: a few problems on which the ablations disagree, first completion of each.
        eval_sets, n_boot: the sets (easiest first) and bootstrap resamples the verdicts use.
        timing: compute seconds.
    """

    runs: dict[str, ModelRun | None]
    heads: ChosenHeads
    head_sets: pd.DataFrame
    table1: ex.ExperimentResult
    random: pd.DataFrame
    table5: ex.ExperimentResult
    sweep: Sweep | None
    classified: pd.DataFrame
    failures: pd.DataFrame
    examples: pd.DataFrame
    eval_sets: list[str]
    n_boot: int
    timing: Timing


#: the Table 1 rows the examples put side by side (those present)
EXAMPLE_CONDITIONS = ("no ablation", "ablate emergent", "ablate base", "ablate control")


def run(params: Params) -> Result:
    """Build the missing organism runs (``params.build``), then compute the page or read it from the
    page cache (:func:`_compute`; ``timing.cached`` says which)."""
    use_device(params.device)
    if params.build:
        modelruns.build_organism(params.profile, *params.run_values())
    runs = modelruns.resolve_roles(params.profile, model=params.model_run, base=params.base_run,
                                   sft=params.sft_run, grpo=params.grpo_run)
    started = time.time()
    return mark_cached(_compute(params, runs), started)


def mark_cached(result: Any, started: float) -> Any:
    """``result`` with ``timing.cached`` True when it was computed before ``started`` (it came from
    the page cache: its seconds are those of the run that computed it)."""
    return dataclasses.replace(result, timing=dataclasses.replace(result.timing,
                                                                  cached=result.timing.computed_at < started))


def model_fingerprints(specs: Sequence[str]) -> dict[str, str]:
    """``{spec: content hash of its model directory}`` (a hub name stands for itself)."""
    out = {}
    for spec in dict.fromkeys(specs):
        where = models.resolve_spec(spec)
        out[spec] = models.fingerprint(where) if not isinstance(where, str) else where
    return out


def set_fingerprints(names: Sequence[str], limit: int | None) -> dict[str, str]:
    """``{set: content hash of its first ``limit`` problems}``."""
    return {name: fingerprint_problems(load_eval_set(name, limit=limit)) for name in dict.fromkeys(names)}


def _key(params: Params, runs: dict[str, ModelRun | None]) -> dict[str, Any]:
    """What determines the page's numbers: the parameters (not build/device/threads), the runs, every
    model's fingerprint, the question sets' contents and the analysis dtype."""
    values = {k: v for k, v in dataclasses.asdict(params).items() if k not in ("build", "device", "threads")}
    specs = [s for r in runs.values() if r is not None for s in (r.base, *r.checkpoints, r.final) if s]
    control = control_set(params.control_dataset, params.eval_sets)
    return {"params": values, "runs": runs, "models": model_fingerprints(specs),
            "sets": set_fingerprints(params.eval_sets, params.limit),
            "questions": set_fingerprints([circuit_dataset(params), *([control] if control else [])], None),
            "dtype": analysis_dtype()}


@cached("page-interventions", key=_key)
def _compute(params: Params, runs: dict[str, ModelRun | None]) -> Result:
    """The page's numbers: head sets, Tables 1 and 5, Fig 4, the failure taxonomy, examples."""
    computed_at, t0 = time.time(), time.perf_counter()
    model, base, grpo = runs["model"], runs["base"].final, runs["grpo"]
    pairs, settings = emergence_settings(params)
    heads = choose_heads(model, base, runs["sft"], grpo, pairs, settings, params.k,
                         control=control_set(params.control_dataset, params.eval_sets))
    heads_s, t0 = time.perf_counter() - t0, time.perf_counter()

    eval_params, sets = params.eval_params(), params.eval_sets
    lm, base_lm = models.load_model(model.final, device=params.device), models.load_model(base, device=params.device)
    table1 = tables.ablation_table(lm, heads.sets, eval_params, sets, params.seeds)
    table5 = tables.scaling_table(base_lm, heads.sets, eval_params, sets)
    sweep = None
    if grpo is not None:
        def load(spec: str) -> Any:  # the base is loaded already
            return base_lm if spec == base else models.load_model(spec, device=params.device)

        fig4 = tables.grpo_sweep(grpo, base, load, eval_params, sets)
        sweep = Sweep(fig4["pass"], fig4["failures"], fig4["samples"])
    classified, failures = ex.taxonomy(pd.concat([table1.samples.assign(model=model.label),
                                                  table5.samples.assign(model="base")]),
                                       by=["model", "condition"], sets=sets)
    conds = [c for c in EXAMPLE_CONDITIONS if c in set(classified["condition"])]
    timing = Timing(heads_s, time.perf_counter() - t0, tables.generation_seconds(table1, table5), computed_at)
    return Result(runs=runs, heads=heads, head_sets=heads.frame(), table1=bare(table1),
                  random=ex.random_summary(table1.table), table5=bare(table5), sweep=sweep, classified=classified,
                  failures=failures, examples=tables.examples(classified, conds), eval_sets=list(sets),
                  n_boot=params.n_boot, timing=timing)


def bare(res: ex.ExperimentResult) -> ex.ExperimentResult:
    """``res`` without its per-evaluation results (models' run records: not part of the page)."""
    return dataclasses.replace(res, results={})


def verdicts(result: Result) -> pd.DataFrame:
    """Table 1's claims (when there are emergent heads) and Table 5's (when heads were scaled and the
    eval sets hold both the hard and the easy difficulty: rows labelled by the samples' ``difficulty``), with ``n_to_decide``
    (``thinking_sparks.power``) at each row's problems (:func:`sample_sizes`)."""
    table = _verdicts(result)
    return with_n_to_decide(table, sample_sizes(table, result.table1.samples, result.table5.samples))


def sample_sizes(table: pd.DataFrame, pooled: pd.DataFrame, per_set: pd.DataFrame) -> list[int | None]:
    """Per verdict row, the problems its paired interval resamples: a Table 5 row (its statistic starts
    with a ``difficulty`` of ``per_set``, e.g. ``hard pass@1 ...``) has the problems of that difficulty in
    ``per_set``; another row (Table 1's, all sets pooled) has every problem of ``pooled`` (``set,
    problem_id`` columns; None when empty)."""
    def problems(samples: pd.DataFrame, difficulty: str | None = None) -> int | None:
        if samples is None or samples.empty or not {"set", "problem_id"} <= set(samples.columns):
            return None
        if difficulty is not None:
            samples = samples[samples["difficulty"].astype(str) == difficulty]
        return int(samples[["set", "problem_id"]].drop_duplicates().shape[0]) or None

    levels = (set(per_set["difficulty"].astype(str)) if per_set is not None and "difficulty" in per_set.columns
              else set())
    out = []
    for statistic in table["statistic"].astype(str) if len(table) else []:
        first = statistic.split(" ", 1)[0]
        out.append(problems(per_set, first) if first in levels else problems(pooled))
    return out


def _verdicts(result: Result) -> pd.DataFrame:
    found = [ablation_verdicts(result.table1, n_boot=result.n_boot)] if result.heads.sets["emergent"] else []
    if tables.scaled_sets(result.heads.sets):
        found.append(scaling_verdicts(result.table5, n_boot=result.n_boot))
    return pd.concat(found, ignore_index=True) if found else verdict_table([])
