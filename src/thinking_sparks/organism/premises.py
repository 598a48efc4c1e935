"""The organism's premises, checked with paired confidence intervals.

Before the organism's heads are worth studying, its runs must behave as the paper's do: SFT and
distillation raise hard-set accuracy over base, GRPO's accuracy reward rises, the hybrid model does
better thinking than not, and the teacher is the strongest model. :func:`claims` turns the zoo's
evaluation (:func:`thinking_sparks.organism.scores.zoo_evaluation`) and GRPO's reward summary
(:func:`~thinking_sparks.organism.curves.reward_summary`) into a verdict table
(:mod:`thinking_sparks.verdicts`).

Every accuracy check is a *paired* difference (:func:`~thinking_sparks.evaluation.metrics.paired_difference`):
both models answer the same eval problems with the same sampling seeds, so the difference is taken
problem by problem and the bootstrap (``scipy.stats.bootstrap``, BCa) resamples problems. Every row
tests the paper's direction against 0 (the paper's numbers are quoted in the row's ``statistic``);
no row is decided by a point estimate, and the teacher is compared with every other model, not
with the one whose point estimate is closest. At hard-set pass@1 of a few percent most of the spread
between two models is which problems are hard, shared by both; two separate intervals
(non-overlap of two 95% CIs) carry that spread twice and stay undecided where the paired interval
is not.

The hybrid's thinking is also checked on the other eval sets: on the hard set a student's worked
chain succeeds only when each of its four or five steps does, and at the students' size a single
step of a hard problem is often wrong, so thinking gains little there over a direct answer; the
easier sets show whether the mode switch itself works.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from thinking_sparks.evaluation.metrics import paired_difference
from thinking_sparks.organism.config import FIGURE_RUNS
from thinking_sparks.plan import PLAN
from thinking_sparks.verdicts import Verdict, verdict_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["HARD_N", "SAMPLE_COLUMNS", "cell", "claims", "difference"]

#: samples per hard problem of the zoo's premise checks: the analysis plan's (``plan.PLAN.sizes.premise_k``,
#: with the set's problems ``sizes.hard_size`` from the power calculation of ``thinking_sparks.power``)
HARD_N = PLAN.sizes.premise_k

#: columns of the samples frame that :func:`claims` reads (one row per sampled answer)
SAMPLE_COLUMNS = ("run", "mode", "difficulty", "problem_id", "sample_index", "correct")
_CI_RULE = "paired 95% CI of the difference (BCa bootstrap over problems) above 0"
#: the paper's numbers behind each premise (quoted in the rows' statistic)
PAPER = {
    "sft": "paper: SFT heads x1.3 raise MATH 56.0 -> 58.2 (Table 5); no SFT-model score is given",
    "distill": "paper: AIME'24 30.0 (R1-Distill-1.5B, Table 1) vs 13.3 (Qwen2.5-Math-1.5B, Table 4)",
    "think": "paper: Qwen3-8B AIME'24 80.0 think on vs 30.0 think off (Table 2)",
    "grpo": "paper: GSM8K GRPO AIME'24 13.3 -> about 20, MATH 56 -> about 67 at 100-200 steps (Fig 4)",
    "teacher": "paper: R1 distils its reasoning into the students; no teacher score is given",
}


def _check_columns(samples: pd.DataFrame) -> None:
    missing = set(SAMPLE_COLUMNS) - set(samples.columns)
    if missing:
        raise ValueError(f"samples frame lacks columns {sorted(missing)}")


def cell(samples: pd.DataFrame, run: str, mode: str = "default", difficulty: str = "hard") -> pd.DataFrame:
    """The samples of one evaluation cell (``run``, ``mode``, eval set); empty when not evaluated."""
    _check_columns(samples)
    keep = (samples["run"] == run) & (samples["mode"] == mode) & (samples["difficulty"] == difficulty)
    return samples[keep]


def difference(samples: pd.DataFrame, a: tuple[str, str], b: tuple[str, str], difficulty: str = "hard",
               metric: str = "pass@1", n_boot: int | None = None, seed: int | None = None) -> tuple[float, float, float] | None:
    """``metric(a) - metric(b)`` on one eval set, paired by problem, with its 95% bootstrap CI.

    Args:
        samples: one row per sampled answer (:data:`SAMPLE_COLUMNS`).
        a, b: ``(run, mode)`` of the two cells.
        metric: ``pass@k`` (k at most the samples per problem of both cells).

    Returns ``(difference, ci_low, ci_high)``, or None when either cell was not evaluated.
    """
    sa, sb = cell(samples, *a, difficulty), cell(samples, *b, difficulty)
    if sa.empty or sb.empty:
        return None
    return paired_difference(sa, sb, metric=metric, n_boot=n_boot, seed=seed)


def _samples_per_problem(samples: pd.DataFrame, difficulty: str) -> int:
    part = samples[samples["difficulty"] == difficulty]
    return int(part.groupby(["run", "mode", "problem_id"]).size().min()) if len(part) else 0


def claims(samples: pd.DataFrame, rewards: pd.DataFrame, difficulty: str = "hard", n_boot: int | None = None,
           seed: int | None = None) -> pd.DataFrame:
    """The organism's premise checks as a verdict table (``claim, paper, statistic, value, ci_low,
    ci_high, criterion, verdict``).

    A check is ``reproduced`` when its interval lies above 0, ``not reproduced`` when it lies at or
    below 0, else ``inconclusive``. Accuracy checks use :func:`difference` (paired by problem); the
    GRPO reward rise uses :func:`~thinking_sparks.organism.curves.reward_summary`'s bootstrap
    interval of the change. Checks whose cells were not evaluated are left out; a check whose
    subject was evaluated (e.g. ``sft``) but not its reference (``base``) is an ``inconclusive`` row
    that says so.

    Args:
        samples: one row per sampled answer (:data:`SAMPLE_COLUMNS`), e.g. ``zoo_evaluation(...).samples``.
        rewards: ``reward_summary``'s frame (``run, term, window, change, ci_low, ci_high``).
        difficulty: the eval set of the accuracy checks (the paper's premises are about hard problems).
    """
    _check_columns(samples)
    k = _samples_per_problem(samples, difficulty)
    rows = []
    nan = float("nan")

    def diff(a, b):
        return difference(samples, a, b, difficulty, n_boot=n_boot, seed=seed)

    def add(claim, paper, a, b, what, quote):
        d = diff(a, b)
        statistic = f"{difficulty} pass@1, {what} (n={k}; {quote})"
        if d is not None:
            rows.append(Verdict(claim, paper, statistic, *d, criterion=_CI_RULE))
            return
        if not cell(samples, *a, difficulty).empty:  # the subject evaluated, its reference not: said so
            rows.append(Verdict(claim, paper, statistic, nan, nan, nan,
                                criterion=f"{_CI_RULE}; {' '.join(b)} was not evaluated"))

    for run, what, paper in (("sft", "SFT", "§2 premise; Table 5"), ("distill", "distillation", "§2 premise; Tables 1, 4")):
        add(f"{what} raises {difficulty}-set pass@1 over base", paper, (run, "default"),
            ("base", "default"), f"{run} minus base", PAPER[run])
    add(f"thinking on beats thinking off on the {difficulty} set", "§6, Table 2", ("hybrid", "think"),
        ("hybrid", "no_think"), "hybrid think minus no_think", PAPER["think"])
    for other in [s for s in dict.fromkeys(samples["difficulty"]) if s != difficulty]:
        # the same check where the students' single steps are reliable (see the module docstring)
        d = difference(samples, ("hybrid", "think"), ("hybrid", "no_think"), other, n_boot=n_boot, seed=seed)
        if d is not None:
            rows.append(Verdict(f"thinking on beats thinking off on the {other} set", "§6, Table 2",
                                f"{other} pass@1, hybrid think minus no_think "
                                f"(n={_samples_per_problem(samples, other)}; {PAPER['think']})", *d,
                                criterion=_CI_RULE))
    rows.extend(_teacher_row(samples, difficulty, k, diff))
    for row in rewards[(rewards.term == "accuracy") & ~rewards.run.isin(FIGURE_RUNS)].itertuples() if len(rewards) else []:
        rows.append(Verdict(f"GRPO accuracy reward rises ({row.run})", "§5.4, Fig 3B",
                            f"mean accuracy reward, last {row.window} minus first {row.window} steps "
                            "(paper: the reward curve rises, Fig 3B; no number)",
                            row.change, row.ci_low, row.ci_high,
                            criterion="95% CI of the change (BCa bootstrap of the two windows) above 0"))
    for run in dict.fromkeys(samples["run"]):
        if run in ("base", "teacher", "hybrid", *FIGURE_RUNS) or run.startswith(("sft", "distill")):
            continue
        add(f"{run} raises {difficulty}-set pass@1 over base", "§2 premise; Fig 4", (run, "default"),
            ("base", "default"), f"{run} minus base", PAPER["grpo"])
    return verdict_table(rows)


def _teacher_row(samples: pd.DataFrame, difficulty: str, k: int, diff) -> list:
    """The teacher against every other model evaluated. The claim is about all of them, so the row shows
    the comparison that decides it: one that is ``not reproduced`` if any (a model at least as strong
    refutes it), else the one with the lowest ``ci_low`` (NaN first: reproduced only if every interval
    lies above 0). None if the teacher or no other model was evaluated; no comparison is picked by a
    point estimate."""
    part = samples[samples["difficulty"] == difficulty]
    if part.empty or not (part["run"] == "teacher").any():
        return []
    others = [c for c in dict.fromkeys(zip(part["run"], part["mode"])) if c[0] != "teacher"]
    found = [(c, d) for c in others if (d := diff(("teacher", "default"), c)) is not None]
    rows = []
    for (run, mode), d in found:
        who = run if mode == "default" else f"{run} {mode}"
        rows.append(Verdict(f"the teacher is the strongest model on the {difficulty} set", "§2 (R1 as teacher)",
                            f"{difficulty} pass@1, teacher minus {who}, the deciding one of {len(found)} other "
                            f"models (n={k}; {PAPER['teacher']})", *d, criterion=_CI_RULE + " for every other model"))
    refuted = [r for r in rows if r.verdict == "not reproduced"]
    if refuted:
        return refuted[:1]
    return [min(rows, key=lambda r: float("-inf") if math.isnan(r.ci_low) else r.ci_low)] if rows else []
