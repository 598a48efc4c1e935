"""What the zoo learned: accuracy of its checkpoints and its training curves.

:func:`accuracy_table` evaluates model specs (e.g. ``organism/sft@final``) on ``organism/easy``,
``organism/medium`` and ``organism/hard`` through the cached evaluation harness and returns a tidy
frame ``model, mode, difficulty, pass@1, ci_low, ci_high, n_samples`` (95% bootstrap CI over
problems); ``mode`` is ``default``, ``think`` (user turn ends in ``/think``) or ``no_think``
(``/no_think`` plus the template's empty think block).
:func:`zoo_table` is that table for the final checkpoint of every run (the closing table of the
organism), :func:`checkpoint_accuracy` follows one eval set along the checkpoints of some runs,
:func:`training_log` gathers the tidy logs and :func:`reward_summary` says whether GRPO's reward rose.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence

import pandas as pd

log = logging.getLogger(__name__)

SETS = ("easy", "medium", "hard")
#: mode -> (soft switch appended to the question: see ``task.flagged``, ``enable_thinking`` for the template)
MODES = {"default": (None, None), "think": (True, None), "no_think": (False, False)}


def _profile_name(profile_name: str | None) -> str:
    from thinking_sparks.organism import zoo

    return profile_name or os.environ.get(zoo.PROFILE_ENV, "full")


def _grpo_runs(profile_name: str | None) -> list[tuple[str, pd.DataFrame]]:
    """``(run, reward curve sorted by step)`` for every GRPO run of the profile."""
    from thinking_sparks.organism import config, grpo, zoo

    name = _profile_name(profile_name)
    return [(run, grpo.reward_curve(zoo.run_dir(name, run) / "log.csv").sort_values("step"))
            for run, spec in config.profile(name).items() if spec.kind == "grpo"]


def accuracy_table(specs: Sequence[str], modes: Sequence[str] = ("default",), n: int = 4,
                   temperature: float = 0.6, max_new_tokens: int = 128, limit: int | None = None,
                   device: str | None = "cpu", progress: bool = False,
                   sets: Sequence[str] = SETS) -> pd.DataFrame:
    """pass@1 (mean over ``n`` samples) per model, mode and eval set (each cell cached)."""
    unknown = [s for s in sets if s not in SETS]
    if unknown:
        raise ValueError(f"unknown eval sets {unknown}; choose from {', '.join(SETS)}")
    from thinking_sparks.evaluation.datasets import load_eval_set
    from thinking_sparks.evaluation.harness import EvalParams, run_eval
    from thinking_sparks.models import load_model
    from thinking_sparks.organism import task

    rows = []
    for spec in specs:
        lm = load_model(spec, device=device)
        for mode in modes:
            think, enable_thinking = MODES[mode]
            for name in sets:
                problems = load_eval_set(f"organism/{name}", limit=limit)
                params = EvalParams(dataset=f"organism/{name}", n=n, temperature=temperature, top_p=1.0,
                                    max_new_tokens=max_new_tokens, batch_size=256, limit=limit,
                                    instruction=None, enable_thinking=enable_thinking)
                problems = [dataclasses.replace(p, question=task.flagged(p.question, think)) for p in problems]
                result = run_eval(lm, params, problems=problems, progress=progress)
                p1 = result.summary.get("pass", 1)
                rows.append({"model": spec, "mode": mode, "difficulty": name, "pass@1": round(p1.value, 4),
                             "ci_low": round(p1.ci_low, 4), "ci_high": round(p1.ci_high, 4),
                             "n_samples": n * len(problems)})
                log.info("%s [%s] %s: pass@1 %.3f", spec, mode, name, result.pass_at_1)
    return pd.DataFrame(rows)


def zoo_table(profile_name: str | None = None, n: int = 4, limit: int | None = None, temperature: float = 0.6,
              progress: bool = False) -> pd.DataFrame:
    """The closing table of the organism: base, the final checkpoint of every run, hybrid think vs no_think.

    Returns ``accuracy_table``'s tidy frame for ``organism/<run>@final`` (teacher included), with the
    hybrid run evaluated in the ``think`` and ``no_think`` modes and every other run in ``default``.
    """
    from thinking_sparks.organism import config

    name = _profile_name(profile_name)
    frames = []
    for run in config.profile(name):
        spec = f"organism/{name}/{run}@final"
        modes = ("think", "no_think") if run == "hybrid" else ("default",)
        frames.append(accuracy_table([spec], modes=modes, n=n, limit=limit, temperature=temperature,
                                     progress=progress).assign(run=run))
    return pd.concat(frames, ignore_index=True)


def wide(table: pd.DataFrame, with_ci: bool = False) -> pd.DataFrame:
    """``zoo_table`` as one row per run and mode, one column per eval set (pass@1).

    With ``with_ci`` the cells are strings ``"0.107 [0.065, 0.152]"`` (95% bootstrap CI).
    """
    values = table
    if with_ci:
        values = table.assign(cell=[f"{v:.3f} [{lo:.3f}, {hi:.3f}]"
                                    for v, lo, hi in zip(table["pass@1"], table["ci_low"], table["ci_high"])])
    column = "cell" if with_ci else "pass@1"
    out = values.pivot_table(index=["run", "mode"], columns="difficulty", values=column, sort=False,
                             aggfunc="first")
    return out[[s for s in SETS if s in out.columns]].reset_index()


def run_shape(profile_name: str | None, run: str) -> str:
    """A run's architecture in words, e.g. ``8 x 8 heads (2 KV), d_model 64`` (post-training runs
    keep the shape of the pretraining run they start from)."""
    from thinking_sparks.organism import config

    table = config.profile(_profile_name(profile_name))
    spec = table[run]
    while spec.kind != "pretrain":
        spec = table[spec.parent]
    s = spec.config.shape
    return f"{s.n_layers} x {s.n_heads} heads ({s.n_kv_heads} KV), d_model {s.d_model}"


def runs_table(profile_name: str | None = None) -> pd.DataFrame:
    """One row per run of the profile: recipe, parent, shape, checkpoints, wall and CPU seconds of its build."""
    import json

    from thinking_sparks.organism import zoo

    name = _profile_name(profile_name)
    rows = []
    for r in zoo.list_runs(name):
        meta = json.loads((r.path / "run.json").read_text()) if (r.path / "run.json").exists() else {}
        rows.append({"run": r.name, "recipe": r.kind, "starts from": r.parent or "scratch",
                     "shape": run_shape(name, r.name), "checkpoints": len(r.steps),
                     "steps": f"{r.steps[0]}–{r.steps[-1]}" if r.steps else "",
                     "train seconds": round(r.seconds or 0, 1), "cpu seconds": round(meta.get("cpu_seconds", 0), 1)})
    return pd.DataFrame(rows)


def training_log(profile_name: str | None = None, runs: Sequence[str] | None = None) -> pd.DataFrame:
    """Every built run's tidy log (``run, kind, step, metric, value``), in build order.

    Raises:
        FileNotFoundError: a requested run has no ``log.csv`` (not built).
    """
    from thinking_sparks.organism import config, zoo

    name = _profile_name(profile_name)
    table = config.profile(name)
    frames = []
    for run in runs or list(table):
        path = zoo.run_dir(name, run) / "log.csv"
        if not path.exists():
            raise FileNotFoundError(f"organism/{name}/{run} has no training log at {path}; build it with "
                                    f"`sparks zoo build --profile {name} --runs {run}`")
        frames.append(pd.read_csv(path).assign(run=run, kind=table[run].kind))
    return pd.concat(frames, ignore_index=True)[["run", "kind", "step", "metric", "value"]]


def loss_curves(profile_name: str | None = None, metric: str = "loss", points: int = 200) -> pd.DataFrame:
    """One training metric of every run that logs it, binned to at most ``points`` per run.

    Returns ``run, kind, step, value``: each bin's mean value at the bin's last step (long runs log
    thousands of steps; a chart needs a few hundred points).
    """
    logs = training_log(profile_name)
    logs = logs[logs.metric == metric]
    frames = []
    for run, group in logs.groupby("run", sort=False):
        group = group.sort_values("step").reset_index(drop=True)
        bins = group.index * min(points, len(group)) // len(group)
        frames.append(group.groupby(bins).agg(run=("run", "first"), kind=("kind", "first"), step=("step", "last"),
                                              value=("value", "mean")))
    return pd.concat(frames, ignore_index=True)


def reward_summary(profile_name: str | None = None, window: int = 25) -> pd.DataFrame:
    """Per GRPO run: mean reward terms over the first and the last ``window`` logged steps.

    Returns one row per (run, term) with ``first``, ``last`` and ``change = last - first``.
    """
    rows = []
    for run, curve in _grpo_runs(profile_name):
        w = max(1, min(window, len(curve) // 2))
        for term in ("reward", "accuracy", "format"):
            if term in curve:
                first, last = curve[term].head(w).mean(), curve[term].tail(w).mean()
                rows.append({"run": run, "term": term, "steps": len(curve), "window": w,
                             "first": round(first, 4), "last": round(last, 4), "change": round(last - first, 4)})
    return pd.DataFrame(rows)


def checkpoint_accuracy(runs: Sequence[str], profile_name: str | None = None, difficulty: str = "hard",
                        mode: str = "default", n: int = 4, limit: int | None = 100, temperature: float = 0.6,
                        progress: bool = False) -> pd.DataFrame:
    """pass@1 on one eval set at every checkpoint of ``runs``: ``run, step, pass@1``.

    Step 0 of a post-training run is its parent's final checkpoint (where it started).
    """
    from thinking_sparks.organism import config, zoo

    name = _profile_name(profile_name)
    table = config.profile(name)
    rows = []
    for run in runs:
        steps = zoo.checkpoint_steps(zoo.run_dir(name, run))
        specs = [(step, f"organism/{name}/{run}@{step}") for step in steps]
        if table[run].parent and 0 not in steps:
            specs.insert(0, (0, f"organism/{name}/{table[run].parent}@final"))
        for step, spec in specs:
            cell = accuracy_table([spec], modes=(mode,), n=n, temperature=temperature, limit=limit,
                                  progress=progress, sets=(difficulty,))
            rows.append({"run": run, "step": step, "pass@1": float(cell["pass@1"].iloc[0])})
    return pd.DataFrame(rows)


def example_completions(specs: Sequence[str], difficulty: str = "hard", index: int = 0, mode: str = "default",
                        max_new_tokens: int = 128, device: str | None = "cpu") -> pd.DataFrame:
    """Each model's greedy completion of one eval problem: ``model, prompt, completion, extracted, gold, correct``."""
    from thinking_sparks.evaluation.datasets import load_eval_set
    from thinking_sparks.evaluation.generation import SamplingConfig, generate
    from thinking_sparks.evaluation.grading import extract_answer, is_correct
    from thinking_sparks.models import load_model
    from thinking_sparks.organism import task

    problem = load_eval_set(f"organism/{difficulty}", limit=index + 1)[index]
    think, enable_thinking = MODES[mode]
    question = task.flagged(problem.question, think)
    rows = []
    for spec in specs:
        lm = load_model(spec, device=device)
        prompt = lm.chat(question, enable_thinking=enable_thinking)
        cfg = SamplingConfig(n=1, temperature=0.0, max_new_tokens=max_new_tokens, stop=("</answer>",))
        text = generate(lm, [prompt], cfg, progress=False)[0].text
        answer = extract_answer(text)
        rows.append({"model": spec, "prompt": prompt, "completion": text, "extracted": answer,
                     "gold": problem.answer, "correct": is_correct(answer, problem.answer)})
    return pd.DataFrame(rows)


