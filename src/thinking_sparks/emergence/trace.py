"""Model vs base, and the sweep over a run's checkpoints, as tidy tables.

:func:`compare` gives the :class:`~.sets.HeadSets` of one model against a base (both circuits
cached).  :func:`trace` builds the base circuit once and a circuit at every checkpoint, and returns
a :class:`Trace`: ``heads`` (tidy, one row per head and checkpoint), ``summary`` (one row per
checkpoint: counts, faithfulness, pairs dropped, seconds, cached), ``bands`` / ``counts`` (cohorts,
see :mod:`.sets` for the return rule) and ``frequency`` (activation frequency per head).  With
``samples >= 2`` (the analysis plan's ``n_samples``) every circuit is built a second time on the next
block of questions (:attr:`~.pairs.PairParams.sample` 1): ``Trace.nulls`` / ``Trace.base_null``, the
same-size nulls of head-set counts.
:func:`trace_models` traces several runs, each against its base; :meth:`Trace.tables` keeps what a
page shows and the §4 claims read (:class:`TraceTables`, storable in the results cache).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.emergence.device import current_device, use_device
from thinking_sparks.emergence.modelruns import ModelRun, resolve_runs
from thinking_sparks.emergence.pairs import PairParams, Side, sample_prefixes
from thinking_sparks.emergence.sets import HeadSets, cohorts, frequency_table, score_dict
from thinking_sparks.emergence.stats import effect
from thinking_sparks.emergence.sweep import CircuitResult, circuit_for
from thinking_sparks.evaluation.datasets import load_eval_set
from thinking_sparks.models import CHECKPOINT_DIR, step_of
from thinking_sparks.plan import PLAN

log = logging.getLogger(__name__)

HEAD_COLUMNS = ["run", "step", "checkpoint", "head", "layer", "index", "active", "in_base", "status", "score",
                "importance", "importance_base", "effect", "inclusion"]


@dataclass
class Comparison:
    """A model circuit against a base circuit."""

    sets: HeadSets
    model: CircuitResult
    base: CircuitResult


def _sets(model: CircuitResult, base: CircuitResult) -> HeadSets:
    return HeadSets.from_sets(model.heads, base.heads, score_dict(model.score), score_dict(base.score))


def compare(model: str, base: str, params: PairParams | None = None, settings: CircuitConfig | None = None,
            final: str | None = None, use_cache: bool = True) -> Comparison:
    """Head sets of ``model`` against ``base`` (pairs built as in :mod:`.pairs`).

    ``final``: the run's final checkpoint, the base circuit's corrupted side and, with
    ``reasoning_side="final"``, the model circuit's clean side (default: ``model`` itself).
    """
    params, settings = params or PairParams(), settings or CircuitConfig()
    final = final or model
    clean = Side(model) if params.reasoning_side == "own" else Side(final)
    m = circuit_for(model, clean, Side(base), params, settings, use_cache)
    b = circuit_for(base, Side(base), Side(final), params, settings, use_cache)
    return Comparison(_sets(m, b), m, b)


#: think switch -> the (think-on, think-off) modes of :data:`~.pairs.MODES`
THINK_MODES = {"flags": ("think", "no_think"), "template": ("template_think", "template_no_think")}


def think_circuits(model: str, params: PairParams | None = None, settings: CircuitConfig | None = None,
                   use_cache: bool = True, switch: str = "flags", on: str | None = None,
                   off: str | None = None) -> Comparison:
    """One model's two circuits, built like any other pair of models from two of its modes:
    think-on (clean = its answers in mode ``on``, corrupted = its answers in mode ``off``) and
    think-off (swapped).  Returned as a :class:`Comparison` whose ``model`` is the think-off circuit and
    ``base`` the think-on one, so ``sets.emergent`` are the heads only in the think-off circuit
    (the paper's Table 2 targets), ``sets.base_only`` those only in the think-on circuit.

    ``switch`` picks the modes of a hybrid: ``flags`` (the organism's ``/think`` / ``/no_think``
    after the question) or ``template`` (the chat template's ``enable_thinking``, as Qwen3's).
    ``on`` / ``off`` name two modes directly instead: a chat model without a switch uses its
    prompting styles (``on="step-by-step", off="direct"``, registered by
    :mod:`thinking_sparks.realmodel.styles`).
    """
    if switch not in THINK_MODES:
        raise ValueError(f"switch must be one of {', '.join(THINK_MODES)}, got {switch!r}")
    if (on is None) != (off is None):
        raise ValueError("give both on and off modes, or neither")
    on, off = (on, off) if on is not None else THINK_MODES[switch]
    params, settings = params or PairParams(), settings or CircuitConfig()
    s_on, s_off = Side(model, on), Side(model, off)
    c_on = circuit_for(model, s_on, s_off, params, settings, use_cache)
    c_off = circuit_for(model, s_off, s_on, params, settings, use_cache)
    return Comparison(_sets(c_off, c_on), c_off, c_on)


@dataclass
class Trace:
    """The sweep of one run (see module docstring); ``bands``, ``counts`` and ``frequency`` cover
    the checkpoints with signal only (:meth:`live`)."""

    run: str
    base: CircuitResult
    results: list[CircuitResult]
    steps: list[int]
    heads: pd.DataFrame
    summary: pd.DataFrame
    bands: pd.DataFrame
    counts: pd.DataFrame
    frequency: pd.DataFrame
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    nulls: list[CircuitResult] = field(default_factory=list)  # sample-1 circuits, aligned with results
    base_null: CircuitResult | None = None                     # the base's sample-1 circuit

    def live(self) -> list[CircuitResult]:
        """Checkpoint circuits with signal (checkpoints whose pairs were all dropped are left out of
        cohorts, frequencies and persistence: they have no circuit, not an empty one)."""
        return [r for r in self.results if r.has_signal]

    def sets(self, i: int = -1) -> HeadSets:
        """Head sets of checkpoint ``i`` (default: the final one) against the base."""
        return _sets(self.results[i], self.base)

    def tables(self) -> TraceTables:
        """The sweep without its circuits' cache entries (see :class:`TraceTables`)."""
        return TraceTables(self.run, CircuitHeads.of(self.base), [CircuitHeads.of(r) for r in self.results],
                           list(self.steps), self.heads, self.summary, self.bands, self.counts, self.frequency,
                           float(self.seconds), [CircuitHeads.of(r) for r in self.nulls],
                           None if self.base_null is None else CircuitHeads.of(self.base_null))


def _warm(jobs: list[tuple[str, Side, Side, PairParams]], settings: CircuitConfig, device: str | None = None) -> int:
    """Compute (or find cached) the circuits ``(model, clean, corrupted, pair params)``; returns how
    many.  ``device``: the caller's circuit device (a worker process starts on the CPU default)."""
    if device is not None:
        use_device(device)
    for model, clean, corrupted, params in jobs:
        circuit_for(model, clean, corrupted, params, settings)
    return len(jobs)


def _ordered(checkpoints: list[str]) -> tuple[list[str], list[int]]:
    """Checkpoints in step order, with their steps (1, 2, ... when steps repeat or are missing)."""
    steps = [step_of(c, i + 1) for i, c in enumerate(checkpoints)]
    if len(set(steps)) != len(steps):
        steps = list(range(1, len(checkpoints) + 1))
    order = np.argsort(steps, kind="stable")
    return [checkpoints[i] for i in order], [steps[i] for i in order]


def trace(base: str, checkpoints: list[str], params: PairParams | None = None,
          settings: CircuitConfig | None = None, run: str | None = None, use_cache: bool = True,
          progress: bool = True, jobs: int = 1, samples: int = 1) -> Trace:
    """Circuits of every checkpoint against one base circuit (the last checkpoint is the final).

    ``samples``: question samples per circuit (:func:`trace_models` passes the analysis plan's
    ``circuits.n_samples``); from 2 on, the sample-1 circuits are the trace's ``nulls`` and
    ``base_null`` (further samples are not built).

    ``jobs > 1``: every other checkpoint circuit is first built in a worker process (console output
    to ``<cache>/logs/trace-<run>.log``) while this process builds the rest; the sweep then reads
    them all from the cache (same results, about half the wall time on two free cores).
    """
    params, settings = params or PairParams(), settings or CircuitConfig()
    if not checkpoints:
        raise ValueError("no checkpoints to trace")
    checkpoints, steps = _ordered(checkpoints)
    final = checkpoints[-1]
    run = run or (final.rsplit("@", 1)[0] if "@" in final else Path(final).parent.name
                  if CHECKPOINT_DIR.fullmatch(Path(final).name) else final)
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    every = [params] + ([dataclasses.replace(params, sample=params.sample + 1)] if samples >= 2 else [])
    t0 = time.perf_counter()
    own = params.reasoning_side == "own"
    if jobs > 1 and use_cache:
        from thinking_sparks import runtime

        todo = [(c, Side(c) if own else Side(final), Side(base), pp) for pp in every for c in reversed(checkpoints)]
        todo += [(base, Side(base), Side(final), pp) for pp in every]
        future = runtime.start_quiet_worker(runtime.cache_dir() / "logs" / f"trace-{Path(run).name}.log", _warm,
                                            todo[1::2], settings, current_device())
        _warm(todo[0::2], settings)
        runtime.finish_worker(future)
    bar = tqdm(total=(len(checkpoints) + 1) * len(every), desc=f"circuits {run}", unit="circuit",
               disable=not progress)
    built: list[tuple[CircuitResult, list[CircuitResult]]] = []
    try:
        for pp in every:
            b = circuit_for(base, Side(base), Side(final), pp, settings, use_cache)
            bar.update(1)
            results = []
            for ckpt in checkpoints:
                clean = Side(ckpt) if own else Side(final)
                results.append(circuit_for(ckpt, clean, Side(base), pp, settings, use_cache))
                bar.set_postfix(last_s=results[-1].seconds.get("total_s", 0.0), cached=results[-1].cached)
                bar.update(1)
            built.append((b, results))
    finally:
        bar.close()
    (b, results), nulls = built[0], built[1:]
    seconds = time.perf_counter() - t0
    base_heads = set(b.heads)
    heads = _tidy(run, steps, checkpoints, results, b)
    summary = pd.DataFrame([_summary(run, s, c, r, base_heads) for s, c, r in zip(steps, checkpoints, results,
                                                                                   strict=True)])
    live = [(s, r.heads) for s, r in zip(steps, results, strict=True) if r.has_signal]  # empty circuits skipped
    bands, counts = cohorts([s for s, _ in live], [h for _, h in live], base_heads)
    freq = frequency_table([h for _, h in live] or [[]], base_heads, b.n_layers, b.n_heads)
    log.info("%s: %d circuits in %.1f s", run, (len(results) + 1) * len(every), seconds)
    return Trace(run, b, results, steps, heads, summary, bands, counts, freq, seconds,
                 nulls=nulls[0][1] if nulls else [], base_null=nulls[0][0] if nulls else None)


def _summary(run: str, step: int, ckpt: str, r: CircuitResult, base_heads: set[str]) -> dict:
    heads = set(r.heads)
    return {"run": run, "step": step, "checkpoint": ckpt, "heads": len(heads), "emergent": len(heads - base_heads),
            "retained": len(heads & base_heads), "base_only": len(base_heads - heads), "edges": r.n_edges,
            "faithfulness": r.faithfulness, "pairs": r.n_pairs, "dropped_identical": r.n_identical,
            "dropped_short": r.n_short, "signal": r.has_signal, "seconds": float(r.seconds.get("total_s", 0.0)), "cached": r.cached,
            "patch_spearman": r.patch_spearman, "patch_recall": r.patch_recall}


def _tidy(run: str, steps: list[int], ckpts: list[str], results: list[CircuitResult], b: CircuitResult) -> pd.DataFrame:
    base_heads = set(b.heads)
    rows = []
    for step, ckpt, r in zip(steps, ckpts, results, strict=True):
        e = effect(r.importance, b.importance) if r.has_signal else np.full(r.importance.shape, np.nan)
        sets = _sets(r, b)
        for layer in range(r.n_layers):
            for h in range(r.n_heads):
                name = f"L{layer}H{h}"
                rows.append((run, step, ckpt, name, layer, h, name in r.heads, name in base_heads, sets.status(name),
                             float(r.score[layer, h]), float(r.importance[layer, h]), float(b.importance[layer, h]),
                             float(e[layer, h]), float(r.inclusion[layer, h])))
    return pd.DataFrame(rows, columns=HEAD_COLUMNS)


def trace_runs(runs: Any, profile: str, params: PairParams, settings: CircuitConfig,
               progress: bool = False, samples: int | None = None, jobs: int = 1) -> dict[str, Trace]:
    """``label -> Trace`` of run values (organism names of ``profile`` or mappings, :mod:`.modelruns`)."""
    return trace_models(resolve_runs(runs, profile), params, settings, progress, samples, jobs)


def sweep_jobs(models: Mapping[str, ModelRun], params: PairParams,
               samples: int | None = None) -> list[tuple[str, Side, Side, PairParams]]:
    """Every circuit :func:`trace_models` builds, as ``(model, clean, corrupted, pair params)``: per
    run and sample, the base's (clean = base, corrupted = the final checkpoint) and each checkpoint's."""
    samples = PLAN.circuits.n_samples if samples is None else samples
    every = [params] + ([dataclasses.replace(params, sample=params.sample + 1)] if samples >= 2 else [])
    out = []
    for m in models.values():
        ckpts = _ordered(list(m.checkpoints))[0]
        final = ckpts[-1]
        for pp in every:
            out.append((m.base, Side(m.base), Side(final), pp))
            out += [(c, Side(c) if pp.reasoning_side == "own" else Side(final), Side(m.base), pp) for c in ckpts]
    return out


def _prefixes(sides: list[tuple[Side, PairParams]], device: str | None = None) -> int:
    if device is not None:
        use_device(device)
    for side, pp in sides:
        sample_prefixes(side, pp)
    return len(sides)


def warm_sweep(jobs: list[tuple[str, Side, Side, PairParams]], settings: CircuitConfig,
               workers: int = 2) -> dict[str, float]:
    """Build the circuits ``jobs`` into the cache on ``workers`` processes (this one and spawned
    ones, one thread each): first every side's answer prefixes (each side once), then the circuits,
    each phase split evenly.  Returns the wall seconds of the two phases (``prefixes``, ``circuits``)."""
    from thinking_sparks import runtime

    sides = list(dict.fromkeys((s, pp) for _, clean, corr, pp in jobs for s in (clean, corr)))
    out = {}
    for phase, fn, todo, args in (("prefixes", _prefixes, sides, ()), ("circuits", _warm, jobs, (settings,))):
        t0 = time.perf_counter()
        futures = [runtime.start_quiet_worker(runtime.cache_dir() / "logs" / f"sweep-{phase}-{w}.log", fn,
                                              todo[w::workers], *args, current_device()) for w in range(1, workers)]
        try:
            fn(todo[0::workers], *args)
        finally:
            for f in futures:
                runtime.finish_worker(f)
        out[phase] = time.perf_counter() - t0
    return out


def trace_models(models: Mapping[str, ModelRun], params: PairParams, settings: CircuitConfig,
                 progress: bool = False, samples: int | None = None, jobs: int = 1) -> dict[str, Trace]:
    """``label -> Trace``: every checkpoint of each run against its base's circuit (``samples`` as
    in :func:`trace`).  ``jobs > 1``: every circuit is first built on that many processes
    (:func:`warm_sweep`), then read from the cache."""
    for label, m in models.items():
        if m.base is None:
            raise ValueError(f"run {label!r} has no base to compare its checkpoints with")
    samples = available_samples(params, PLAN.circuits.n_samples if samples is None else samples)
    if jobs > 1:
        warm_sweep(sweep_jobs(models, params, samples), settings, jobs)
    out = {}
    for label, m in models.items():
        if m.base is None:
            raise ValueError(f"run {label!r} has no base to compare its checkpoints with")
        out[label] = trace(m.base, list(m.checkpoints), params, settings, run=label, progress=progress,
                           samples=samples)
    return out


def available_samples(params: PairParams, samples: int) -> int:
    """``samples``, or fewer when the question set cannot hold that many disjoint samples of
    ``params.n_questions`` (a user's small JSONL set): the null then falls back to halves of sample 0
    (:func:`~.tables.null_of`), and the log says so."""
    n = len(load_eval_set(params.dataset, limit=params.n_questions * (params.sample + samples)))
    fit = max(1, min(samples, n // params.n_questions - params.sample))
    if fit < samples:
        log.info("%s holds %d questions: %d sample(s) of %d, not %d (the null uses halves of sample 0)",
                    params.dataset, n, fit, params.n_questions, samples)
    return fit


@dataclass
class CircuitHeads:
    """One circuit's heads and head scores (``score``: ``[n_layers][n_heads]`` node scores, which
    order head sets), without the cache entry behind it."""

    model: str
    heads: list[str]
    score: list[list[float]]
    n_layers: int
    n_heads: int
    top_n: int
    n_pairs: int

    @classmethod
    def of(cls, r: CircuitResult) -> CircuitHeads:
        return cls(r.model, list(r.heads), r.score.tolist(), r.n_layers, r.n_heads, r.top_n, r.n_pairs)

    @property
    def has_signal(self) -> bool:
        return self.n_pairs >= 2


@dataclass
class TraceTables:
    """A :class:`Trace` as tables and head lists (what a page shows and the §4 claims read:
    ``base.heads``, :meth:`live`, :meth:`sets`), storable with ``cache.save_result``."""

    run: str
    base: CircuitHeads
    results: list[CircuitHeads]
    steps: list[int]
    heads: pd.DataFrame
    summary: pd.DataFrame
    bands: pd.DataFrame
    counts: pd.DataFrame
    frequency: pd.DataFrame
    seconds: float = 0.0
    nulls: list[CircuitHeads] = field(default_factory=list)  # sample-1 circuits (:attr:`Trace.nulls`)
    base_null: CircuitHeads | None = None

    def live(self) -> list[CircuitHeads]:
        """Checkpoint circuits with signal (as :meth:`Trace.live`)."""
        return [r for r in self.results if r.has_signal]

    def sets(self, i: int = -1) -> HeadSets:
        """Head sets of checkpoint ``i`` (default: the final one) against the base (as :meth:`Trace.sets`)."""
        m, b = self.results[i], self.base
        return HeadSets.from_sets(m.heads, b.heads, score_dict(np.asarray(m.score)), score_dict(np.asarray(b.score)))
