"""What page ``07_real_model`` computes, as library calls (the notebook only displays it).

**Post-training a real model, traced.** :func:`train_run` trains (or finds cached) a run of
:data:`~thinking_sparks.realmodel.runs.RUNS` from any start model, :func:`accuracy` compares the
start model with the final checkpoint (pass@1 with bootstrap CIs and the paired difference), and
:func:`sweep` runs the emergence room's :func:`~thinking_sparks.emergence.trace` over evenly spaced
checkpoints (:func:`traced`) against the start model's circuit; :func:`layer_frame` counts the
emergent heads per layer.  The cohorts, heatmap and Table 3 with its noise floor are the emergence
room's own (``trace.bands``, ``trace.frequency``, ``emergence.tables.table3``).

**Think on / off on a real model.** :func:`style_heads` builds the two prompting styles' circuits
(:mod:`~thinking_sparks.realmodel.styles`: step by step vs answer at once, the model's own sampled
answers) with the interventions room's :func:`~thinking_sparks.interventions.choose.think_heads`, and
:func:`overlap` bootstraps their Jaccard overlap; :func:`style_interventions` zeroes and scales the
heads only one style recruits (and layer-matched random sets) and measures pass@1 and pass@k.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from thinking_sparks import runtime
from thinking_sparks.evaluation.harness import EvalParams
from thinking_sparks.realmodel import runs

log = logging.getLogger(__name__)

__all__ = ["Accuracy", "PendingRun", "TrainedRun", "accuracy", "closing_note", "layer_frame", "overlap", "run_config", "style_heads",
           "start_run", "style_interventions", "sweep", "train_run", "traced"]


# ------------------------------------------------------------------ part 1: the SFT run, traced


@dataclass
class TrainedRun:
    """A trained run: its settings, directory, checkpoint specs (ascending) and ``run.json``."""

    name: str
    cfg: runs.RealSFT
    path: Path
    specs: list[str]
    meta: dict
    cached: bool
    seconds: float = 0.0  #: this call's time (training, or finding the cached run)

    @property
    def final(self) -> str:
        return self.specs[-1]

    @property
    def steps(self) -> list[int]:
        return [int(s.rsplit("@", 1)[1]) for s in self.specs]


def run_config(run: str = "smollm2-sft", model: str | None = None, max_steps: int | None = None,
               gpu_steps: int | None = None, device: str = "cpu") -> runs.RealSFT:
    """Run ``run``'s settings with the page's overrides (start model, steps, device); never more
    checkpoints than steps."""
    if run not in runs.RUNS:
        raise ValueError(f"unknown run {run!r}; runs: {', '.join(runs.RUNS)}")
    cfg = runs.RUNS[run]
    over = {"device": device}
    if model is not None:
        over["model"] = model
    if max_steps is not None:
        over["max_steps"] = max_steps
    if gpu_steps is not None:
        over["gpu_steps"] = gpu_steps
    cfg = dataclasses.replace(cfg, **over)
    steps = cfg.recipe().max_steps
    return dataclasses.replace(cfg, n_checkpoints=min(cfg.n_checkpoints, steps))


def train_run(run: str, cfg: runs.RealSFT) -> TrainedRun:
    """Train ``run`` with settings ``cfg`` unless cached and wait for it (:func:`start_run`).

    Specs are ``real/<run>@<step>`` for the run's own settings, else ``real/<run>-<key>@<step>``.
    """
    return start_run(run, cfg).result()


@dataclass
class PendingRun:
    """A run training in a worker process (or already trained); :meth:`result` waits for it."""

    name: str
    cfg: runs.RealSFT
    future: Any
    started: float

    def result(self) -> TrainedRun:
        from thinking_sparks.organism.zoo import checkpoint_steps

        cached = self.future is None
        path = runs.run_dir(self.name, self.cfg) if cached else runtime.finish_worker(self.future)
        prefix = f"real/{self.name}" if self.cfg == runs.RUNS.get(self.name) else f"real/{path.name}"
        specs = [f"{prefix}@{s}" for s in checkpoint_steps(path)]
        return TrainedRun(self.name, self.cfg, path, specs, runs.run_meta(self.name, self.cfg), cached,
                          time.perf_counter() - self.started)


def start_run(run: str, cfg: runs.RealSFT) -> PendingRun:
    """Start training ``run`` (settings ``cfg``) in a quiet worker process on another core, unless it
    is cached; the caller works on (e.g. on the start model) and calls :meth:`PendingRun.result`."""
    return PendingRun(run, cfg, runs.start_training(run, cfg), time.perf_counter())


def traced(specs: list[str], n: int) -> list[str]:
    """``n`` evenly spaced checkpoints of ``specs`` (ascending), always ending with the final one."""
    if n < 1:
        raise ValueError(f"need at least one checkpoint to trace, got {n}")
    if n >= len(specs):
        return list(specs)
    m = len(specs)
    idx = sorted({m - 1 - int(round(i * m / n)) for i in range(n)})  # every (m / n)-th, back from the final
    return [specs[i] for i in idx]


@dataclass
class Accuracy:
    """pass@1 before and after post-training on one eval set: ``table`` (``model, spec, pass@1,
    ci_low, ci_high, n_problems``), the paired difference after − before (``diff``: value, ci_low,
    ci_high) and both sides' samples."""

    table: pd.DataFrame
    diff: tuple[float, float, float]
    samples: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    seconds: float = 0.0


