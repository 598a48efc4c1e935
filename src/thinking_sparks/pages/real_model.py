"""Page ``07_real_model``: a real model post-trained, traced and intervened on.

:class:`Params` is the notebook's parameters cell; :func:`run` composes the real-model room and
returns a :class:`Result` (everything the notebook shows); :func:`verdicts` is its verdict table.

The SFT run trains in a quiet worker process (:func:`~thinking_sparks.realmodel.training.start_run`)
while this process analyses the start model's two prompting styles (their circuits, overlap and
head interventions: :func:`style_part`); then the run's checkpoints are traced against the start
model and accuracy before / after is measured (:func:`sweep_part`). Both parts are cached by content
(their parameters, the analysis dtype and the fingerprint of every model directory they read), so a
warm rebuild finds the trained run, reads both parts and loads no model.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from thinking_sparks import runtime
from thinking_sparks.cache import cached
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.emergence.device import analysis_dtype, use_device
from thinking_sparks.emergence.pairs import PairParams
from thinking_sparks.emergence.tables import table3
from thinking_sparks.emergence.trace import Trace
from thinking_sparks.evaluation.generation import SamplingConfig
from thinking_sparks.evaluation.harness import EvalParams
from thinking_sparks.models import fingerprint, resolve_spec
from thinking_sparks.pages.params import _check_circuit_fields, _check_positive
from thinking_sparks.plan import PLAN
from thinking_sparks.power import with_n_to_decide
from thinking_sparks.realmodel.ablations import StyleAblations, style_ablations
from thinking_sparks.realmodel.accuracy import Accuracy, accuracy
from thinking_sparks.realmodel.agreement import StyleAgreement, premise_rows, style_agreement
from thinking_sparks.realmodel.claims import real_verdicts
from thinking_sparks.realmodel.runs import RUNS, WORDS_SETS, RealSFT, run_key
from thinking_sparks.realmodel.styles import StyleCircuits, style_circuits
from thinking_sparks.realmodel.sweep import layer_frame, sweep, traced
from thinking_sparks.realmodel.training import TrainedRun, run_config, start_run
from thinking_sparks.verdicts import verdict_table

__all__ = ["Params", "Result", "StylePart", "SweepPart", "closing_note", "run", "style_part", "sweep_part",
           "verdicts"]


@dataclass
class Params:
    """Parameters of ``07_real_model``: a real model post-trained and traced, and its two prompting
    styles (think on / off) compared and intervened on.

    Attributes:
        model: the start model of the SFT run, and the model whose styles are compared
            (``smollm2-135m-instruct``; any spec of a chat model).
        run: the SFT recipe and data (a run of ``realmodel.runs.RUNS``).
        max_steps, gpu_steps: optimiser steps on a CPU / on CUDA (None: the run's own, 24 / 480).
        trace_checkpoints: evenly spaced checkpoints traced (the last is the final one).
        eval_set: where accuracy before / after is measured (``words/easy``, ``words/medium``,
            ``gsm8k``-style JSONL path); also the think style's set of the interventions.
        n, limit, temperature, max_new_tokens: sampling for pass@1 (n per problem, first ``limit``).
        dataset, n_questions, answer_tokens, steps, rule, top_n: the sweep's circuits (see
            ``emergence.pairs`` / ``emergence.sweep``; prefixes are sampled ``answer_tokens`` long).
        n_boot: bootstrap resamples (CIs, inclusion, the head-set statistics of
            :mod:`~thinking_sparks.emergence.headstats`).
        style_level: ``easy`` or ``medium``: the words level whose bare questions give the style
            circuits and whose two sets (``words/<level>``, ``words/<level>-direct``) the interventions.
        k: heads per intervened set (top by circuit score); seeds: layer-matched random sets.
        n_k, k_limit, direct_tokens: direct-style samples per problem (pass@1 and pass@k / success@k
            for k = 1..n_k), problems, and tokens per direct answer.
        jobs: processes that build the sweep's circuits (the SFT run always trains in a worker
            process beside the style analysis of the start model).
        device, threads: as everywhere (``cuda`` trains ``gpu_steps`` and builds circuits in bf16).
    """

    model: str = "smollm2-135m-instruct"
    run: str = "smollm2-sft"
    max_steps: int | None = None
    gpu_steps: int | None = None
    trace_checkpoints: int = 3
    eval_set: str = "words/easy"
    n: int = 4
    limit: int | None = 30
    temperature: float = 0.6
    max_new_tokens: int = 128
    dataset: str = "words/easy"
    n_questions: int = 12
    answer_tokens: int | None = 12
    steps: int = 3
    rule: str = "left"
    top_n: int | None = None
    n_boot: int = 200
    style_level: str = "easy"
    k: int = 5
    seeds: int = 1
    n_k: int = 4
    k_limit: int = 30
    direct_tokens: int = 12
    jobs: int = 2
    device: str = "cpu"
    threads: int = 0

    def __post_init__(self):
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("model must be a non-empty spec string")
        if self.run not in RUNS:
            raise ValueError(f"run must be one of {', '.join(RUNS)}, got {self.run!r}")
        if self.style_level not in WORDS_SETS:
            raise ValueError(f"style_level must be one of {', '.join(WORDS_SETS)}, got {self.style_level!r}")
        _check_circuit_fields(self)
        _check_positive(self, "trace_checkpoints", "n", "max_new_tokens", "n_boot", "k", "seeds", "n_k",
                        "k_limit", "direct_tokens", "jobs", optional=("max_steps", "gpu_steps", "limit"))
        if not 0 <= float(self.temperature) <= 2:
            raise ValueError(f"temperature must lie in [0, 2], got {self.temperature!r}")
        if self.answer_tokens is None:
            raise ValueError("answer_tokens must be a positive integer (prefixes are sampled that long)")

    def run_config(self) -> RealSFT:
        """The SFT run's settings (:func:`~thinking_sparks.realmodel.training.run_config`)."""
        return run_config(self.run, self.model, self.max_steps, self.gpu_steps, self.device)

    def eval_params(self) -> EvalParams:
        """Sampling for accuracy before / after and the think style (one set of settings: cached once)."""
        sampling = SamplingConfig(n=self.n, temperature=self.temperature, max_new_tokens=self.max_new_tokens,
                                  batch_size=64)
        return EvalParams(dataset=self.eval_set, sampling=sampling, limit=self.limit, n_boot=self.n_boot)

    def direct_params(self) -> EvalParams:
        """Sampling of the direct style: ``n_k`` short answers per problem, every k reported."""
        sampling = SamplingConfig(n=self.n_k, temperature=self.temperature, max_new_tokens=self.direct_tokens,
                                  batch_size=64)
        return EvalParams(dataset=f"words/{self.style_level}-direct", sampling=sampling, limit=self.k_limit,
                          n_boot=self.n_boot, ks=tuple(range(1, self.n_k + 1)))

    def style_params(self) -> dict[str, EvalParams]:
        """``{"think": ..., "direct": ...}`` sampling per style for the interventions."""
        think = self.eval_params()
        return {"think": dataclasses.replace(think, dataset=f"words/{self.style_level}"), "direct": self.direct_params()}

    def circuit_settings(self) -> tuple[PairParams, CircuitConfig, PairParams]:
        """``(PairParams, CircuitConfig)`` of the sweep, and the style circuits' PairParams."""
        pairs = PairParams(dataset=self.dataset, n_questions=self.n_questions, answer_tokens=self.answer_tokens,
                           sampling=SamplingConfig(n=1, max_new_tokens=self.answer_tokens))
        settings = CircuitConfig(steps=self.steps, top_n=self.top_n, rule=self.rule, n_boot=self.n_boot)
        return pairs, settings, dataclasses.replace(pairs, dataset=f"words/{self.style_level}-bare")


