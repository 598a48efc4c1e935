"""Where each model stands per difficulty level: a pilot that calibrates the eval and circuit sets.

A comparison of two models' pass@1 can only show a difference where neither sits at the floor or
the ceiling. :func:`pilot` measures pass@1 per difficulty level (``task.LEVELS``) for the final
checkpoint of every run of a zoo profile (the hybrid thinking and not) on *pilot* problems: drawn
from the eval split with their own seed (``plan.PLAN.levels.pilot_seed``), every problem that a
benchmark-role set (easy, medium, hard) holds skipped, and a set chosen from the pilot
(``calibrated``) skips the pilot's problems in turn, so the levels are chosen on problems no verdict
is computed from.
Each cell carries a binomial 95 % Wilson score interval over its ``problems x samples`` answers
(:func:`wilson`: the closed form of ``scipy.stats.binomtest(...).proportion_ci(method="wilson")``;
scipy is not a dependency of this project), and the share of problems whose first sampled answer
differs from the base's (what a circuit pair needs: coinciding answer prefixes are dropped).

:func:`choose_levels` reads a pilot table: among the contiguous level ranges it picks the one whose
mix (levels in equal shares, as ``task.make_problems`` cycles them) puts the most compared models
inside the band, ties broken by the widest margin to the band's edges; :class:`LevelChoice` says
which models stay out and why.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import pandas as pd

from thinking_sparks.evaluation.datasets import Problem as EvalProblem
from thinking_sparks.evaluation.generation import SamplingConfig
from thinking_sparks.evaluation.harness import EvalParams, run_eval
from thinking_sparks.models import load_model
from thinking_sparks.organism import config, task, zoo
from thinking_sparks.organism.scores import MODES
from thinking_sparks.plan import PLAN

log = logging.getLogger(__name__)

__all__ = ["PAIRS", "PILOT_COLUMNS", "LevelChoice", "by_level", "choose_circuit_levels", "choose_levels", "fixed_expressions", "pilot", "pilot_problems",
           "standing", "wide", "wilson"]

#: columns of :func:`pilot`'s frame
PILOT_COLUMNS = ["run", "mode", "model", "level", "pass@1", "ci_low", "ci_high", "correct", "n_answers",
                 "n_problems", "k", "distinct_from_base"]


#: the compared pairs whose standing :func:`standing` states (model labels as in the pilot's ``model``)
PAIRS = (("sft", "base"), ("distill", "base"), ("grpo-easy", "base"), ("grpo-hard", "base"),
         ("grpo-hard-lr", "base"), ("hybrid (think)", "hybrid (no_think)"), ("teacher", "distill"))

def fixed_expressions() -> set[str]:
    """The expressions of the benchmark-role sets (``task.ROLE_SETS``): what the pilot must not use.
    (A set chosen from the pilot, e.g. ``calibrated``, in turn avoids the pilot's problems.)"""
    return task.role_expressions()


def pilot_problems(level: int, n: int, seed: int, exclude: set[str] | None = None) -> list[task.Problem]:
    """``task.pilot_problems``, saying when a level's eval split ran out."""
    out = task.pilot_problems(level, n, seed, exclude)
    if len(out) < n:
        log.info("level %d: only %d pilot problems outside the fixed sets (asked %d)", level, len(out), n)
    return out


def wilson(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """``(proportion, low, high)``: the Wilson score interval of ``correct`` successes in ``total`` trials
    (what ``scipy.stats.binomtest(correct, total).proportion_ci(confidence, "wilson")`` returns)."""
    if total < 1 or not 0 <= correct <= total:
        raise ValueError(f"need 0 <= correct <= total and total >= 1, got {correct}/{total}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return p, max(0.0, centre - half), min(1.0, centre + half)


def pilot(profile_name: str | None = None, levels: Sequence[int] | None = None, n_problems: int | None = None,
          k: int | None = None, seed: int | None = None, temperature: float = 0.6, max_new_tokens: int = 128,
          runs: Sequence[str] | None = None, device: str | None = "cpu", progress: bool = False) -> pd.DataFrame:
    """pass@1 per level of every final model of a profile (:data:`PILOT_COLUMNS`, one row per model and level).

    Args:
        levels: difficulty levels (default: all of ``task.LEVELS``).
        n_problems, k, seed: problems per level, samples per problem, the problems' seed (default:
            ``plan.PLAN.levels``' ``pilot_problems``, ``pilot_samples``, ``pilot_seed``).
        runs: only these runs (default: every run of the profile; ``base`` is needed for
            ``distinct_from_base``, NaN without it).

    Every cell goes through the cached evaluation harness (one cache entry per model, mode and level).
    ``distinct_from_base``: share of the level's problems whose first sampled answer differs from the
    base's first (the same problems and sampling seed), i.e. that would give a circuit pair.
    """
    plan = PLAN.levels
    name = zoo.default_profile(profile_name)
    levels = tuple(levels or sorted(task.LEVELS))
    n_problems, k = n_problems or plan.pilot_problems, k or plan.pilot_samples
    seed = plan.pilot_seed if seed is None else seed
    table = config.profile(name)
    runs = list(runs or config.family_table(name))
    unknown = [r for r in runs if r not in table]
    if unknown:
        raise ValueError(f"unknown runs {unknown} in profile {name!r}; runs: {', '.join(table)}")
    exclude = fixed_expressions()
    problems = {lv: pilot_problems(lv, n_problems, seed, exclude) for lv in levels}
    empty = [lv for lv in levels if not problems[lv]]
    if empty:  # the enlarged eval sets (plan.PLAN.sizes) hold every problem of these levels
        log.warning("levels %s: no pilot problems left outside the fixed sets; skipped", empty)
        levels = tuple(lv for lv in levels if problems[lv])
    rows, firsts = [], {}
    for run in runs:
        lm = load_model(f"organism/{name}/{run}@final", device=device)
        for mode in ("think", "no_think") if run == "hybrid" else ("default",):
            think, enable_thinking = MODES[mode]
            for lv in levels:
                asked = [EvalProblem(id=p.id, question=task.flagged(p.question, think), answer=str(p.answer),
                                     difficulty=f"L{lv}") for p in problems[lv]]
                sampling = SamplingConfig(n=k, temperature=temperature, top_p=1.0, max_new_tokens=max_new_tokens,
                                          batch_size=256)
                params = EvalParams(dataset=f"organism/pilot-{seed}-L{lv}", sampling=sampling,
                                    enable_thinking=enable_thinking)
                samples = run_eval(lm, params, problems=asked, progress=progress).samples
                correct, total = int(samples["correct"].sum()), len(samples)
                p1, lo, hi = wilson(correct, total, PLAN.stats.confidence)
                firsts[(run, mode, lv)] = samples[samples.sample_index == 0].set_index("problem_id")["completion"]
                rows.append({"run": run, "mode": mode, "model": run if mode == "default" else f"{run} ({mode})",
                             "level": lv, "pass@1": p1, "ci_low": lo, "ci_high": hi, "correct": correct,
                             "n_answers": total, "n_problems": len(asked), "k": k})
                log.info("pilot %s [%s] level %d: pass@1 %.3f [%.3f, %.3f]", run, mode, lv, p1, lo, hi)
    for row in rows:
        base = firsts.get(("base", "default", row["level"]))
        own = firsts[(row["run"], row["mode"], row["level"])]
        row["distinct_from_base"] = float((own != base.reindex(own.index)).mean()) if base is not None else float("nan")
    return pd.DataFrame(rows, columns=PILOT_COLUMNS)


def wide(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`pilot`'s frame as one row per model, one column per level, cells ``"0.31 [0.25, 0.38]"``."""
    cells = table.assign(cell=[f"{v:.2f} [{lo:.2f}, {hi:.2f}]"
                               for v, lo, hi in zip(table["pass@1"], table["ci_low"], table["ci_high"])])
    out = cells.pivot_table(index="model", columns="level", values="cell", aggfunc="first", sort=False)
    out.columns = [f"L{c}" for c in out.columns]
    return out.reset_index()


@dataclass(frozen=True)
class LevelChoice:
    """What :func:`choose_levels` chose.

    Attributes:
        levels: the chosen contiguous levels, or None when no range puts any compared model in the band.
        band: the pass@1 band.
        mix: compared model -> its pass@1 on the chosen mix (mean over the levels).
        outside: the compared models whose mix pass@1 lies outside the band.
        candidates: every range tried: ``levels, pairs_in_band, in_band, margin`` (best first).
    """

    levels: tuple[int, ...] | None
    band: tuple[float, float]
    mix: dict[str, float] = field(default_factory=dict)
    outside: tuple[str, ...] = ()
    candidates: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def all_in_band(self) -> bool:
        return self.levels is not None and not self.outside

    def sentence(self) -> str:
        """One sentence: the levels and who sits in the band, or that no mix does."""
        lo, hi = self.band
        if self.levels is None:
            return f"No level mix puts any compared model within {lo:.0%}-{hi:.0%} pass@1."
        levels = ", ".join(map(str, self.levels))
        if not self.outside:
            return f"Levels {levels} put every compared model within {lo:.0%}-{hi:.0%} pass@1."
        out = ", ".join(f"{m} ({self.mix[m]:.0%})" for m in self.outside)
        return (f"Levels {levels} put the most compared models within {lo:.0%}-{hi:.0%} pass@1; no level mix "
                f"puts every one there: outside stay {out}.")


def choose_levels(table: pd.DataFrame, models: Sequence[str] | None = None,
                  band: tuple[float, float] | None = None, size: int | None = None,
                  capacity: dict[int, int] | None = None) -> LevelChoice:
    """The contiguous levels whose mix puts the most of ``models`` within ``band`` (see module docstring).

    Args:
        table: a pilot table (columns ``model, level, pass@1``; one row per model and level).
        models: the compared models (default: every model of the table).
        band: default ``plan.PLAN.levels.band``.
        size, capacity: a set of ``size`` problems in equal shares per level must fit ``capacity``
            (level -> problems available to it; e.g. level 1's eval split holds 76 expressions, 26 of
            them the pilot's): ranges that do not fit are not candidates.

    Ranking: the number of compared pairs (:data:`PAIRS` whose two models are both among ``models``)
    with both models in the band — a difference shows only there —, then the number of models in the
    band, then the margin (the smallest distance of a model's mix pass@1 to the band's nearer edge,
    negative when outside), then the harder mix.
    """
    band = tuple(band or PLAN.levels.band)
    lo, hi = band
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"band must satisfy 0 <= low < high <= 1, got {band}")
    missing = {"model", "level", "pass@1"} - set(table.columns)
    if missing:
        raise ValueError(f"pilot table lacks columns {sorted(missing)}")
    grid = table.pivot_table(index="model", columns="level", values="pass@1", aggfunc="mean")
    models = list(models or dict.fromkeys(table["model"]))
    absent = [m for m in models if m not in grid.index]
    if absent:
        raise ValueError(f"models {absent} are not in the pilot table; it holds {', '.join(grid.index)}")
    grid = grid.loc[models]
    if grid.isna().any().any():
        raise ValueError("pilot table lacks some model x level cells")
    levels = sorted(grid.columns)
    pairs = [(a, b) for a, b in PAIRS if a in models and b in models]
    rows = []
    for i in range(len(levels)):
        for j in range(i, len(levels)):
            chosen = tuple(levels[i:j + 1])
            if size and any(-(-size // len(chosen)) > (capacity or {}).get(lv, size) for lv in chosen):
                continue
            mix = grid[list(chosen)].mean(axis=1)
            margin = pd.concat([mix - lo, hi - mix], axis=1).min(axis=1)
            inside = set(margin.index[margin >= 0])
            rows.append({"levels": chosen, "pairs_in_band": sum(a in inside and b in inside for a, b in pairs),
                         "in_band": len(inside), "margin": float(margin.min()),
                         "mean_level": sum(chosen) / len(chosen), "mix": mix.to_dict()})
    ranked = pd.DataFrame(rows).sort_values(["pairs_in_band", "in_band", "margin", "mean_level"], ascending=False,
                                            ignore_index=True)
    best = ranked.iloc[0]
    candidates = ranked[["levels", "pairs_in_band", "in_band", "margin"]]
    if best.in_band == 0:
        return LevelChoice(None, band, candidates=candidates)
    mix = {m: round(float(v), 4) for m, v in best.mix.items()}
    outside = tuple(m for m, v in mix.items() if not lo <= v <= hi)
    return LevelChoice(tuple(int(x) for x in best.levels), band, mix, outside, candidates)



_LEVEL_ID = r"^L(\d+)-"


def by_level(samples: pd.DataFrame, confidence: float | None = None) -> pd.DataFrame:
    """Per-level pass@1 of an evaluation's samples (``scores.zoo_evaluation(...).samples``), in
    :func:`pilot`'s columns (``distinct_from_base`` NaN: the first answers are not kept there).

    The level comes from the problem id (``L<level>-<hash>``); a level met on two sets is pooled.
    """
    missing = {"run", "mode", "problem_id", "sample_index", "correct"} - set(samples.columns)
    if missing:
        raise ValueError(f"samples frame lacks columns {sorted(missing)}")
    level = samples["problem_id"].astype(str).str.extract(_LEVEL_ID)[0]
    if level.isna().any():
        bad = samples.loc[level.isna(), "problem_id"].iloc[0]
        raise ValueError(f"problem id {bad!r} carries no level (expected 'L<level>-...')")
    rows = []
    for (run, mode, lv), part in samples.assign(level=level.astype(int)).groupby(["run", "mode", "level"],
                                                                                   sort=False):
        correct, total = int(part["correct"].sum()), len(part)
        p1, lo, hi = wilson(correct, total, confidence or PLAN.stats.confidence)
        n_problems = part["problem_id"].nunique()
        rows.append({"run": run, "mode": mode, "model": run if mode == "default" else f"{run} ({mode})",
                     "level": int(lv), "pass@1": p1, "ci_low": lo, "ci_high": hi, "correct": correct,
                     "n_answers": total, "n_problems": n_problems, "k": total // n_problems,
                     "distinct_from_base": float("nan")})
    out = pd.DataFrame(rows, columns=PILOT_COLUMNS)
    order = {m: i for i, m in enumerate(dict.fromkeys(out["model"]))}  # models as first met, levels ascending
    return out.sort_values(["model", "level"], key=lambda c: c.map(order) if c.name == "model" else c,
                           ignore_index=True)


def _levels_text(levels: Sequence[int]) -> str:
    return "no level" if not levels else f"level{'s' if len(levels) > 1 else ''} " + ", ".join(map(str, levels))


def standing(table: pd.DataFrame, band: tuple[float, float] | None = None,
             pairs: Sequence[tuple[str, str]] = PAIRS) -> list[str]:
    """One sentence per compared pair present in ``table`` (a pilot or :func:`by_level` frame): the
    levels where both models sit within ``band`` (a difference can show there), else where each does."""
    lo, hi = tuple(band or PLAN.levels.band)
    grid = table.pivot_table(index="model", columns="level", values="pass@1", aggfunc="mean")
    out = []
    for a, b in pairs:
        if a not in grid.index or b not in grid.index:
            continue
        inside = {m: [int(lv) for lv, v in grid.loc[m].items() if lo <= v <= hi] for m in (a, b)}
        both = [lv for lv in inside[a] if lv in inside[b]]
        band_text = f"{lo:.0%}-{hi:.0%}"
        if both:
            values = "; ".join(f"L{lv}: {grid.loc[a, lv]:.2f} vs {grid.loc[b, lv]:.2f}" for lv in both)
            out.append(f"{a} vs {b}: both within {band_text} at {_levels_text(both)} ({values}), where a "
                       "difference can show.")
        else:
            best = ", ".join(f"{m} {grid.loc[m].max():.2f} at level {int(grid.loc[m].idxmax())}" for m in (a, b))
            out.append(f"{a} vs {b}: never both within {band_text}: {a} is at {_levels_text(inside[a])}, "
                       f"{b} at {_levels_text(inside[b])} (best: {best}).")
    return out


def choose_circuit_levels(table: pd.DataFrame, models: Sequence[str] | None = None,
                          min_distinct: float | None = None, band: tuple[float, float] | None = None,
                          size: int | None = None, capacity: dict[int, int] | None = None) -> LevelChoice:
    """:func:`choose_levels` among the levels where every compared post-trained model's first answers
    differ from the base's on at least ``min_distinct`` of the problems (default
    ``plan.PLAN.levels.min_distinct``): coinciding answer prefixes give no circuit pair.

    ``table`` needs ``distinct_from_base`` (a :func:`pilot` frame); the base itself is not held to it.
    ``size``, ``capacity``: as for :func:`choose_levels` (a circuit set is large: levels that cannot
    fill their share drop out).
    """
    min_distinct = PLAN.levels.min_distinct if min_distinct is None else min_distinct
    if "distinct_from_base" not in table.columns:
        raise ValueError("pilot table lacks column distinct_from_base (run levels.pilot with base among the runs)")
    models = list(models or dict.fromkeys(table["model"]))
    others = table[table["model"].isin(models) & (table["model"] != "base")]
    share = others.groupby("level")["distinct_from_base"].min()
    keep = [int(lv) for lv, v in share.items() if v >= min_distinct]
    if not keep:
        return LevelChoice(None, tuple(band or PLAN.levels.band))
    return choose_levels(table[table["level"].isin(keep)], models, band, size, capacity)


def capacity(table: pd.DataFrame, asked: int) -> dict[int, int]:
    """Level -> problems a set chosen from the pilot can draw there, for the levels whose eval split the
    pilot exhausted (fewer than ``asked`` problems): what is left is the role sets' share of that level."""
    short = sorted({int(lv) for lv in table.loc[table["n_problems"] < asked, "level"]})
    out = dict.fromkeys(short, 0)
    for name in task.ROLE_SETS:
        lv_set, _, seed = task.EVAL_SETS[name]
        for p in task.make_problems(task.PILOT_ROLE_SIZE, lv_set, seed, split="eval", unique=True):
            if p.level in out:
                out[p.level] += 1
    return out
