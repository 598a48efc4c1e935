"""How the zoo trained: every run's tidy training log, binned loss curves, GRPO's reward per step.

:func:`training_log` gathers the runs' ``log.csv`` files (``run, kind, step, metric, value``);
:func:`loss_curves` bins one metric to a few hundred points per run; :func:`grpo_curves` is the
paper's Fig 3B (reward terms per step with a trailing mean) and :func:`reward_summary` says
whether GRPO's reward rose (first vs last steps, with a bootstrap interval of the change), which
:func:`thinking_sparks.organism.premises.claims` turns into verdicts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from thinking_sparks.evaluation.intervals import difference_ci
from thinking_sparks.organism import config, grpo, zoo

#: GRPO's logged reward terms, in the order they are reported
REWARD_TERMS = ("reward", "accuracy", "format")


def grpo_runs(profile_name: str | None = None) -> list[tuple[str, pd.DataFrame]]:
    """``(run, reward curve sorted by step)`` for every GRPO run of the profile (``grpo.reward_curve``)."""
    name = zoo.default_profile(profile_name)
    return [(run, grpo.reward_curve(zoo.run_dir(name, run) / "log.csv").sort_values("step"))
            for run, spec in config.family_table(name).items() if spec.kind == "grpo"]


def training_log(profile_name: str | None = None, runs: Sequence[str] | None = None) -> pd.DataFrame:
    """Every built run's tidy log (``run, kind, step, metric, value``), in build order.

    Raises:
        FileNotFoundError: a requested run has no ``log.csv`` (not built).
    """
    name = zoo.default_profile(profile_name)
    table = config.profile(name)
    frames = []
    for run in runs or list(config.family_table(name)):
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

    Returns one row per (run, term) with ``first``, ``last``, ``change = last - first`` and
    ``ci_low``/``ci_high``: a 95% bootstrap interval of the change (``scipy.stats.bootstrap``, BCa by
    the plan; each window's per-step values resampled on its own; NaN when a window has a single
    step or both are constant).
    """

    rows = []
    for run, curve in grpo_runs(profile_name):
        w = max(1, min(window, len(curve) // 2))
        for term in REWARD_TERMS:
            if term in curve:
                head, tail = curve[term].head(w), curve[term].tail(w)
                first, last = head.mean(), tail.mean()
                lo, hi = difference_ci(tail.to_numpy(), head.to_numpy()) if w > 1 else (math.nan, math.nan)
                rows.append({"run": run, "term": term, "steps": len(curve), "window": w,
                             "first": round(first, 4), "last": round(last, 4), "change": round(last - first, 4),
                             "ci_low": round(lo, 4), "ci_high": round(hi, 4)})
    return pd.DataFrame(rows)


def grpo_curves(profile_name: str | None = None, window: int = 10) -> pd.DataFrame:
    """Per-step GRPO reward terms of every GRPO run (the paper's Fig 3B), tidy.

    Returns ``run, step, term, value, smoothed`` where ``smoothed`` is the trailing mean over
    ``window`` steps (per run and term).
    """
    frames = []
    for run, curve in grpo_runs(profile_name):
        terms = [t for t in REWARD_TERMS if t in curve]
        long = curve.melt(id_vars="step", value_vars=terms, var_name="term").assign(run=run)
        long["smoothed"] = long.groupby("term")["value"].transform(lambda v: v.rolling(window, min_periods=1).mean())
        frames.append(long)
    return pd.concat(frames, ignore_index=True)[["run", "step", "term", "value", "smoothed"]]