# ------------------------------------------------------------------ cache keys

#: Params fields that change the style part's numbers / the sweep part's numbers (not jobs, threads)
_STYLE_FIELDS = ("model", "eval_set", "n", "limit", "temperature", "max_new_tokens", "dataset", "n_questions",
                 "answer_tokens", "steps", "rule", "top_n", "n_boot", "style_level", "k", "seeds", "n_k", "k_limit",
                 "direct_tokens")
_SWEEP_FIELDS = ("model", "run", "eval_set", "n", "limit", "temperature", "max_new_tokens", "dataset", "n_questions",
                 "answer_tokens", "steps", "rule", "top_n", "n_boot", "trace_checkpoints")


def model_fingerprint(spec: str) -> str:
    """The content hash of ``spec``'s model directory (a hub name stands for itself)."""
    where = resolve_spec(spec)
    return where if isinstance(where, str) else fingerprint(where)


def _where(params: Params) -> dict[str, Any]:
    """What of the machine changes numbers: the device type (sampling) and the analysis dtype (circuits)."""
    return {"device": "cuda" if params.device.startswith("cuda") else "cpu", "dtype": analysis_dtype()}


def _style_key(params: Params) -> dict[str, Any]:
    # the style overlap's same-style null (a second question sample, its resamples and quantile) is part of the numbers
    null = {"sample": 1, "n_boot": PLAN.circuits.n_boot, "quantile": PLAN.circuits.floor_quantile}
    return {"params": {f: getattr(params, f) for f in _STYLE_FIELDS}, **_where(params),
            "model": model_fingerprint(params.model), "null": null}


