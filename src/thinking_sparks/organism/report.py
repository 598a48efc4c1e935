"""What the zoo learned: accuracy of its checkpoints and its training curves.

:func:`accuracy_table` evaluates model specs (e.g. ``organism/sft@final``) on ``organism/easy``,
``organism/medium`` and ``organism/hard`` through the cached evaluation harness and returns a tidy
frame ``model, mode, difficulty, pass@1, ci_low, ci_high, n_samples, frac_cut, tok_s`` (95% CI
over problems; ``frac_cut``: share of samples cut at the token budget; ``tok_s``: generation
throughput when the cell was computed); ``mode`` is ``default``,
``think`` (user turn ends in ``/think``) or ``no_think`` (``/no_think`` plus the template's empty
think block).
:func:`zoo_table` is that table for the final checkpoint of every run (the closing table of the
organism), :func:`checkpoint_accuracy` follows one eval set along the checkpoints of some runs,
:func:`training_log` gathers the tidy logs, :func:`reward_summary` says whether GRPO's reward rose and
:func:`claims` turns all of it into a verdict table (:mod:`thinking_sparks.verdicts`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
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
    bad_modes = [m for m in modes if m not in MODES]
    if bad_modes:
        raise ValueError(f"unknown modes {bad_modes}; choose from {', '.join(MODES)}")
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
                cut = int(result.samples["finish_reason"].eq("length").sum())
                rows.append({"model": spec, "mode": mode, "difficulty": name, "pass@1": round(p1.value, 4),
                             "ci_low": round(p1.ci_low, 4), "ci_high": round(p1.ci_high, 4),
                             "n_samples": n * len(problems), "frac_cut": round(cut / max(1, len(result.samples)), 4),
                             "tok_s": result.info.get("timing", {}).get("tokens_per_second")})
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


def sanity_floor(profile_name: str | None = None):
    """The floors a working evaluation of this profile's zoo clears (see ``evaluation.sanity``).

    The full profile's teacher was measured at pass@1 ~0.97 on the easy set, so below 0.2 the
    evaluation, not the teacher, is broken. The tiny profile trains for seconds and may score 0 and
    loop: only the structural floors apply to it.
    """
    from thinking_sparks.evaluation.sanity import SanityFloor

    name = _profile_name(profile_name)
    reference = f"organism/{name}/teacher@final"
    if name == "tiny":
        return SanityFloor(reference=None, min_accuracy=0.0, max_cut=1.0, min_any=0.0)
    return SanityFloor(reference=reference, difficulty="easy", min_accuracy=0.2, max_cut=0.9, min_any=0.05)


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

    Returns one row per (run, term) with ``first``, ``last``, ``change = last - first`` and
    ``ci_low``/``ci_high``: a 95% normal-approximation interval of the change (the per-step values of
    each window as independent draws; NaN when a window has a single step).
    """
    rows = []
    for run, curve in _grpo_runs(profile_name):
        w = max(1, min(window, len(curve) // 2))
        for term in ("reward", "accuracy", "format"):
            if term in curve:
                head, tail = curve[term].head(w), curve[term].tail(w)
                first, last = head.mean(), tail.mean()
                se = math.sqrt(head.var(ddof=1) / len(head) + tail.var(ddof=1) / len(tail)) if w > 1 else math.nan
                rows.append({"run": run, "term": term, "steps": len(curve), "window": w,
                             "first": round(first, 4), "last": round(last, 4), "change": round(last - first, 4),
                             "ci_low": round(last - first - 1.96 * se, 4),
                             "ci_high": round(last - first + 1.96 * se, 4)})
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
    unknown = [r for r in runs if r not in table]
    if unknown:
        raise ValueError(f"unknown runs {unknown} in profile {name!r}; runs: {', '.join(table)}")
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


def _difference(table: pd.DataFrame, a: tuple[str, str], b: tuple[str, str], difficulty: str = "hard"):
    """``pass@1(a) - pass@1(b)`` on one set and a conservative interval for it, or None.

    The interval runs from ``ci_low(a) - ci_high(b)`` to ``ci_high(a) - ci_low(b)``: it lies above 0
    exactly when the two 95% bootstrap intervals do not overlap (coverage >= 90% for independent
    samples; wider than a paired bootstrap, so it errs towards "inconclusive").
    """
    rows = table.set_index(["run", "mode", "difficulty"])
    if (*a, difficulty) not in rows.index or (*b, difficulty) not in rows.index:
        return None
    ra, rb = rows.loc[(*a, difficulty)], rows.loc[(*b, difficulty)]
    return (float(ra["pass@1"] - rb["pass@1"]), float(ra["ci_low"] - rb["ci_high"]),
            float(ra["ci_high"] - rb["ci_low"]))


def claims(table: pd.DataFrame, rewards: pd.DataFrame) -> pd.DataFrame:
    """The organism's checks against the paper's premises as a verdict table
    (:func:`thinking_sparks.verdicts.verdict_table`: ``claim, paper, statistic, value, ci_low,
    ci_high, criterion, verdict``).

    A check is ``reproduced`` only when its interval lies above 0, ``not reproduced`` when it lies
    at or below 0, else ``inconclusive``: accuracy differences use :func:`_difference`'s interval,
    the GRPO reward rise the normal-approximation interval of :func:`reward_summary`.

    Args:
        table: :func:`zoo_table`'s frame (with ``ci_low``, ``ci_high``).
        rewards: :func:`reward_summary`'s frame (with ``ci_low``, ``ci_high`` of ``change``).
    """
    from thinking_sparks.verdicts import Verdict, verdict_table

    rows = []
    ci_rule = "CI of the difference above 0 (the two 95% CIs do not overlap)"
    for run, what in (("sft", "SFT"), ("distill", "distillation")):
        diff = _difference(table, (run, "default"), ("base", "default"))
        if diff is not None:
            rows.append(Verdict(f"{what} raises hard-set pass@1 over base", "§2 premise; Table 1",
                                f"hard pass@1, {run} minus base", *diff, criterion=ci_rule))
    diff = _difference(table, ("hybrid", "think"), ("hybrid", "no_think"))
    if diff is not None:
        rows.append(Verdict("thinking on beats thinking off on the hard set", "§6, Table 2",
                            "hard pass@1, hybrid think minus no_think", *diff, criterion=ci_rule))
    for row in rewards[rewards.term == "accuracy"].itertuples() if len(rewards) else []:
        rows.append(Verdict(f"GRPO accuracy reward rises ({row.run})", "§5.4, Fig 3B",
                            f"mean accuracy reward, last {row.window} minus first {row.window} steps",
                            row.change, row.ci_low, row.ci_high,
                            criterion="95% CI of the change above 0 (normal approximation)"))
    for run in table.run.unique():
        if run in ("base", "teacher", "hybrid") or run.startswith(("sft", "distill")):
            continue
        diff = _difference(table, (run, "default"), ("base", "default"))
        if diff is not None:
            rows.append(Verdict(f"{run} raises hard-set pass@1 over base", "§2 premise; Fig 4",
                                f"hard pass@1, {run} minus base", *diff, criterion=ci_rule))
    return verdict_table(rows)
