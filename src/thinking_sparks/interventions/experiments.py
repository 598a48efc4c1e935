"""The paper's intervention experiments as library functions (pages call these; they hold no logic).

- Table 1 (§A.7): zero-ablate emergent / base / control-circuit heads and random head sets matched
  in size and layers (several seeds) -> pass@1 per difficulty set with bootstrap CIs.
- Tables 4, 5 (§5.9): scale head sets (x1.3, x0.5) in the base model -> pass@1 per set.
- Fig 4: pass@1 per set at every checkpoint, problems gained / lost, failure-taxonomy counts.
- Table 2, Fig 5 (§6): think on / off / off + ablation / off + x0.5 -> pass@1 per set; pass@k and
  success@k for k = 1..n with CI bands.

Every evaluation goes through :func:`~thinking_sparks.evaluation.harness.run_eval`, so it is cached
under the model, the parameters and the intervention. Head sets come in as plain name lists.

    conds = ablation_conditions({"emergent": em, "base": base, "control": ctl}, lm.n_layers, lm.n_heads,
                                random_like="emergent", seeds=range(5))
    res = pass_at_1_table(lm, conds, base_params)
    random_summary(res.table)
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from thinking_sparks.evaluation.datasets import load_eval_set
from thinking_sparks.evaluation.harness import EvalParams, EvalResult, run_eval
from thinking_sparks.heads.edits import Intervention, parse_edits
from thinking_sparks.interventions.headsets import parse_heads, random_matched_sets
from thinking_sparks.interventions.taxonomy import classify_samples, failure_counts
from thinking_sparks.organism.task import flagged

log = logging.getLogger(__name__)

SETS = ("organism/easy", "organism/medium", "organism/hard")
TABLE_COLUMNS = ["condition", "group", "seed", "n_heads", "heads", "set", "pass@1", "ci_low", "ci_high",
                 "n_problems"]


@dataclass(frozen=True)
class Condition:
    """One row of an intervention table.

    Attributes:
        label: shown in tables ("ablate emergent", "random #3", "x1.3 sft heads").
        intervention: the edits (None: the unmodified model).
        group: rows to pool ("random" for matched random sets; else the label).
        seed: the random set's seed (None otherwise).
        enable_thinking: think mode for templates that know it (None: the template's default).
        think: the soft switch appended to each question (``/think`` True, ``/no_think`` False,
            None: nothing), as the hybrid organism was trained (``organism.task.flagged``).
    """

    label: str
    intervention: Intervention | None = None
    group: str = ""
    seed: int | None = None
    enable_thinking: bool | None = None
    think: bool | None = None

    @property
    def heads(self) -> list[str]:
        return self.intervention.heads if self.intervention else []


@dataclass
class ExperimentResult:
    """``table`` (tidy, :data:`TABLE_COLUMNS`) and every sample, with ``condition`` and ``set`` columns."""

    table: pd.DataFrame
    samples: pd.DataFrame
    results: dict[tuple[str, str], EvalResult] = field(default_factory=dict, repr=False)


def ablation_conditions(head_sets: Mapping[str, Sequence[str]], n_layers: int, n_heads: int, *,
                        random_like: str | None = None, seeds: Iterable[int] = range(3),
                        mode: str = "zero") -> list[Condition]:
    """No ablation, each named set ablated, and random sets matched to ``head_sets[random_like]``.

    Random sets avoid the heads of *every* named set where the layer allows (see
    :func:`~thinking_sparks.interventions.headsets.random_matched`).
    """
    conds = [Condition("no ablation", None, "no ablation")]
    for name, heads in head_sets.items():
        heads = parse_heads(heads)
        conds.append(Condition(f"ablate {name}", parse_edits(heads, mode=mode) if heads else None, name))
    if random_like is not None:
        if random_like not in head_sets:
            raise ValueError(f"random_like={random_like!r} is not one of the head sets {sorted(head_sets)}")
        avoid = [h for hs in head_sets.values() for h in parse_heads(hs)]
        sets = random_matched_sets(head_sets[random_like], n_layers, n_heads, seeds, exclude=set(avoid))
        conds += [Condition(f"random #{s}", parse_edits(h, mode=mode), "random", s) for s, h in sets.items()]
    return conds


def scaling_conditions(head_sets: Mapping[str, Sequence[str]], factors: Sequence[float] = (1.3, 0.5),
                       baseline: bool = True) -> list[Condition]:
    """Each head set scaled by each factor (Tables 4, 5): ``"x1.3 sft"``; plus the unmodified model."""
    conds = [Condition("no intervention", None, "no intervention")] if baseline else []
    for name, heads in head_sets.items():
        for f in factors:
            iv = parse_edits(scale=[f"{h}={f:g}" for h in parse_heads(heads)])
            conds.append(Condition(f"x{f:g} {name}", iv, f"x{f:g} {name}"))
    return conds


def pass_at_1_table(model: Any, conditions: Sequence[Condition], params: EvalParams,
                    sets: Sequence[str] = SETS, progress: bool = False) -> ExperimentResult:
    """Evaluate every condition on every set (cached); pass@1 with bootstrap CIs per (condition, set).

    Args:
        model: a :class:`~thinking_sparks.models.LoadedModel`.
        params: sampling and CI settings; ``dataset`` is replaced by each of ``sets``.
    """
    rows, frames, results = [], [], {}
    for cond in conditions:
        for name in sets:
            p = dataclasses.replace(params, dataset=name, enable_thinking=cond.enable_thinking
                                    if cond.enable_thinking is not None else params.enable_thinking)
            res = run_eval(model, p, intervention=cond.intervention, progress=progress,
                           problems=_problems(name, p.limit, cond.think))
            results[(cond.label, name)] = res
            v = res.summary.get("pass", 1)
            rows.append({"condition": cond.label, "group": cond.group or cond.label, "seed": cond.seed,
                         "n_heads": len(cond.heads), "heads": ",".join(cond.heads), "set": set_label(name),
                         "pass@1": v.value, "ci_low": v.ci_low, "ci_high": v.ci_high, "n_problems": v.n_problems})
            frames.append(res.samples.assign(condition=cond.label, set=set_label(name)))
            log.info("%s on %s: pass@1 %.3f", cond.label, name, v.value)
    return ExperimentResult(pd.DataFrame(rows, columns=TABLE_COLUMNS), pd.concat(frames, ignore_index=True),
                            results)


def random_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Random-set rows pooled per set: ``set, n_seeds, mean, std, min, max`` of pass@1 over seeds."""
    rnd = table[table["group"] == "random"]
    if rnd.empty:
        return pd.DataFrame(columns=["set", "n_seeds", "mean", "std", "min", "max"])
    g = rnd.groupby("set", sort=False)["pass@1"]
    return pd.DataFrame({"n_seeds": g.size(), "mean": g.mean(), "std": g.std(ddof=1).fillna(0.0),
                         "min": g.min(), "max": g.max()}).reset_index()


def has_taxonomy(sets: Sequence[str]) -> bool:
    """Whether the failure taxonomy applies: every set is one of the organism's (whose worked
    chains of arithmetic :mod:`.taxonomy` reads)."""
    return bool(sets) and all(str(s).startswith("organism/") for s in sets)


def taxonomy(samples: pd.DataFrame, by: Sequence[str] = ("condition", "set"),
             sets: Sequence[str] = SETS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Classify every sample's failure (organism task) and count them: ``(classified, counts)``.

    On sets other than the organism's (:func:`has_taxonomy`) the samples come back as they are
    and the counts empty: the taxonomy reads the organism's chains only."""
    if not has_taxonomy(sets):
        return samples.copy(), pd.DataFrame(columns=[*by, "failure", "count", "share"])
    questions = {p.id: p.question for name in sets for p in load_eval_set(name)}
    classified = classify_samples(samples, questions)
    return classified, failure_counts(classified, by=list(by))


def checkpoint_sweep(checkpoints: Sequence[tuple[int, str]], params: EvalParams, sets: Sequence[str] = SETS,
                     load: Callable[[str], Any] | None = None, intervention: Intervention | None = None,
                     progress: bool = False) -> dict[str, pd.DataFrame]:
    """Fig 4: pass@1 per set at each checkpoint, problems gained / lost vs the first, failure counts.

    Args:
        checkpoints: ``[(step, spec), ...]`` in training order (the first is the reference).
        load: spec -> model (default :func:`~thinking_sparks.models.load_model`).
    Returns:
        ``{"pass": step, set, pass@1, ci_low, ci_high, gained, lost;
        "failures": step, set, failure, count, share; "samples": classified samples}``.
        A problem counts as solved when at least half its samples are correct; ``gained`` /
        ``lost`` count problems solved now and not at the first checkpoint, and the reverse.
    """
    if not checkpoints:
        raise ValueError("checkpoint_sweep needs at least one checkpoint")
    if load is None:
        from thinking_sparks.models import load_model as load
    rows, frames = [], []
    for step, spec in checkpoints:
        model = load(spec)
        res = pass_at_1_table(model, [Condition(str(step), intervention)], params, sets, progress)
        rows.append(res.table.assign(step=int(step)))
        frames.append(res.samples.assign(step=int(step)))
    table = pd.concat(rows, ignore_index=True)
    samples = pd.concat(frames, ignore_index=True)
    solved = (samples.groupby(["step", "set", "problem_id"])["correct"].mean() >= 0.5).rename("solved").reset_index()
    first = solved[solved["step"] == int(checkpoints[0][0])].set_index(["set", "problem_id"])["solved"]
    solved["before"] = [bool(first.get((s, p), False)) for s, p in zip(solved["set"], solved["problem_id"])]
    moves = solved.assign(gained=solved["solved"] & ~solved["before"], lost=~solved["solved"] & solved["before"])
    moves = moves.groupby(["step", "set"], as_index=False)[["gained", "lost"]].sum()
    table = table.merge(moves, on=["step", "set"], how="left")
    classified, counts = taxonomy(samples, by=["step", "set"], sets=sets)
    cols = ["step", "set", "pass@1", "ci_low", "ci_high", "n_problems", "gained", "lost"]
    return {"pass": table[cols], "failures": counts, "samples": classified}


def think_conditions(think_off_only: Sequence[str], scale: float = 0.5, switch: str = "flags") -> list[Condition]:
    """Table 2's rows: think on, think off, think off + zeroed heads, think off + heads x``scale``.

    Modes as the emergence room builds its circuits (``switch``): ``flags``, as the hybrid organism
    was trained: think on = ``/think`` after the question, think off = ``/no_think`` and the
    template's empty think block (``enable_thinking=False``); ``template``, Qwen3's switch alone:
    ``enable_thinking`` True / False.
    """
    if switch not in ("flags", "template"):
        raise ValueError(f"switch must be 'flags' or 'template', got {switch!r}")
    heads = parse_heads(think_off_only)
    flags = switch == "flags"
    on = dict(think=True) if flags else dict(enable_thinking=True)
    off = dict(enable_thinking=False, think=False if flags else None)
    conds = [Condition("think on", None, "think on", **on), Condition("think off", None, "think off", **off)]
    if heads:
        conds += [Condition("think off + ablation", parse_edits(heads), "think off + ablation", **off),
                  Condition(f"think off + x{scale:g}", parse_edits(scale=[f"{h}={scale:g}" for h in heads]),
                            f"think off + x{scale:g}", **off)]
    return conds


def k_curves(model: Any, conditions: Sequence[Condition], params: EvalParams, dataset: str = "organism/hard",
             progress: bool = False) -> ExperimentResult:
    """Fig 5: pass@k and success@k for k = 1..n with bootstrap CIs, per condition, on one set.

    ``params.n`` samples per problem (64 in the paper); every k from 1 to n is computed.
    Returns ``table``: ``condition, metric, k, value, ci_low, ci_high, n_problems`` (tidy), and
    ``samples`` with a ``condition`` column.
    """
    ks = tuple(range(1, params.n + 1))
    frames, samples = [], []
    for cond in conditions:
        p = dataclasses.replace(params, dataset=dataset, ks=ks, enable_thinking=cond.enable_thinking
                                if cond.enable_thinking is not None else params.enable_thinking)
        res = run_eval(model, p, intervention=cond.intervention, progress=progress,
                       problems=_problems(dataset, p.limit, cond.think))
        frame = res.summary.to_frame()
        frame = frame[frame["difficulty"] == "all"].drop(columns="difficulty")
        frames.append(frame.assign(condition=cond.label))
        samples.append(res.samples.assign(condition=cond.label, set=set_label(dataset)))
    out = pd.concat(frames, ignore_index=True)
    return ExperimentResult(out[["condition", "metric", "k", "value", "ci_low", "ci_high", "n_problems"]],
                            pd.concat(samples, ignore_index=True))


def at_k(curves: pd.DataFrame, ks: Sequence[int] = (1, 2, 8, 64)) -> pd.DataFrame:
    """The Fig 5 values at a few k (those present), one row per (condition, metric)."""
    sub = curves[curves["k"].isin(list(ks))]
    return sub.pivot_table(index=["condition", "metric"], columns="k", values="value", sort=False).reset_index()


def _problems(name: str, limit: int | None, think: bool | None):
    """The eval set's problems, with the soft switch appended when ``think`` is not None."""
    if think is None:
        return None

    return [dataclasses.replace(p, question=flagged(p.question, think)) for p in load_eval_set(name, limit=limit)]


def set_label(name: str) -> str:
    """A set's label in tables: ``organism/easy`` -> ``easy``, ``/data/aime24.jsonl`` -> ``aime24``."""
    path = Path(str(name))
    return path.stem if path.suffix in (".jsonl", ".json") else str(name).split("/", 1)[-1]


def head_overlap(a: Sequence[str], b: Sequence[str]) -> dict[str, Any]:
    """Counts and Jaccard overlap of two head sets (e.g. think-on vs think-off circuits)."""
    sa, sb = set(parse_heads(a)), set(parse_heads(b))
    union = sa | sb
    return {"n_a": len(sa), "n_b": len(sb), "both": len(sa & sb), "only_a": len(sa - sb), "only_b": len(sb - sa),
            "jaccard": len(sa & sb) / len(union) if union else float(np.nan)}