def accuracy(before: str, after: str, params: EvalParams, device: str = "cpu") -> Accuracy:
    """pass@1 of ``before`` and ``after`` on ``params.dataset`` (cached evaluations) and their
    paired difference over problems (:func:`~thinking_sparks.evaluation.metrics.paired_difference`)."""
    from thinking_sparks.evaluation.harness import run_eval
    from thinking_sparks.evaluation.metrics import paired_difference
    from thinking_sparks.models import load_model

    rows, samples, seconds = [], {}, 0.0
    for label, spec in (("before", before), ("after", after)):
        res = run_eval(load_model(spec, device=device), params, progress=False)
        v = res.summary.get("pass", 1)
        rows.append({"model": label, "spec": spec, "pass@1": v.value, "ci_low": v.ci_low, "ci_high": v.ci_high,
                     "n_problems": v.n_problems})
        samples[label] = res.samples
        seconds += float(res.info.get("timing", {}).get("seconds", 0.0))
    diff = paired_difference(samples["after"], samples["before"], n_boot=params.n_boot)
    return Accuracy(pd.DataFrame(rows), diff, samples, seconds)


def sweep(base: str, checkpoints: list[str], pair_params: Any, settings: Any, run: str, jobs: int = 1):
    """The emergence room's :func:`~thinking_sparks.emergence.trace` (every circuit cached; ``jobs``
    processes build them)."""
    from thinking_sparks.emergence.trace import trace

    return trace(base, checkpoints, pair_params, settings, run=run, progress=False, jobs=jobs)


def layer_frame(tr: Any) -> pd.DataFrame:
    """Emergent heads per layer: ``layer, kind, heads`` with kinds ``final`` (emergent at the final
    checkpoint) and ``ever`` (emergent at any traced checkpoint), every layer listed."""
    from thinking_sparks.heads import parse_head

    base = set(tr.base.heads)
    final = set(tr.results[-1].heads) - base
    ever = set().union(*[set(r.heads) - base for r in tr.live()]) if tr.live() else set()
    rows = []
    for kind, heads in (("emergent at the final checkpoint", final), ("emergent at any checkpoint", ever)):
        layers = [parse_head(h)[0] for h in heads]
        rows += [{"layer": layer, "kind": kind, "heads": layers.count(layer)} for layer in range(tr.base.n_layers)]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ part 2: think on / off


def style_heads(model: str, pair_params: Any, settings: Any, k: int) -> dict[str, Any]:
    """The step-by-step (think-on) and direct (think-off) circuits of ``model`` from its own answers
    on ``pair_params.dataset`` (bare questions, e.g. ``words/easy-bare``), as
    :func:`~thinking_sparks.interventions.choose.think_heads` returns them (``off_only``: the top
    ``k`` direct-only heads); also ``on_only_top``: the top ``k`` step-by-step-only heads."""
    from thinking_sparks.interventions.choose import think_heads
    from thinking_sparks.realmodel.styles import STYLE_MODES

    th = think_heads(model, pair_params, settings, k, on=STYLE_MODES["think"], off=STYLE_MODES["direct"])
    th["on_only_top"] = list(th["comparison"].sets.base_only[:k])
    return th


def overlap(th: dict[str, Any], settings: Any, n_boot: int = 200, seed: int = 0) -> dict[str, float]:
    """Jaccard overlap of the two style circuits with a 95% paired bootstrap CI over questions, and
    the CIs of each one-sided count and of ``diff`` = heads(direct) − heads(step-by-step) (nan when
    a circuit has no signal)."""
    from thinking_sparks.emergence.stats import overlap_bootstrap
    from thinking_sparks.emergence.drawing import edge_graph as _graph

    cmp = th["comparison"]
    point = th["overlap"]
    out = {"jaccard": point["jaccard"], "on_only": point["only_a"], "off_only": point["only_b"],
           "n_on": point["n_a"], "n_off": point["n_b"]}
    nan = float("nan")
    if not (cmp.base.has_signal and cmp.model.has_signal):
        return out | {f"{c}_{e}": nan for c in ("jaccard", "on_only", "off_only", "diff") for e in ("low", "high")}
    boot = overlap_bootstrap(cmp.base.per_example(), cmp.model.per_example(), _graph(cmp.base, settings),
                             cmp.base.top_n, n_boot, seed, settings.aggregation)
    boot = boot.rename(columns={"only_a": "on_only", "only_b": "off_only"}).assign(diff=boot.n_b - boot.n_a)
    for c in ("jaccard", "on_only", "off_only", "diff"):
        out[f"{c}_low"], out[f"{c}_high"] = (float(boot[c].quantile(q)) for q in (0.025, 0.975))
    return out