def _sweep_key(params: Params, trained: TrainedRun) -> dict[str, Any]:
    specs = traced(trained.specs, params.trace_checkpoints)
    return {"params": {f: getattr(params, f) for f in _SWEEP_FIELDS}, **_where(params), "run_key": run_key(trained.cfg),
            "model": model_fingerprint(params.model), "checkpoints": {s: model_fingerprint(s) for s in specs}}


# ------------------------------------------------------------------ the two parts


@dataclass
class StylePart:
    """The start model's two prompting styles: their circuits and the head interventions."""

    styles: StyleCircuits
    ablations: StyleAblations
    seconds: float  #: wall seconds when computed


@dataclass
class SweepPart:
    """The trained run: accuracy before / after, its traced circuits, Table 3 and the layer counts."""

    accuracy: Accuracy
    trace: Trace
    table3: pd.DataFrame
    layers: pd.DataFrame
    seconds: float  #: wall seconds when computed


@cached("page-real_model-styles", key=_style_key)
def style_part(params: Params) -> StylePart:
    """The style circuits of ``params.model`` and the interventions on the heads only one holds."""
    t0 = time.perf_counter()
    _, settings, style_pairs = params.circuit_settings()
    styles = style_circuits(params.model, style_pairs, settings, params.k, n_boot=params.n_boot)
    ablations = style_ablations(params.model, styles.on_only_top, styles.off_only, params.style_params(),
                                params.style_level, params.seeds, device=params.device)
    return StylePart(styles, ablations, time.perf_counter() - t0)


@cached("page-real_model", key=_sweep_key)
def sweep_part(params: Params, trained: TrainedRun) -> SweepPart:
    """Accuracy of the start model and the final checkpoint, and the sweep of the traced checkpoints."""
    t0 = time.perf_counter()
    pair_params, settings, _ = params.circuit_settings()
    acc = accuracy(params.model, trained.final, params.eval_params(), device=params.device)
    tr = sweep(params.model, traced(trained.specs, params.trace_checkpoints), pair_params, settings, trained.name,
               jobs=params.jobs)
    table = table3({trained.name: tr}, settings, plan=dataclasses.replace(
        PLAN.circuits, n_boot=params.n_boot, n_outer=min(PLAN.circuits.n_outer, params.n_boot)))
    table.attrs = {}  # its bootstrap draws (for GRPO vs SFT) are not kept: this page has one run
    layers = layer_frame(tr)
    tr = dataclasses.replace(tr, base=dataclasses.replace(tr.base, path=None),
                             results=[dataclasses.replace(r, path=None) for r in tr.results])  # no machine paths
    return SweepPart(acc, tr, table, layers, time.perf_counter() - t0)


# ------------------------------------------------------------------ the page


@dataclass
class Result:
    """Everything page ``07_real_model`` shows.

    ``trained``: the SFT run (settings, checkpoint specs, ``run.json``; whether this call found it
    trained and its seconds); ``accuracy``: pass@1 before / after with the paired difference;
    ``trace``: the sweep (``summary``, ``bands``, ``counts``, ``frequency``, ``heads``, the circuits);
    ``table3``: Table 3 of the final checkpoint with its noise floor; ``layers``: emergent heads per
    layer; ``styles``: the two style circuits and their overlap; ``ablations``: pass@1 per style and
    intervention and the direct style's pass@k / success@k; ``agreement``: both style circuits' head
    attributions against exact denoising patches of every head (``table``: Spearman and top-k recall
    with bootstrap CIs over pairs and the patching's seconds per circuit; ``heads``: the scatter's
    points; :func:`~thinking_sparks.realmodel.agreement.style_agreement`); ``n_boot``: bootstrap
    resamples of the verdicts; ``style_seconds`` / ``sweep_seconds``: wall seconds of the two parts when computed;
    ``seconds`` / ``cpu_seconds``: this call's wall and CPU time (this process and its workers).
    """

    trained: TrainedRun
    accuracy: Accuracy
    trace: Trace
    table3: pd.DataFrame
    layers: pd.DataFrame
    styles: StyleCircuits
    ablations: StyleAblations
    agreement: StyleAgreement
    n_boot: int
    style_seconds: float
    sweep_seconds: float
    seconds: float
    cpu_seconds: float


def run(params: Params) -> Result:
    """Train (or find) the SFT run in a worker process while the start model's styles are analysed,
    then trace the run; both parts cached (a warm run loads no model)."""
    t0, c0 = time.perf_counter(), runtime.cpu_seconds()
    use_device(params.device)  # circuits on the page's device (bf16 on CUDA, float32 on the CPU)
    pending = start_run(params.run, params.run_config())
    styles = style_part(params)
    _, settings, style_pairs = params.circuit_settings()
    agreement = style_agreement(params.model, style_pairs, settings)  # reads the style circuits' own patching
    trained = pending.result()
    swept = sweep_part(params, trained)
    return Result(trained, swept.accuracy, swept.trace, swept.table3, swept.layers, styles.styles, styles.ablations,
                  agreement, params.n_boot, styles.seconds, swept.seconds, time.perf_counter() - t0,
                  runtime.cpu_seconds() - c0)


