"""Page ``02_organism``: the synthetic task, the post-training runs, their curves and accuracy, the premises.

:class:`Params` is the notebook's parameters cell; :func:`run` composes the organism's rooms
(``organism.shapes``, ``organism.curves``, ``organism.scores``) into a :class:`Result`, cached by the
parameters and the fingerprints of every checkpoint it reads; :func:`verdicts` turns it into the
premise checks (``organism.premises.claims``), or none when the evaluation looks broken.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import pandas as pd
import torch

from thinking_sparks.cache import cached
from thinking_sparks.emergence.device import analysis_dtype, use_device
from thinking_sparks.evaluation.sanity import sanity_problems
from thinking_sparks.models import fingerprint, load_model, resolve_spec
from thinking_sparks.organism import config, curves, levels, premises, scores, task, zoo
from thinking_sparks.organism.premises import HARD_N
from thinking_sparks.organism.scores import SETS, ZooEvaluation
from thinking_sparks.organism.shapes import ZooShapes, runs_table, zoo_shapes
from thinking_sparks.pages.params import _check_positive, _check_runs
from thinking_sparks.plan import PLAN
from thinking_sparks.power import with_n_to_decide
from thinking_sparks.verdicts import verdict_table

#: the runs whose greedy completion of the first hard problem the page shows
WRITERS = ("base", "sft", "grpo-hard", "distill", "teacher")


@dataclass
class Params:
    """Parameters of ``02_organism``: the model organism zoo, its training curves and accuracy.

    Attributes:
        profile: zoo profile (``full``: the book's; ``tiny``: seconds, for tests).
        build: build missing runs first (``sparks zoo build``); False fails on an unbuilt run.
        jobs: runs trained in parallel when building.
        n: samples per problem for pass@1 on the easy and medium sets (``plan.PLAN.sizes.premise_k``).
        hard_n: samples per problem on the hard set of the closing table, where the premise checks
            are decided (``organism.premises.HARD_N``, the plan's ``sizes.premise_k``).
        limit: first problems of each eval set (None: all, the plan's ``sizes.*_size``).
        temperature: sampling temperature (the paper's 0.6).
        curve_runs: runs whose every checkpoint is evaluated on ``curve_difficulty``.
        curve_difficulty: ``easy``, ``medium`` or ``hard``.
        curve_n, curve_limit: samples per problem and first problems of the checkpoint curves
            (the plan's ``sizes.curve_k`` and ``sizes.curve_problems``).
        device, threads: as everywhere.
    """

    profile: str = "full"
    build: bool = True
    jobs: int = 2
    n: int = PLAN.sizes.premise_k
    hard_n: int = HARD_N
    limit: int | None = None
    temperature: float = 0.6
    curve_runs: list[str] = field(default_factory=lambda: ["sft", "distill", "grpo-hard"])
    curve_difficulty: str = "hard"
    curve_n: int = PLAN.sizes.curve_k
    curve_limit: int | None = PLAN.sizes.curve_problems
    device: str = "cpu"
    threads: int = 0

    def __post_init__(self):
        _check_runs(self.profile, list(self.curve_runs), "curve_runs")
        _check_positive(self, "n", "hard_n", "curve_n", optional=("limit", "curve_limit"))
        if not 0 <= float(self.temperature) <= 2:
            raise ValueError(f"temperature must lie in [0, 2], got {self.temperature!r}")
        if self.curve_difficulty not in SETS:
            raise ValueError(f"curve_difficulty must be one of {', '.join(SETS)}, got {self.curve_difficulty!r}")


@dataclass
class Result:
    """Everything ``02_organism`` shows.

    Attributes:
        examples: one eval problem per level: ``level, difficulty, question, worked solution, answer``.
        hybrid_prompt: the first hard problem as the hybrid model receives it asked to think, followed
            by the worked reply its training data teaches.
        shapes: the students' and the teacher's shapes (``shapes.sentence()``).
        runs: one row per run (``organism.shapes.runs_table``).
        loss: the supervised runs' loss, binned to at most 200 points per run: ``run, kind, step, value``.
        grpo_curves: GRPO reward terms per step with a trailing mean over 10 steps:
            ``run, step, term, value, smoothed``.
        rewards: GRPO's reward terms over the first and last 25 steps (``curves.reward_summary``).
        evaluation: pass@1 of every run's final checkpoint and the samples behind it.
        wide: ``evaluation.table`` as one row per run and mode, cells ``"pass@1 [ci_low, ci_high]"``.
        sanity_problems: why the evaluation looks broken (empty when it looks sane).
        along: pass@1 on ``curve_difficulty`` at every checkpoint of ``curve_runs``: ``run, step, pass@1``.
        completions: each writer's greedy completion of the first hard problem
            (``model, prompt, completion, extracted, gold, correct``).
        threads: torch threads when it was computed.
        seconds: compute time when it was computed.
    """

    examples: pd.DataFrame
    hybrid_prompt: str
    shapes: ZooShapes
    runs: pd.DataFrame
    loss: pd.DataFrame
    grpo_curves: pd.DataFrame
    rewards: pd.DataFrame
    evaluation: ZooEvaluation
    wide: pd.DataFrame
    sanity_problems: list[str]
    along: pd.DataFrame
    completions: pd.DataFrame
    threads: int
    seconds: float

    def bars(self) -> pd.DataFrame:
        """``evaluation.table`` with a ``model`` label per run and mode (``hybrid (think)``)."""
        table = self.evaluation.table
        return table.assign(model=table.run + table["mode"].map(lambda m: "" if m == "default" else f" ({m})"))

    def by_level(self) -> pd.DataFrame:
        """pass@1 per difficulty level of every model, with Wilson 95 % intervals, from the evaluation's
        samples (``organism.levels.by_level``; one row per model and level)."""
        return levels.by_level(self.evaluation.samples)

    def standing(self) -> list[str]:
        """One sentence per compared pair: the levels where both sit within the plan's band
        (``plan.PLAN.levels.band``), where a difference between them can show."""
        return levels.standing(self.by_level())


def run(params: Params) -> Result:
    """Build what is missing of the zoo (when ``params.build``), then the page's results (cached)."""
    use_device(params.device)
    if params.build:  # trains what is missing in worker processes; their output goes to log files
        zoo.build(params.profile, runs=list(config.family_table(params.profile)), jobs=params.jobs, quiet=True)
    return _compute(params, zoo_fingerprints(params.profile, params.curve_runs), analysis_dtype())


def zoo_fingerprints(profile_name: str, curve_runs: list[str]) -> dict[str, dict[str, str]]:
    """Run -> ``{"final": weights fingerprint, "log": sha256 of log.csv}``, plus ``"<step>"`` for every
    checkpoint of ``curve_runs`` (what the page's numbers are computed from).

    Raises:
        ModelNotFound: a run is not built (build it, or pass ``build=True``).
    """
    out = {}
    for run in config.family_table(profile_name):  # the Qwen organism (the Llama family: page 08)
        specs = [("final", f"organism/{profile_name}/{run}@final")]
        if run in curve_runs:
            specs += [(str(step), spec) for step, spec in scores.checkpoint_specs(profile_name, run)]
        out[run] = {name: fingerprint(resolve_spec(spec)) for name, spec in specs}
        log_csv = zoo.run_dir(profile_name, run) / "log.csv"
        out[run]["log"] = hashlib.sha256(log_csv.read_bytes()).hexdigest()[:16] if log_csv.exists() else ""
    return out


def _key(params: Params, models: dict, dtype: str | None) -> dict:
    numbers = {k: getattr(params, k) for k in ("profile", "n", "hard_n", "limit", "temperature", "curve_runs",
                                               "curve_difficulty", "curve_n", "curve_limit")}
    return {"params": numbers, "models": models, "dtype": dtype}


@cached("page-organism", key=_key)
def _compute(params: Params, models: dict, dtype: str | None) -> Result:
    t0 = time.perf_counter()
    profile = params.profile
    loss = curves.loss_curves(profile, "loss", points=200)
    evaluation = scores.zoo_evaluation(profile, n=params.n, hard_n=params.hard_n, limit=params.limit,
                                       temperature=params.temperature)
    along = scores.checkpoint_accuracy(params.curve_runs, profile, difficulty=params.curve_difficulty,
                                       n=params.curve_n, limit=params.curve_limit, temperature=params.temperature)
    writers = [f"organism/{profile}/{r}@final" for r in WRITERS]
    return Result(
        examples=example_problems(), hybrid_prompt=hybrid_prompt(profile, params.device),
        shapes=zoo_shapes(profile), runs=runs_table(profile),
        loss=loss[loss.kind != "grpo"].reset_index(drop=True),
        grpo_curves=curves.grpo_curves(profile, window=10), rewards=curves.reward_summary(profile, window=25),
        evaluation=evaluation, wide=scores.wide(evaluation.table, with_ci=True),
        sanity_problems=sanity_problems(evaluation.table, scores.sanity_floor(profile)), along=along,
        completions=scores.example_completions(writers, difficulty="hard", device=params.device),
        threads=torch.get_num_threads(), seconds=round(time.perf_counter() - t0, 1))


def example_problems() -> pd.DataFrame:
    """The first eval problem of every level: ``level, difficulty, question, worked solution, answer``."""
    return pd.DataFrame([
        {"level": p.level, "difficulty": task.difficulty_of(p.level), "question": p.question,
         "worked solution": p.solution, "answer": p.answer}
        for level in sorted(task.LEVELS) for p in task.make_problems(1, [level], seed=0, split="eval")
    ])


def hybrid_prompt(profile_name: str, device: str) -> str:
    """The first hard eval problem as ``hybrid`` receives it asked to think (``/think``), followed by
    the worked reply its training data teaches."""
    hard = task.eval_set("hard")[0]
    hybrid = load_model(f"organism/{profile_name}/hybrid@final", device=device)
    return hybrid.chat(task.flagged(hard["question"], think=True)) + task.think_reply(hard["solution"], hard["answer"])


def verdicts(result: Result) -> pd.DataFrame:
    """The premise checks (``organism.premises.claims``) on the zoo's samples and GRPO's rewards, with
    ``n_to_decide`` (``thinking_sparks.power``: the problems at which an inconclusive row's interval
    would exclude its bound); an empty verdict table when the evaluation looks broken (no
    conclusions from broken numbers)."""
    if result.sanity_problems:
        return verdict_table([])
    table = premises.claims(result.evaluation.samples, result.rewards, difficulty=PLAN.levels.premise_set)
    return with_n_to_decide(table, sample_sizes(table, result.evaluation.samples))


def sample_sizes(table: pd.DataFrame, samples: pd.DataFrame) -> list[int | None]:
    """Per verdict row, the problems behind its interval (the paired bootstrap resamples problems):
    those of the eval set its statistic names (``hard pass@1, ...``); None for rows of other kinds."""
    problems = samples.groupby("difficulty")["problem_id"].nunique().to_dict()
    return [problems.get(str(s).split(" ")[0]) if " pass@1" in str(s) else None for s in table["statistic"]]