def style_sets(level: str) -> dict[str, str]:
    """The eval sets of the two styles at ``level``: ``think`` -> ``words/<level>``, ``direct`` ->
    ``words/<level>-direct`` (the same problems, asked the two ways)."""
    return {"think": f"words/{level}", "direct": f"words/{level}-direct"}


def style_interventions(model: str, think_only: list[str], direct_only: list[str], params: dict[str, EvalParams],
                        level: str = "easy", seeds: int = 3, scale: float = 0.5,
                        device: str = "cpu") -> dict[str, Any]:
    """Each style's heads zeroed (and the direct-only heads scaled by ``scale``) in that style, beside
    the unmodified model and ``seeds`` layer-matched random sets of the same size (every evaluation
    cached). ``params[style]`` are the sampling settings per style (their ``dataset`` is replaced).

    Returns ``{"think": ExperimentResult | None, "direct": ..., "curves": pass@k / success@k of the
    direct style (no ablation, ablated, scaled), "heads": {style: heads}}``; a style without heads of
    its own has no intervention rows (only its unmodified row).
    """
    from thinking_sparks.interventions import experiments as ex
    from thinking_sparks.models import load_model

    lm = load_model(model, device=device)
    sets = style_sets(level)
    out: dict[str, Any] = {"heads": {"think": list(think_only), "direct": list(direct_only)}}
    for style, heads in (("think", think_only), ("direct", direct_only)):
        named = {f"{style}-only": heads} if heads else {}
        conds = ex.ablation_conditions(named, lm.n_layers, lm.n_heads, random_like=f"{style}-only" if heads else None,
                                       seeds=range(seeds))
        if style == "direct" and heads:
            conds += ex.scaling_conditions(named, factors=(scale,), baseline=False)
        out[style] = ex.pass_at_1_table(lm, conds, params[style], sets=[sets[style]])
    kept = [c for c in ex.ablation_conditions({"direct-only": direct_only} if direct_only else {}, lm.n_layers,
                                              lm.n_heads)]
    kept += ex.scaling_conditions({"direct-only": direct_only}, factors=(scale,), baseline=False) if direct_only else []
    out["curves"] = ex.k_curves(lm, kept, params["direct"], dataset=sets["direct"])
    return out


def eval_seconds(*results: Any) -> float:
    """Generation seconds behind these experiment results (as computed when first run)."""
    from thinking_sparks.interventions.tables import generation_seconds

    return generation_seconds(*[r for r in results if r is not None])


def closing_note(trained: TrainedRun, acc: Accuracy, table: pd.DataFrame, ov: dict[str, float],
                 styles: dict[str, Any], seconds: float, cpu_seconds: float) -> str:
    """The page's closing paragraph (Markdown): its compute time, accuracy before / after, the
    emergent count against the noise floor, the style overlap and the interventions, all with CIs."""
    a = acc.table.set_index("model")
    d, dlo, dhi = acc.diff
    row = table.set_index("method").loc[trained.name]
    train = ("the SFT run was read from the cache" if trained.cached else
             f"training took {trained.seconds:.0f} s of it and {trained.meta['cpu_seconds']:.0f} CPU-s in its worker")
    lines = [f"**This page** took {seconds:.0f} s of wall time and {cpu_seconds:.0f} s of CPU time (its kernel and "
             f"worker processes) this run ({train}).",
             f"**Accuracy** (pass@1, 95% CI): {a.loc['before', 'pass@1']:.3f} [{a.loc['before', 'ci_low']:.3f}, "
             f"{a.loc['before', 'ci_high']:.3f}] before and {a.loc['after', 'pass@1']:.3f} "
             f"[{a.loc['after', 'ci_low']:.3f}, {a.loc['after', 'ci_high']:.3f}] after {trained.steps[-1]} SFT steps "
             f"(paired change {d:+.3f} [{dlo:+.3f}, {dhi:+.3f}]).",
             f"**Emergent heads** at the final checkpoint: {row.emergent:.0f} [{row.ci_low:.0f}, {row.ci_high:.0f}] "
             f"against a noise floor of {row.noise_mean:.1f} (95th percentile {row.noise_q95:.1f}).",
             f"**Styles**: {ov['n_on']} step-by-step heads, {ov['n_off']} direct heads, Jaccard {ov['jaccard']:.2f} "
             f"[{ov['jaccard_low']:.2f}, {ov['jaccard_high']:.2f}]."]
    for style in ("think", "direct"):
        t = styles[style].table
        cells = [f"{r['condition']} {r['pass@1']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
                 for r in t.to_dict("records")]
        lines.append(f"**{style.capitalize()} style** pass@1: " + "; ".join(cells) + ".")
    return " ".join(lines)
