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
from thinking_sparks.emergence import modelruns
from thinking_sparks.emergence.claims import section4_verdicts
from thinking_sparks.emergence.device import use_device
from thinking_sparks.emergence.drawing import CircuitDrawing, circuit_graph
from thinking_sparks.emergence.fig14 import SORTS
from thinking_sparks.emergence.modelruns import ModelRun, check_values
from thinking_sparks.emergence.pairs import REASONING_SIDES, PairParams, Side, side_fingerprint
from thinking_sparks.emergence.tables import (
    RewardTrack,
    cross_method_frame,
    effect_frame,
    exact_sets_frame,
    head_grid,
    mean_jaccard,
    reward_frames,
    sweep_summary,
    table3,
)
from thinking_sparks.emergence.trace import TraceTables, trace_models
from thinking_sparks.pages.params import CircuitInputs, _check_positive, emergence_settings
from thinking_sparks.verdicts import verdict_table


@dataclass
class Params(CircuitInputs):
    """Parameters of ``04_emergence``: circuits at every checkpoint of every post-training run.

    Attributes (besides :class:`CircuitInputs`'):
        runs: post-training runs traced, each against its base: organism run names of ``profile``,
            or a mapping ``label -> run`` whose values are organism names or ``{base: SPEC,
            checkpoints: SPEC | [SPEC, ...], kind: sft|grpo|distill|...}`` (``emergence.modelruns``).
        reasoning_side: whose answers an intermediate checkpoint's clean side uses (``emergence.pairs``).
        n_boot, n_splits: bootstrap resamples and random half-splits for the noise floor.
        fig14_sort: how Fig 14's cumulative map places its cells (paper ambiguity 20; display only:
            :data:`~thinking_sparks.emergence.fig14.SORTS`, :mod:`~thinking_sparks.emergence.fig14`).
    """

    runs: list[str] | dict[str, Any] = field(default_factory=lambda: ["sft", "grpo-easy", "grpo-hard",
                                                                      "grpo-hard-lr", "distill", "hybrid"])
    reasoning_side: str = "own"
    n_boot: int = 200
    n_splits: int = 50
    fig14_sort: str = "within_layer"

    def __post_init__(self):
        super().__post_init__()
        if self.fig14_sort not in SORTS:
            raise ValueError(f"fig14_sort must be one of {', '.join(SORTS)}, got {self.fig14_sort!r}")
        check_values(self.runs, "runs", self.profile, need_base=True)
        if self.reasoning_side not in REASONING_SIDES:
            raise ValueError(f"reasoning_side must be one of {', '.join(REASONING_SIDES)}, got {self.reasoning_side!r}")
        _check_positive(self, "n_boot", "n_splits")

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
        table: Table 3 (:func:`~thinking_sparks.emergence.tables.table3`); ``boots`` its
            bootstrap counts per run (``emergent, base_only, retained``).
        rewards: reward tracking of the GRPO runs with a reward log; ``no_reward_log`` the others.
        effects, methods: Fig 13's effect maps and Fig 14's cross-method map.
        drawings: the final SFT and GRPO circuits with signal (Fig 16), named by run.
        exact_sets: per run's final checkpoint, EAP-IG's emergent / base-only / retained counts beside
            those of exact-patching head sets of the same sizes and the Jaccard of the two emergent
            sets (:func:`~thinking_sparks.emergence.tables.exact_sets_frame`); ``jaccard_boot`` its
            bootstrap Jaccards (one column per run with signal).

    Run order lives in lists (the results cache stores a dict's keys sorted).
        seconds: compute seconds of the analysis (the circuits' own times are in ``summary``).
    """

    runs: list[TraceTables]
    kinds: dict[str, str]
    roles: dict[str, str]
    summary: pd.DataFrame
    head_grid: str
    top_n: int
    table: pd.DataFrame
    boots: dict[str, pd.DataFrame]
    rewards: dict[str, RewardTrack]
    no_reward_log: list[str]
    effects: pd.DataFrame
    methods: pd.DataFrame
    drawings: list[CircuitDrawing]
    exact_sets: pd.DataFrame
    jaccard_boot: pd.DataFrame
    seconds: float = 0.0

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
    pairs, config = emergence_settings(params)
    return _emergence(models, pairs, config, params.n_boot, params.n_splits)


def _key(models: dict[str, ModelRun], pairs: PairParams, config: CircuitConfig, n_boot: int, n_splits: int) -> dict:
    # every model's spec and weights fingerprint (and, off float32, the device's dtype)
    runs = {label: {"run": m, "base": side_fingerprint(Side(m.base)),
                    "checkpoints": [side_fingerprint(Side(c)) for c in m.checkpoints]} for label, m in models.items()}
    return {"runs": runs, "pairs": pairs, "circuit": config, "n_boot": n_boot, "n_splits": n_splits,
            "result": _layout(Result, TraceTables, CircuitDrawing, RewardTrack)}


def _layout(*classes: type) -> list:
    """The stored result's field names and types: an entry of another layout is not read back."""
    return [[c.__qualname__, [[f.name, str(f.type)] for f in dataclasses.fields(c)]] for c in classes]


@cached("page-emergence", key=_key)
def _emergence(models: dict[str, ModelRun], pairs: PairParams, config: CircuitConfig, n_boot: int,
               n_splits: int) -> Result:
    t0 = time.perf_counter()
    traces = trace_models(models, pairs, config)
    table = table3(traces, config, n_boot=n_boot, n_splits=n_splits)
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
        rewards={r: RewardTrack(**d) for r, d in rewards.items()},
        no_reward_log=[r for r, m in models.items() if m.kind == "grpo" and r not in rewards],
        effects=effect_frame(traces, final_only=[r for r, m in models.items() if m.kind == "distill"]),
        methods=cross_method_frame(traces), drawings=drawings, exact_sets=exact_sets, jaccard_boot=jaccard_boot,
        seconds=round(time.perf_counter() - t0, 3))


def verdicts(result: Result) -> pd.DataFrame:
    """The §4 verdicts (:func:`~thinking_sparks.emergence.claims.section4_verdicts`) of the result."""
    table = result.table.copy()
    table.attrs["boot"] = result.boots
    rewards = {r: t.as_dict() for r, t in result.rewards.items()}
    section4 = section4_verdicts(result.traces, table, rewards, sft=result.roles["sft"],
                                 distill=result.roles["distill"], grpo=result.roles["grpo"])
    return pd.concat([section4, verdict_table([emergent_sets_row(result)])], ignore_index=True)


def emergent_sets_row(result: Result):
    """The premise row: the mean over runs of the Jaccard between the final emergent sets of EAP-IG and of
    exact patching (:func:`~thinking_sparks.emergence.tables.mean_jaccard`)."""
    return emergent_sets_verdict(*mean_jaccard(result.exact_sets, result.jaccard_boot))
