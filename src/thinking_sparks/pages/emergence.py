"""Page ``04_emergence``: emergent, base-only and retained heads along every post-training run (paper §4).

:class:`Params` is the notebook's parameters cell; :func:`run` traces a circuit at every
checkpoint of every run against its base and computes Table 3, the effect and cross-method maps,
reward tracking and the drawn circuits into a :class:`Result`; :func:`verdicts` decides §4's claims.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from thinking_sparks.cache import cached
from thinking_sparks.circuits.claims import SPEARMAN_BAR, emergent_sets_verdict
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.emergence import modelruns, secondset
from thinking_sparks.emergence.claims import section4_verdicts
from thinking_sparks.emergence.decide import with_n_to_decide
from thinking_sparks.emergence.device import use_device
from thinking_sparks.emergence.drawing import CircuitDrawing, circuit_graph
from thinking_sparks.emergence.edgecheck import final_checks
from thinking_sparks.emergence.fig8 import fig8_verdicts
from thinking_sparks.emergence.fig14 import SORTS
from thinking_sparks.emergence.modelruns import ModelRun, check_values
from thinking_sparks.emergence.pairs import REASONING_SIDES, PairParams, Side, side_fingerprint
from thinking_sparks.emergence.sizing import sized_config
from thinking_sparks.emergence.tables import (
    RewardTrack,
    checkpoint_counts,
    cross_method_frame,
    effect_frame,
    exact_sets_frame,
    head_grid,
    mean_jaccard,
    resample_plan,
    reward_frames,
    sweep_summary,
    table3,
)
from thinking_sparks.emergence.trace import TraceTables, trace_models
from thinking_sparks.pages.params import CircuitInputs, _check_positive, circuit_dataset, emergence_settings
from thinking_sparks.plan import PLAN, SIZE_RULES
from thinking_sparks.verdicts import verdict_table


@dataclass
class Params(CircuitInputs):
    """Parameters of ``04_emergence``: circuits at every checkpoint of every post-training run.

    Attributes (besides :class:`CircuitInputs`'):
        runs: post-training runs traced, each against its base: organism run names of ``profile``,
            or a mapping ``label -> run`` whose values are organism names or ``{base: SPEC,
            checkpoints: SPEC | [SPEC, ...], kind: sft|grpo|distill|...}`` (``emergence.modelruns``).
        reasoning_side: whose answers an intermediate checkpoint's clean side uses (``emergence.pairs``).
        n_boot: paired-bootstrap resamples of the head-set statistics (inclusion probabilities and
            the counts' distribution, :mod:`~thinking_sparks.emergence.headstats`; the book keeps
            the analysis plan's ``circuits.n_boot``) and of the exact-set Jaccards.
        size: how circuits are sized when ``top_n`` is None (``thinking_sparks.plan.CircuitSizePlan``):
            ``edge-fraction`` (the paper's 5,000 of 183,555 edges: the reproduction) or
            ``head-share`` (the top-n whose first base circuit holds the paper's 17 % of heads);
            :func:`other_size` gives the verdicts at the other size.
        fig14_sort: how Fig 14's cumulative map places its cells (paper ambiguity 20; display only:
            :data:`~thinking_sparks.emergence.fig14.SORTS`, :mod:`~thinking_sparks.emergence.fig14`).
        second_set: the second circuit question set, the paper's AMC circuits (Figs 6 and 9: the SFT and
            main GRPO runs traced on it, :mod:`~thinking_sparks.emergence.secondset`; the plan's
            ``second_set.question_set``); None: the first set only.
    """

    runs: list[str] | dict[str, Any] = field(default_factory=lambda: ["sft", "grpo-easy", "grpo-hard",
                                                                      "grpo-hard-lr", "grpo-hard-lr20", "distill",
                                                                      "hybrid"])
    reasoning_side: str = "own"
    n_boot: int = PLAN.circuits.n_boot
    size: str = PLAN.size.rule
    fig14_sort: str = "within_layer"
    second_set: str | None = PLAN.second_set.question_set

    def __post_init__(self):
        super().__post_init__()
        if self.size not in SIZE_RULES:
            raise ValueError(f"size must be one of {', '.join(SIZE_RULES)}, got {self.size!r}")
        if self.fig14_sort not in SORTS:
            raise ValueError(f"fig14_sort must be one of {', '.join(SORTS)}, got {self.fig14_sort!r}")
        check_values(self.runs, "runs", self.profile, need_base=True)
        if self.reasoning_side not in REASONING_SIDES:
            raise ValueError(f"reasoning_side must be one of {', '.join(REASONING_SIDES)}, got {self.reasoning_side!r}")
        _check_positive(self, "n_boot")
        if self.second_set is not None and (not isinstance(self.second_set, str) or self.second_set == circuit_dataset(self)):
            raise ValueError(f"second_set must be a question set other than the circuit set, or None; got {self.second_set!r}")

    def run_values(self) -> list:
        return [self.runs]


@dataclass
class Result:
    """What ``04_emergence`` shows: every run's sweep and the tables and maps over all of them.

    Attributes:
        runs: one :class:`~thinking_sparks.emergence.trace.TraceTables` per run, in the page's order
            (``heads, summary, bands, counts, frequency`` and each circuit's heads); :attr:`traces`
            by label.
        kinds: ``label -> kind`` (``sft``, ``grpo``, ``distill``...).
        roles: the runs the §4 claims compare (``sft``, ``distill``, ``grpo`` -> label or "").
        summary: :func:`~thinking_sparks.emergence.tables.sweep_summary`.
        head_grid: each run's model shape, in words.
        top_n: edges kept in the first run's base circuit.
        table: Table 3 (:func:`~thinking_sparks.emergence.tables.table3`): the analysis plan's rule
            (p_model >= 0.8, p_base <= 0.2) on a paired bootstrap by question, each count with its
            interval and its same-size null (``floor_mean, floor_q95``); ``boots`` the rule's counts
            per resample of each run's final checkpoint (``emergent, base_only, retained``).
        counts: the same counts at every checkpoint with signal (``run, step, emergent, ci_low,
            ci_high, floor_mean, floor_q95, ...``, :func:`~thinking_sparks.emergence.tables.checkpoint_counts`).
        rewards: reward tracking of the GRPO runs with a reward log; ``no_reward_log`` the others.
        effects, methods: Fig 13's effect maps and Fig 14's cross-method map.
        drawings: the final SFT and GRPO circuits with signal (Fig 16), named by run.
        exact_sets: per run's final checkpoint, EAP-IG's emergent / base-only / retained counts beside
            those of exact-patching head sets of the same sizes and the Jaccard of the two emergent
            sets (:func:`~thinking_sparks.emergence.tables.exact_sets_frame`); ``jaccard_boot`` its
            bootstrap Jaccards (one column per run with signal).

    Run order lives in lists (the results cache stores a dict's keys sorted).
        seconds: compute seconds of the analysis (the circuits' own times are in ``summary``).
        second: the second circuit question set's sweeps, Figs 6 and 9, and its agreement rows
            (:class:`~thinking_sparks.emergence.secondset.SecondSet`; None without ``second_set``).
    """

    runs: list[TraceTables]
    kinds: dict[str, str]
    roles: dict[str, str]
    summary: pd.DataFrame
    head_grid: str
    top_n: int
    table: pd.DataFrame
    boots: dict[str, pd.DataFrame]
    counts: pd.DataFrame
    rewards: dict[str, RewardTrack]
    no_reward_log: list[str]
    effects: pd.DataFrame
    methods: pd.DataFrame
    drawings: list[CircuitDrawing]
    exact_sets: pd.DataFrame
    jaccard_boot: pd.DataFrame
    seconds: float = 0.0
    second: secondset.SecondSet | None = None

    @property
    def below_bar(self) -> pd.DataFrame:
        """Checkpoint circuits (base circuits included) whose head attributions rank the exact
        denoising effects with Spearman below :data:`~thinking_sparks.circuits.claims.SPEARMAN_BAR`."""
        s = self.summary
        return s[s.patch_spearman < SPEARMAN_BAR]

    @property
    def traces(self) -> dict[str, TraceTables]:
        """``label -> TraceTables``, in the page's order."""
        return {tr.run: tr for tr in self.runs}


def run(params: Params) -> Result:
    """Build the missing zoo runs (``params.build``), then trace every run and compute the tables
    (cached: a warm rebuild loads no model and recomputes nothing)."""
    use_device(params.device)
    if params.build:
        modelruns.build_organism(params.profile, params.runs)
    models = modelruns.resolve_runs(params.runs, params.profile)
    return _sized(params, models, params.size)


def _sized(params: Params, models: dict[str, ModelRun], rule: str) -> Result:
    """The page at size ``rule``, with the second circuit set's sweeps and agreement (their own cache entry:
    the first set's tables are not recomputed for them)."""
    pairs, config = emergence_settings(params)
    config = sized_config(rule, models, pairs, config)
    result = _emergence(models, pairs, config, params.n_boot)
    if params.second_set is not None:
        result.second = secondset.second_set(models, pairs, config, params.n_boot, params.second_set)
    return result


def edge_agreement(params: Params) -> pd.DataFrame:
    """Each run's final circuit against exact *edge* patching (and heads, on the same pairs): one
    row per run (:func:`~thinking_sparks.emergence.edgecheck.final_checks`; cached per circuit)."""
    use_device(params.device)
    models = modelruns.resolve_runs(params.runs, params.profile)
    pairs, config = emergence_settings(params)
    return final_checks(models, pairs, sized_config(params.size, models, pairs, config))


@dataclass
class SizeComparison:
    """The §4 verdicts at both circuit sizes (:class:`~thinking_sparks.plan.SizePlan`).

    ``main`` / ``other``: the page's size rule and the other one; ``top_n``: rule -> edges kept;
    ``base_heads``: rule -> heads of the first run's base circuit (of ``n_heads``); ``table``: one
    row per verdict row (``claim, statistic``), its ``value`` and ``verdict`` at each size (columns
    suffixed by the rule); :attr:`differ`: the rows whose verdicts differ.
    """

    main: str
    other: str
    top_n: dict[str, int]
    base_heads: dict[str, int]
    n_heads: int
    table: pd.DataFrame

    @property
    def differ(self) -> pd.DataFrame:
        return self.table[self.table[f"verdict_{self.main}"] != self.table[f"verdict_{self.other}"]]


def other_size(params: Params) -> SizeComparison | None:
    """The page at both sizes (the other size's circuits reuse the default-size circuits' scores:
    no new attribution; the second circuit set's too) and their verdicts side by side; None when
    ``params.top_n`` is set by hand."""
    if params.top_n is not None:
        return None
    use_device(params.device)
    models = modelruns.resolve_runs(params.runs, params.profile)
    results = {rule: _sized(params, models, rule) for rule in SIZE_RULES}
    other = next(r for r in SIZE_RULES if r != params.size)
    a, b = (verdicts(results[r]).reset_index(drop=True) for r in (params.size, other))
    if len(a) == len(b) and a.claim.equals(b.claim):  # the same rows (a statistic may name a size's counts)
        table = a[["claim", "statistic"]].assign(**{f"value_{params.size}": a.value, f"verdict_{params.size}": a.verdict,
                                                    f"statistic_{other}": b.statistic, f"value_{other}": b.value,
                                                    f"verdict_{other}": b.verdict})
    else:
        cols = ["claim", "statistic", "value", "verdict"]
        table = a[cols].merge(b[cols], on=["claim", "statistic"], how="outer", sort=False,
                              suffixes=(f"_{params.size}", f"_{other}"))
    first = {r: res.runs[0].base for r, res in results.items()}
    return SizeComparison(params.size, other, {r: res.top_n for r, res in results.items()},
                          {r: len(b.heads) for r, b in first.items()}, first[params.size].n_layers
                          * first[params.size].n_heads, table)


def _key(models: dict[str, ModelRun], pairs: PairParams, config: CircuitConfig, n_boot: int) -> dict:
    # every model's spec and weights fingerprint (and, off float32, the device's dtype)
    runs = {label: {"run": m, "base": side_fingerprint(Side(m.base)),
                    "checkpoints": [side_fingerprint(Side(c)) for c in m.checkpoints]} for label, m in models.items()}
    return {"runs": runs, "pairs": pairs, "circuit": config, "n_boot": n_boot, "plan": resample_plan(n_boot), "stats": PLAN.stats,
            "result": _layout(Result, TraceTables, CircuitDrawing, RewardTrack)}


def _layout(*classes: type) -> list:
    """The stored result's field names and types: an entry of another layout is not read back."""
    return [[c.__qualname__, [[f.name, str(f.type)] for f in dataclasses.fields(c)]] for c in classes]


@cached("page-emergence", key=_key)
def _emergence(models: dict[str, ModelRun], pairs: PairParams, config: CircuitConfig, n_boot: int) -> Result:
    t0 = time.perf_counter()
    traces = trace_models(models, pairs, config)
    counts = checkpoint_counts(traces, config, resample_plan(n_boot), final_only=PLAN.circuits.count_checkpoints == "final")
    table = table3(traces, config, counts=counts)
    counts.attrs.clear()  # the resamples of every checkpoint: not kept (Table 3 keeps the finals')
    boots = table.attrs.pop("boot", {})
    rewards = reward_frames(traces, models)
    roles = modelruns.claim_roles(models)
    exact_sets, jaccard_boot = exact_sets_frame(traces, config, n_boot=n_boot)
    drawings = [CircuitDrawing(r, *circuit_graph(traces[r].results[-1], config))
                for r in (roles[k] for k in ("sft", "grpo") if roles[k]) if traces[r].results[-1].has_signal]
    return Result(
        runs=[tr.tables() for tr in traces.values()],
        kinds={label: m.kind for label, m in models.items()}, roles=roles, summary=sweep_summary(traces),
        head_grid=head_grid(traces), top_n=next(iter(traces.values())).base.top_n, table=table, boots=boots,
        counts=counts.drop(columns=["emergent_heads"]),
        rewards={r: RewardTrack(**d) for r, d in rewards.items()},
        no_reward_log=[r for r, m in models.items() if m.kind == "grpo" and r not in rewards],
        effects=effect_frame(traces, final_only=[r for r, m in models.items() if m.kind == "distill"]),
        methods=cross_method_frame(traces), drawings=drawings, exact_sets=exact_sets, jaccard_boot=jaccard_boot,
        seconds=round(time.perf_counter() - t0, 3))


def verdicts(result: Result) -> pd.DataFrame:
    """The §4 verdicts, then Fig 8's (:func:`~thinking_sparks.emergence.fig8.fig8_verdicts`, when its run is
    traced) and the second circuit set's agreement rows.

    The §4 claims are decided once, on the second circuit set when the page traces one (stage 2 of the
    analysis plan's two-stage design: :func:`~thinking_sparks.emergence.secondset.confirmatory_verdicts`),
    else on the first (:func:`pilot_verdicts`); the row on EAP-IG against exact patching is the first
    set's (exact patching is not a question sample). Rows carry ``n_to_decide``
    (:mod:`~thinking_sparks.emergence.decide`)."""
    confirm = secondset.confirmatory_verdicts(result.second) if result.second is not None else pd.DataFrame()
    section4 = confirm if len(confirm) else pilot_verdicts(result)
    exact = verdict_table([emergent_sets_row(result)]).assign(n_to_decide=pd.array([None], dtype="Int64"))
    rewards = {r: t.as_dict() for r, t in result.rewards.items()}
    fig8 = fig8_verdicts(result.traces, result.table, result.boots, rewards, sft=result.roles["sft"])
    second = secondset.agreement_verdicts(result.second) if result.second is not None else []
    parts = [section4, exact] + ([fig8] if len(fig8) else []) + ([verdict_table(second)] if second else [])
    return pd.concat(parts, ignore_index=True)


def pilot_verdicts(result: Result) -> pd.DataFrame:
    """The §4 claims (:func:`~thinking_sparks.emergence.claims.section4_verdicts`) on the first circuit set,
    with ``n_to_decide``: the pilot, whose power calculation sized the second set; with a second set
    they decide nothing (:func:`verdicts`)."""
    table = result.table.copy()
    table.attrs["boot"] = result.boots
    rewards = {r: t.as_dict() for r, t in result.rewards.items()}
    section4 = section4_verdicts(result.traces, table, rewards, sft=result.roles["sft"],
                                 distill=result.roles["distill"], grpo=result.roles["grpo"])
    return with_n_to_decide(section4, result.traces, result.roles, result.table)


def emergent_sets_row(result: Result):
    """The premise row: the mean over runs of the Jaccard between the final emergent sets of EAP-IG and of
    exact patching (:func:`~thinking_sparks.emergence.tables.mean_jaccard`)."""
    return emergent_sets_verdict(*mean_jaccard(result.exact_sets, result.jaccard_boot))
