"""What the zoo learned: accuracy of its checkpoints and its training curves.

:func:`accuracy_table` evaluates model specs (e.g. ``organism/sft@final``) on ``organism/easy``,
``organism/medium`` and ``organism/hard`` through the cached evaluation harness and returns a tidy
frame ``model, mode, difficulty, pass@1, ci_low, ci_high, n, n_samples, frac_cut, tok_s, seconds``
(95% CI over problems; ``n``: samples per problem, ``hard_n`` on the hard set when given;
``frac_cut``: share of samples cut at the token budget; ``tok_s``, ``seconds``: generation
throughput and time when the cell was computed); ``mode`` is ``default``,
``think`` (user turn ends in ``/think``) or ``no_think`` (``/no_think`` plus the template's empty
think block).
:func:`zoo_evaluation` is that table for the final checkpoint of every run (the closing table of the
organism) with the samples behind it, which :func:`thinking_sparks.organism.premises.claims` turns
into the premise checks; :func:`checkpoint_accuracy` follows one eval set along the checkpoints of
some runs, :func:`training_log` gathers the tidy logs and :func:`reward_summary` says whether GRPO's
reward rose.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

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


def _n_for(name: str, n: int, hard_n: int | None) -> int:
    """Samples per problem on eval set ``name``: ``hard_n`` on the hard set when given, else ``n``."""
    return hard_n if name == "hard" and hard_n is not None else n


def _check_n(n: int, hard_n: int | None) -> None:
    for what, value in (("n", n), ("hard_n", hard_n)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{what} (samples per problem) must be an integer >= 1, got {value!r}")


def _evaluate(specs: Sequence[str], modes: Sequence[str], n: int, hard_n: int | None, temperature: float,
              max_new_tokens: int, limit: int | None, device: str | None, progress: bool,
              sets: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``accuracy_table``'s frame and the samples behind it (``model, mode, difficulty, problem_id,
    sample_index, correct, n_tokens, finish_reason``)."""
    unknown = [s for s in sets if s not in SETS]
    if unknown:
        raise ValueError(f"unknown eval sets {unknown}; choose from {', '.join(SETS)}")
    bad_modes = [m for m in modes if m not in MODES]
    if bad_modes:
        raise ValueError(f"unknown modes {bad_modes}; choose from {', '.join(MODES)}")
    _check_n(n, hard_n)
    from thinking_sparks.evaluation.datasets import load_eval_set
    from thinking_sparks.evaluation.harness import EvalParams, run_eval
    from thinking_sparks.models import load_model
    from thinking_sparks.organism import task

    rows, samples = [], []
    for spec in specs:
        lm = load_model(spec, device=device)
        for mode in modes:
            think, enable_thinking = MODES[mode]
            for name in sets:
                k = _n_for(name, n, hard_n)
                problems = load_eval_set(f"organism/{name}", limit=limit)
                params = EvalParams(dataset=f"organism/{name}", n=k, temperature=temperature, top_p=1.0,
                                    max_new_tokens=max_new_tokens, batch_size=256, limit=limit,
                                    instruction=None, enable_thinking=enable_thinking)
                problems = [dataclasses.replace(p, question=task.flagged(p.question, think)) for p in problems]
                result = run_eval(lm, params, problems=problems, progress=progress)
                p1 = result.summary.get("pass", 1)
                cut = int(result.samples["finish_reason"].eq("length").sum())
                rows.append({"model": spec, "mode": mode, "difficulty": name, "pass@1": round(p1.value, 4),
                             "ci_low": round(p1.ci_low, 4), "ci_high": round(p1.ci_high, 4), "n": k,
                             "n_samples": k * len(problems), "frac_cut": round(cut / max(1, len(result.samples)), 4),
                             "tok_s": result.info.get("timing", {}).get("tokens_per_second"),
                             "seconds": result.info.get("timing", {}).get("seconds")})
                samples.append(result.samples[["problem_id", "sample_index", "correct", "n_tokens", "finish_reason"]]
                               .assign(model=spec, mode=mode, difficulty=name))
                log.info("%s [%s] %s: pass@1 %.3f (n=%d)", spec, mode, name, result.pass_at_1, k)
    columns = ["model", "mode", "difficulty", "problem_id", "sample_index", "correct", "n_tokens", "finish_reason"]
    return pd.DataFrame(rows), pd.concat(samples, ignore_index=True)[columns]


def accuracy_table(specs: Sequence[str], modes: Sequence[str] = ("default",), n: int = 4,
                   temperature: float = 0.6, max_new_tokens: int = 128, limit: int | None = None,
                   device: str | None = "cpu", progress: bool = False,
                   sets: Sequence[str] = SETS, hard_n: int | None = None) -> pd.DataFrame:
    """pass@1 (mean over the samples of each problem) per model, mode and eval set (each cell cached).

    ``n`` samples per problem on every set, or ``hard_n`` on the hard set when given (its
    low accuracies need more samples for differences to be decided).
    """
    return _evaluate(specs, modes, n, hard_n, temperature, max_new_tokens, limit, device, progress, sets)[0]