def grpo_curves(profile_name: str | None = None, window: int = 10) -> pd.DataFrame:
    """Per-step GRPO reward terms of every GRPO run (the paper's Fig 3B), tidy.

    Returns ``run, step, term, value, smoothed`` where ``smoothed`` is the trailing mean over
    ``window`` steps (per run and term).
    """
    frames = []
    for run, curve in _grpo_runs(profile_name):
        terms = [t for t in ("reward", "accuracy", "format") if t in curve]
        long = curve.melt(id_vars="step", value_vars=terms, var_name="term").assign(run=run)
        long["smoothed"] = long.groupby("term")["value"].transform(lambda v: v.rolling(window, min_periods=1).mean())
        frames.append(long)
    return pd.concat(frames, ignore_index=True)[["run", "step", "term", "value", "smoothed"]]


def claims(table: pd.DataFrame, rewards: pd.DataFrame) -> pd.DataFrame:
    """The organism's checks against the paper's premises, measured: ``claim, observed, holds``.

    Args:
        table: :func:`zoo_table`'s frame.
        rewards: :func:`reward_summary`'s frame.
    """
    acc = table.set_index(["run", "mode", "difficulty"])["pass@1"]

    def get(run: str, mode: str = "default", difficulty: str = "hard") -> float | None:
        return float(acc[(run, mode, difficulty)]) if (run, mode, difficulty) in acc.index else None

    rows = []
    base = get("base")
    for run, what in (("sft", "SFT"), ("distill", "distillation")):
        value = get(run)
        if base is not None and value is not None:
            rows.append({"claim": f"{what} raises hard-set pass@1 over base",
                         "observed": f"{base:.3f} -> {value:.3f}", "holds": value > base})
    think, no_think = get("hybrid", "think"), get("hybrid", "no_think")
    if think is not None and no_think is not None:
        rows.append({"claim": "thinking on beats thinking off on the hard set",
                     "observed": f"on {think:.3f} vs off {no_think:.3f}", "holds": think > no_think})
    for row in rewards[rewards.term == "accuracy"].itertuples() if len(rewards) else []:
        rows.append({"claim": f"GRPO accuracy reward rises ({row.run})",
                     "observed": f"first {row.window} steps {row.first:.3f} -> last {row.window} {row.last:.3f}",
                     "holds": row.change > 0})
    for run in table.run.unique():
        if run in ("base", "teacher", "hybrid") or run.startswith(("sft", "distill")):
            continue
        value = get(run)
        if base is not None and value is not None:
            rows.append({"claim": f"{run} raises hard-set pass@1 over base",
                         "observed": f"{base:.3f} -> {value:.3f}", "holds": value > base})
    return pd.DataFrame(rows, columns=["claim", "observed", "holds"])
