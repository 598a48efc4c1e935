"""Page ``06_thinking_modes``: a hybrid model's think-on / think-off circuits and interventions (Table 2; Figs 5, 17).

:class:`Params` is the notebook's parameters cell; :func:`run` composes the interventions room
(:func:`~thinking_sparks.interventions.choose.think_heads`: both modes' circuits and the
think-off-only heads; :func:`~thinking_sparks.interventions.tables.think_tables`: Table 2 and Fig
5) into a :class:`Result`, cached whole by content; :func:`verdicts` decides §6's claims
(:func:`thinking_sparks.interventions.claims.think_verdicts`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from thinking_sparks import models
from thinking_sparks.cache import cached
from thinking_sparks.emergence import modelruns
from thinking_sparks.emergence.device import analysis_dtype, use_device
from thinking_sparks.emergence.drawing import circuit_graph
from thinking_sparks.emergence.fig15 import Fig15, fig15, fig15_verdict
from thinking_sparks.emergence.modelruns import ModelRun, check_value
from thinking_sparks.interventions import experiments as ex
from thinking_sparks.interventions import tables
from thinking_sparks.interventions.choose import think_heads
from thinking_sparks.interventions.claims import think_verdicts
from thinking_sparks.interventions.counts import null_circuit, think_counts
from thinking_sparks.pages.interventions import Timing, bare, mark_cached, model_fingerprints, set_fingerprints
from thinking_sparks.pages.params import HeadPageParams, _check_positive, circuit_dataset, emergence_settings
from thinking_sparks.plan import PLAN
from thinking_sparks.power import n_to_decide
from thinking_sparks.verdicts import verdict_table

#: how a hybrid model's two modes are asked for (``thinking_sparks.emergence.pairs.MODES``)
THINK_SWITCHES = ("auto", "flags", "template")



@dataclass
class Params(HeadPageParams):
    """Parameters of ``06_thinking_modes``: a hybrid model's think-on / think-off circuits and
    interventions (Table 2; Figs 5, 17).

    Attributes (besides :class:`HeadPageParams`'; ``k`` think-off-only heads, top by score, and ``n``,
    ``limit`` for Table 2's pass@1):
        hybrid_run: the hybrid thinker (Qwen3's role): an organism run of ``profile`` or
            ``{model: SPEC}`` (its final checkpoint is used).
        think_switch: ``flags`` (the organism's: ``/think`` or ``/no_think`` after the question,
            and the template's empty think block for off), ``template`` (the chat template's
            ``enable_thinking`` True / False alone, as Qwen3's own template), or ``auto``
            (``flags`` for an organism run, else ``template``).
        k_dataset: the set of Fig 5's pass@k / success@k curves (the plan's ``think.k_curve_set``).
        n_k, k_limit: samples per problem and problems (first of ``k_dataset``) for Fig 5's curves (the
            plan's ``sizes.k_curve_samples``, ``sizes.k_curve_problems``).
        distill_run: the distilled student of Fig 15 (DeepSeek-R1-Distill's role): an organism run of
            ``profile`` or ``{base: SPEC, checkpoints: SPEC}`` (its base and final checkpoint are used);
            None: no Fig 15 (e.g. a user's hybrid model without a distilled student).
    """

    hybrid_run: str | dict[str, Any] = "hybrid"
    think_switch: str = "auto"
    k_dataset: str = PLAN.think.k_curve_set
    n_k: int = PLAN.sizes.k_curve_samples
    k_limit: int = PLAN.sizes.k_curve_problems
    distill_run: str | dict[str, Any] | None = "distill"

    def __post_init__(self):
        check_value(self.hybrid_run, "hybrid_run", self.profile, need_base=isinstance(self.hybrid_run, str))
        if self.distill_run is not None:
            check_value(self.distill_run, "distill_run", self.profile, need_base=True)
        if self.think_switch not in THINK_SWITCHES:
            raise ValueError(f"think_switch must be one of {', '.join(THINK_SWITCHES)}, got {self.think_switch!r}")
        if not isinstance(self.k_dataset, str) or not self.k_dataset.strip():
            raise ValueError(f"k_dataset must be a set name or JSONL path, got {self.k_dataset!r}")
        super().__post_init__()
        _check_positive(self, "n_k", "k_limit")

    def run_values(self) -> list:
        return [self.hybrid_run, self.distill_run]

    def switch(self) -> str:
        """``flags`` or ``template`` (``auto`` resolved by the run's kind of value)."""
        if self.think_switch != "auto":
            return self.think_switch
        return "flags" if isinstance(self.hybrid_run, str) else "template"

    def eval_params(self, k_curves: bool = False):
        return self._eval_params(self.k_dataset if k_curves else self.eval_sets[0], self.n_k if k_curves else self.n,
                                 self.k_limit if k_curves else self.limit)


# ------------------------------------------------------------------ what the page shows


@dataclass
class ModeCircuit:
    """One mode's circuit as the page draws it (Fig 17).

    Attributes:
        mode: ``think on`` or ``think off``.
        heads: its heads (``L{l}H{h}``).
        has_signal: False when fewer than 2 pairs differed (nothing to draw).
        n_pairs, faithfulness: pairs used and the circuit's faithfulness.
        nodes, edges: :func:`thinking_sparks.plots.circuit_drawing`'s frames (None without signal).
    """

    mode: str
    heads: list[str]
    has_signal: bool
    n_pairs: int
    faithfulness: float
    nodes: pd.DataFrame | None = None
    edges: pd.DataFrame | None = None


@dataclass
class Result:
    """Everything page 06 shows.

    Attributes:
        hybrid: the hybrid model's run; ``switch``: how its modes were asked for (``flags`` or ``template``).
        think_on, think_off: the two circuits; ``n_layers``, ``n_heads``: the model's shape.
        overlap: ``n_a`` (think-on heads), ``n_b`` (think-off), ``both``, ``only_a``, ``only_b``, ``jaccard``.
        on_only: heads only in the think-on circuit; ``off_only``: the top ``k`` only in think-off
            (the heads intervened on), ``n_off_only`` of them in all.
        table2: Table 2 (``table``: ``condition, group, seed, n_heads, heads, set, pass@1, ci_low,
            ci_high, n_problems``; ``samples``).
        curves: Fig 5 (``table``: ``condition, metric, k, value, ci_low, ci_high, n_problems``;
            ``samples``); ``at_k``: its values at k = 1, 2, 8, 64 (those sampled; columns ``k=1``, ...).
        classified, failures: Table 2's samples with their failure kinds and the counts per
            condition (empty off the organism); ``examples``: a few problems on which the rows disagree.
        n_k, n_boot: samples per problem of the curves and bootstrap resamples (the verdicts use them).
        timing: compute seconds (``heads_s``: the two circuits and Fig 15's).
        fig15: Fig 15's τ-simplified circuits of the distilled student and its base, and the (C) − (B)
            complexity (:mod:`thinking_sparks.emergence.fig15`).
        count_boot: the two circuits' head counts over paired resamples of the questions
            (:func:`~thinking_sparks.interventions.counts.think_counts`; None without signal);
            ``on_null``: the same-mode null of a one-sided count, the think-on circuit on sample 0 against
            sample 1 (an independent question sample of the same size), one value per resample
            (:func:`~thinking_sparks.interventions.counts.same_size_null`; empty: not measured).
    """

    hybrid: ModelRun
    switch: str
    think_on: ModeCircuit
    think_off: ModeCircuit
    n_layers: int
    n_heads: int
    overlap: dict[str, float]
    on_only: list[str]
    off_only: list[str]
    n_off_only: int
    table2: ex.ExperimentResult
    curves: ex.ExperimentResult
    at_k: pd.DataFrame
    classified: pd.DataFrame
    failures: pd.DataFrame
    examples: pd.DataFrame
    n_k: int
    n_boot: int
    timing: Timing
    fig15: Fig15 | None
    count_boot: pd.DataFrame | None = None
    on_null: list[float] = field(default_factory=list)


def run(params: Params) -> Result:
    """Build the missing hybrid run (``params.build``), then compute the page or read it from the page
    cache (``timing.cached`` says which)."""
    use_device(params.device)
    if params.build:
        modelruns.build_organism(params.profile, params.hybrid_run, params.distill_run)
    roles = modelruns.resolve_roles(params.profile, hybrid=params.hybrid_run, distill=params.distill_run)
    started = time.time()
    return mark_cached(_compute(params, roles["hybrid"], roles["distill"]), started)


def _key(params: Params, hybrid: ModelRun, distill: ModelRun | None) -> dict[str, Any]:
    """The parameters (not build/device/threads), the run, its model's fingerprint, the question sets'
    contents and the analysis dtype."""
    values = {k: v for k, v in dataclasses.asdict(params).items() if k not in ("build", "device", "threads")}
    return {"params": values, "switch": params.switch(), "hybrid": hybrid,
            "models": model_fingerprints([hybrid.final]),
            "sets": set_fingerprints(params.eval_sets, params.limit),
            "k_set": set_fingerprints([params.k_dataset], params.k_limit),
            "questions": set_fingerprints([circuit_dataset(params)], None), "dtype": analysis_dtype(),
            "distill": distill, "plan": PLAN.fig15, "null": "think-on circuit on sample 1",
            "distill_models": model_fingerprints([distill.base, distill.final]) if distill is not None else []}


def _circuit(mode: str, r: Any, settings: Any) -> ModeCircuit:
    nodes, edges = circuit_graph(r, settings) if r.has_signal else (None, None)
    return ModeCircuit(mode, list(r.heads), bool(r.has_signal), int(r.n_pairs), float(r.faithfulness), nodes, edges)


@cached("page-thinking-modes", key=_key)
def _compute(params: Params, hybrid: ModelRun, distill: ModelRun | None) -> Result:
    """The page's numbers: the two circuits, Table 2, Fig 5, the failure taxonomy, examples."""
    computed_at, t0 = time.time(), time.perf_counter()
    switch = params.switch()
    pairs, settings = emergence_settings(params)
    th = think_heads(hybrid.final, pairs, settings, params.k, switch)
    cmp = th["comparison"]
    on, off = _circuit("think on", cmp.base, settings), _circuit("think off", cmp.model, settings)
    count_boot, on_null = think_counts(cmp.base, cmp.model, settings,
                                       on_null=null_circuit(hybrid.final, pairs, settings, switch))
    fig = fig15(distill.base, distill.final, pairs, settings) if distill is not None else None
    heads_s, t0 = time.perf_counter() - t0, time.perf_counter()

    lm = models.load_model(hybrid.final, device=params.device)
    table2, curves = tables.think_tables(lm, th["off_only"], params.eval_params(), params.eval_params(k_curves=True),
                                         params.k_dataset, params.eval_sets, switch)
    classified, failures = ex.taxonomy(table2.samples, by=["condition"], sets=params.eval_sets)
    examples = tables.examples(classified, list(dict.fromkeys(classified["condition"])))
    timing = Timing(heads_s, time.perf_counter() - t0, tables.generation_seconds(table2, curves), computed_at)
    return Result(hybrid=hybrid, switch=switch, think_on=on, think_off=off, n_layers=int(cmp.model.n_layers),
                  n_heads=int(cmp.model.n_heads), overlap=th["overlap"], on_only=th["on_only"],
                  off_only=th["off_only"], n_off_only=th["n_off_only"], table2=bare(table2), curves=bare(curves),
                  at_k=_at_k(curves.table, params.n_k),
                  classified=classified, failures=failures, examples=examples, n_k=params.n_k,
                  n_boot=params.n_boot, timing=timing, fig15=fig, count_boot=count_boot,
                  on_null=[] if on_null is None else [float(x) for x in on_null])


def _at_k(curves: pd.DataFrame, n_k: int) -> pd.DataFrame:
    """Fig 5's values at k = 1, 2, 8, 64 (those sampled), columns ``condition, metric, k=1, ...``
    (string names: a frame's columns round-trip through parquet only as strings)."""
    table = ex.at_k(curves, ks=[k for k in (1, 2, 8, 64) if k <= n_k])
    table.columns = [c if c in ("condition", "metric") else f"k={c}" for c in table.columns]
    return table


def verdicts(result: Result) -> pd.DataFrame:
    """§6's claims: the head counts of the two circuits (always, with paired-bootstrap intervals) and,
    when there are think-off-only heads to intervene on, Fig 5's success@1 up and pass@n_k down; with
    ``n_to_decide`` (``thinking_sparks.power``): for the count rows the question pairs per circuit (the
    bootstrap resamples pairs; the null's quantile held where it is), for Fig 5's the problems."""
    k_samples = result.curves.samples if result.off_only else None
    null = np.asarray(result.on_null) if result.on_null else None
    table = think_verdicts(result.think_on.heads, result.think_off.heads, k_samples, boot=result.count_boot,
                           null=null, low_k=1, high_k=result.n_k, n_boot=result.n_boot)
    pairs = min(result.think_on.n_pairs, result.think_off.n_pairs)
    problems = int(k_samples["problem_id"].nunique()) if k_samples is not None else None
    bound = float(np.quantile(null, PLAN.circuits.floor_quantile)) if null is not None else None
    rows = table.to_dict("records")
    if len(rows) >= 2:
        rows[1]["below"] = bound  # its criterion words the null's quantile: not read back from it
    sizes = [pairs, pairs if bound is not None else None] + [problems] * (len(rows) - 2)
    return table.assign(n_to_decide=pd.array([None if n is None or n < 2 else n_to_decide(r, n)
                                              for r, n in zip(rows, sizes)], dtype="Int64"))


def fig15_verdicts(result: Result) -> pd.DataFrame:
    """Fig 15's claim (the student's circuit without thinking is more complex than with its own answer):
    :func:`~thinking_sparks.emergence.fig15.fig15_verdict`, as a verdict table, with ``n_to_decide``: the
    circuit questions at which both parts (nodes, edges; each "CI of (C) − (B) above 0") would be decided,
    the larger of the two parts' :func:`~thinking_sparks.power.n_to_decide` (the bootstrap resamples the
    questions); empty when the row is decided or no part's interval straddles 0."""
    if result.fig15 is None:
        return verdict_table([])
    row = fig15_verdict(result.fig15.complexity)
    table = verdict_table([row])
    need = None
    if row.verdict == "inconclusive":
        parts = result.fig15.complexity.set_index("measure")
        sizes = [n_to_decide({"value": r.difference, "ci_low": r.ci_low, "ci_high": r.ci_high, "above": 0.0},
                             int(r.questions)) if int(r.questions) >= 2 else None for r in parts.itertuples()]
        need = max((n for n in sizes if n is not None), default=None)
    return table.assign(n_to_decide=pd.array([need], dtype="Int64"))