@dataclass
class ZooEvaluation:
    """The zoo's accuracy: the tidy table and every sampled answer behind it.

    Attributes:
        table: one row per run, mode and eval set: ``model, mode, difficulty, pass@1, ci_low,
            ci_high, n, n_samples, frac_cut, tok_s, seconds, run`` (``seconds``: generation time
            when the cell was computed).
        samples: one row per sampled answer: ``model, mode, difficulty, problem_id, sample_index,
            correct, n_tokens, finish_reason, run`` (what paired differences are computed from).
    """

    table: pd.DataFrame
    samples: pd.DataFrame


def zoo_evaluation(profile_name: str | None = None, n: int = 4, limit: int | None = None, temperature: float = 0.6,
                   progress: bool = False, hard_n: int | None = None) -> ZooEvaluation:
    """Base, the final checkpoint of every run and the hybrid run thinking and not (see :class:`ZooEvaluation`).

    ``organism/<profile>/<run>@final`` (teacher included) on the three eval sets, the hybrid run in
    the ``think`` and ``no_think`` modes and every other run in ``default``; ``n`` samples per problem
    (``hard_n`` on the hard set when given).
    """
    from thinking_sparks.organism import config

    name = _profile_name(profile_name)
    tables, samples = [], []
    for run in config.profile(name):
        spec = f"organism/{name}/{run}@final"
        modes = ("think", "no_think") if run == "hybrid" else ("default",)
        table, sampled = _evaluate([spec], modes, n, hard_n, temperature, 128, limit, "cpu", progress, SETS)
        tables.append(table.assign(run=run))
        samples.append(sampled.assign(run=run))
    return ZooEvaluation(pd.concat(tables, ignore_index=True), pd.concat(samples, ignore_index=True))


def zoo_table(profile_name: str | None = None, n: int = 4, limit: int | None = None, temperature: float = 0.6,
              progress: bool = False, hard_n: int | None = None) -> pd.DataFrame:
    """The closing table of the organism: :func:`zoo_evaluation`'s ``table``."""
    return zoo_evaluation(profile_name, n=n, limit=limit, temperature=temperature, progress=progress,
                          hard_n=hard_n).table


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


def n_parameters(profile_name: str | None, run: str) -> int:
    """Parameters stored in a run's final checkpoint (tied embeddings counted once)."""
    from safetensors import safe_open

    from thinking_sparks.organism import zoo

    path = zoo.resolve_checkpoint(f"organism/{_profile_name(profile_name)}/{run}@final") / "model.safetensors"
    with safe_open(str(path), "np") as f:
        return sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())


def shapes_sentence(profile_name: str | None = None) -> str:
    """The students' and the teacher's architecture in a sentence, from the profile's configs and
    the built checkpoints' parameter counts."""
    from thinking_sparks.organism import config

    name = _profile_name(profile_name)
    table = config.profile(name)
    s, t = table["base"].config.shape, table["teacher"].config.shape
    ps, pt = n_parameters(name, "base"), n_parameters(name, "teacher")
    head_dim = s.head_dim or s.d_model // s.n_heads
    share = table["teacher"].config.think_fraction
    reasons = "always reason" if share >= 1 else f"reason in {share:.0%} of its chat replies"
    return (f"The students — `base` and every run started from it — have {s.n_layers} layers of {s.n_heads} "
            f"query heads ({s.n_layers * s.n_heads} heads; {s.n_kv_heads} key/value heads per layer, head_dim "
            f"{head_dim}, d_model {s.d_model}, MLP width {s.d_ff}; {ps / 1e6:.2f}M parameters). The teacher has "
            f"{t.n_layers} layers of {t.n_heads} heads at d_model {t.d_model} (MLP width {t.d_ff}; {pt / 1e6:.2f}M "
            f"parameters, {pt / ps:.1f} times the students') and is pretrained to {reasons}.")


def runs_table(profile_name: str | None = None) -> pd.DataFrame:
    """One row per run of the profile: recipe, parent, shape, parameters, checkpoints, wall and CPU
    seconds of its build."""
    import json

    from thinking_sparks.organism import zoo

    name = _profile_name(profile_name)
    rows = []
    for r in zoo.list_runs(name):
        meta = json.loads((r.path / "run.json").read_text()) if (r.path / "run.json").exists() else {}
        rows.append({"run": r.name, "recipe": r.kind, "starts from": r.parent or "scratch",
                     "shape": run_shape(name, r.name),
                     "parameters": n_parameters(name, r.name) if r.built else None, "checkpoints": len(r.steps),
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