def verdicts(result: Result) -> pd.DataFrame:
    """The page's verdict table (:func:`~thinking_sparks.realmodel.claims.real_verdicts`), then the
    §3 premise on both style circuits (:func:`~thinking_sparks.realmodel.agreement.premise_rows`), with
    ``n_to_decide`` (:func:`sample_sizes`)."""
    main = real_verdicts(result.trained.name, result.trace, result.table3, result.accuracy, result.styles.overlap,
                         result.ablations.as_dict(), n_boot=result.n_boot)
    table = pd.concat([main, verdict_table(premise_rows(result.agreement))], ignore_index=True)
    return with_n_to_decide(table, sample_sizes(table, result))


def sample_sizes(table: pd.DataFrame, result: Result) -> list[int | None]:
    """Per verdict row, what its interval resamples (for :func:`thinking_sparks.power.n_to_decide`): the
    problems of the evaluation a ``paired over problems`` row reads (the before/after accuracy, or the
    direct-style ablations), the question pairs of the smaller style circuit for the two head-count rows
    (``question pairs``); None for the other rows (a circuit over checkpoints, the premise)."""
    def problems(frames) -> int | None:
        ids = {p for f in frames if f is not None and len(f) and "problem_id" in f for p in f["problem_id"]}
        return len(ids) or None

    direct = result.ablations.direct
    sizes = {"accuracy": problems(result.accuracy.samples.values()),
             "direct": problems([direct.samples]) if direct is not None else None,
             "pairs": min(result.styles.pairs.values()) if result.styles.pairs else None}
    out = []
    for s in table["statistic"].astype(str):
        kind = ("pairs" if "question pairs" in s else "accuracy" if s.startswith("pass@1, final checkpoint")
                else "direct" if "paired over problems" in s else None)
        out.append(sizes[kind] if kind else None)
    return out


def closing_note(result: Result) -> str:
    """The page's closing paragraph (Markdown): its compute time, accuracy before / after, the
    emergent count against the noise floor, the style overlap and the interventions, all with CIs."""
    trained, ov = result.trained, result.styles.overlap
    a = result.accuracy.table.set_index("model")
    d, dlo, dhi = result.accuracy.diff
    row = result.table3.set_index("method").loc[trained.name]
    train = ("the SFT run was read from the cache" if trained.cached else
             f"training took {trained.seconds:.0f} s of it and {trained.meta['cpu_seconds']:.0f} CPU-s in its worker")
    lines = [f"**This page** took {result.seconds:.0f} s of wall time and {result.cpu_seconds:.0f} s of CPU time "
             f"(its kernel and worker processes) this run ({train}).",
             f"**Accuracy** (pass@1, 95% CI): {a.loc['before', 'pass@1']:.3f} [{a.loc['before', 'ci_low']:.3f}, "
             f"{a.loc['before', 'ci_high']:.3f}] before and {a.loc['after', 'pass@1']:.3f} "
             f"[{a.loc['after', 'ci_low']:.3f}, {a.loc['after', 'ci_high']:.3f}] after {trained.steps[-1]} SFT steps "
             f"(paired change {d:+.3f} [{dlo:+.3f}, {dhi:+.3f}]).",
             f"**Emergent heads** at the final checkpoint: {row.emergent:.0f} [{row.ci_low:.0f}, {row.ci_high:.0f}] "
             f"against a same-size null of {row.floor_mean:.1f} (95th percentile {row.floor_q95:.1f}).",
             f"**Styles**: {ov['n_on']} step-by-step heads, {ov['n_off']} direct heads, Jaccard {ov['jaccard']:.2f} "
             f"[{ov['jaccard_low']:.2f}, {ov['jaccard_high']:.2f}]."]
    for style in ("think", "direct"):
        t = getattr(result.ablations, style).table
        cells = [f"{r['condition']} {r['pass@1']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
                 for r in t.to_dict("records")]
        lines.append(f"**{style.capitalize()} style** pass@1: " + "; ".join(cells) + ".")
    for name in ("think", "direct"):
        c = getattr(result.agreement, name)
        r = c.row("denoise")
        lines.append(f"**Exact patching, {name} circuit** ({c.n_heads} heads, {c.n_pairs} pairs, "
                     f"{r['patch_s']:.0f} s): head Spearman of EAP-IG against denoising patches {r['spearman']:.2f} "
                     f"[{r['spearman_low']:.2f}, {r['spearman_high']:.2f}], top-{r['k']:.0f} recall "
                     f"{r['recall']:.2f} [{r['recall_low']:.2f}, {r['recall_high']:.2f}].")
    return " ".join(lines)
