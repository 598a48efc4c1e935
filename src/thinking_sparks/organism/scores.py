"""What the zoo can do: pass@1 of its checkpoints on the three eval sets, and what they write.

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
into the premise checks; :func:`wide` pivots it to one row per run; :func:`checkpoint_accuracy`
follows one eval set along the checkpoints of some runs; :func:`example_completions` shows each
model's greedy answer to one problem; :func:`sanity_floor` is what a working evaluation of a
profile's zoo clears.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from thinking_sparks.evaluation.datasets import load_eval_set
from thinking_sparks.evaluation.generation import SamplingConfig, generate
from thinking_sparks.evaluation.grading import extract_answer, is_correct
from thinking_sparks.evaluation.harness import EvalParams, run_eval
from thinking_sparks.evaluation.sanity import SanityFloor
from thinking_sparks.models import load_model
from thinking_sparks.organism import config, task, zoo

log = logging.getLogger(__name__)

SETS = ("easy", "medium", "hard", "calibrated")
#: mode -> (soft switch appended to the question: see ``task.flagged``, ``enable_thinking`` for the template)
MODES = {"default": (None, None), "think": (True, None), "no_think": (False, False)}
SAMPLE_COLUMNS = ["model", "mode", "difficulty", "problem_id", "sample_index", "correct", "n_tokens", "finish_reason"]


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
    """``accuracy_table``'s frame and the samples behind it (:data:`SAMPLE_COLUMNS`)."""
    unknown = [s for s in sets if s not in task.EVAL_SETS]
    if unknown:
        raise ValueError(f"unknown eval sets {unknown}; choose from {', '.join(task.EVAL_SETS)}")
    bad_modes = [m for m in modes if m not in MODES]
    if bad_modes:
        raise ValueError(f"unknown modes {bad_modes}; choose from {', '.join(MODES)}")
    _check_n(n, hard_n)
    rows, samples = [], []
    for spec in specs:
        lm = load_model(spec, device=device)
        for mode in modes:
            think, enable_thinking = MODES[mode]
            for name in sets:
                k = _n_for(name, n, hard_n)
                problems = load_eval_set(f"organism/{name}", limit=limit)
                sampling = SamplingConfig(n=k, temperature=temperature, top_p=1.0, max_new_tokens=max_new_tokens,
                                          batch_size=256)
                params = EvalParams(dataset=f"organism/{name}", sampling=sampling, limit=limit, instruction=None,
                                    enable_thinking=enable_thinking)
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
    return pd.DataFrame(rows), pd.concat(samples, ignore_index=True)[SAMPLE_COLUMNS]


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
    name = zoo.default_profile(profile_name)
    tables, samples = [], []
    for run in config.family_table(name):  # the Qwen organism (the Llama family: page 08)
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


def sanity_floor(profile_name: str | None = None) -> SanityFloor:
    """The floors a working evaluation of this profile's zoo clears (see ``evaluation.sanity``).

    The full profile's teacher was measured at pass@1 ~0.97 on the easy set, so below 0.2 the
    evaluation, not the teacher, is broken. The tiny profile trains for seconds and may score 0 and
    loop: only the structural floors apply to it.
    """
    name = zoo.default_profile(profile_name)
    if name == "tiny":
        return SanityFloor(reference=None, min_accuracy=0.0, max_cut=1.0, min_any=0.0)
    return SanityFloor(reference=f"organism/{name}/teacher@final", difficulty="easy", min_accuracy=0.2,
                       max_cut=0.9, min_any=0.05)


def checkpoint_accuracy(runs: Sequence[str], profile_name: str | None = None, difficulty: str = "hard",
                        mode: str = "default", n: int = 4, limit: int | None = 100, temperature: float = 0.6,
                        progress: bool = False) -> pd.DataFrame:
    """pass@1 on one eval set at every checkpoint of ``runs``: ``run, step, pass@1``.

    Step 0 of a post-training run is its parent's final checkpoint (where it started).
    """
    name = zoo.default_profile(profile_name)
    table = config.profile(name)
    unknown = [r for r in runs if r not in table]
    if unknown:
        raise ValueError(f"unknown runs {unknown} in profile {name!r}; runs: {', '.join(table)}")
    rows = []
    for run in runs:
        for step, spec in checkpoint_specs(name, run):
            cell = accuracy_table([spec], modes=(mode,), n=n, temperature=temperature, limit=limit,
                                  progress=progress, sets=(difficulty,))
            rows.append({"run": run, "step": step, "pass@1": float(cell["pass@1"].iloc[0])})
    return pd.DataFrame(rows)


def checkpoint_specs(profile_name: str, run: str) -> list[tuple[int, str]]:
    """``(step, spec)`` of every checkpoint of ``run``; a post-training run starts (step 0) at its
    parent's final checkpoint."""
    table = config.profile(profile_name)
    steps = zoo.checkpoint_steps(zoo.run_dir(profile_name, run))
    specs = [(step, f"organism/{profile_name}/{run}@{step}") for step in steps]
    if table[run].parent and 0 not in steps:
        specs.insert(0, (0, f"organism/{profile_name}/{table[run].parent}@final"))
    return specs


def example_completions(specs: Sequence[str], difficulty: str = "hard", index: int = 0, mode: str = "default",
                        max_new_tokens: int = 128, device: str | None = "cpu") -> pd.DataFrame:
    """Each model's greedy completion of one eval problem: ``model, prompt, completion, extracted, gold, correct``."""
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
