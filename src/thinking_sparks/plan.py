"""The analysis plan: every sample size, threshold, question set and seed that a verdict uses, fixed
before the results are computed.

A verdict of the book is a statistical decision. Its ingredients are written here, each with the
argument that fixes it, and no value here may be chosen by looking at a result. Changing a value is
a commit to this file; the book's verdicts page shows :func:`table` and the commit that last
changed it (:func:`last_change`).

Sections (frozen dataclasses, so that a section can enter a cache key as it is):

* :class:`CircuitPlan` — circuit question sets, questions per circuit, independent samples for the
  same-size noise floor, paired-bootstrap resamples and the inclusion rule for emergent heads.
* :class:`StatsPlan` — confidence level, bootstrap resamples and method of the verdict intervals.
* :class:`SizePlan` — how a circuit's size (its top-n edges) is chosen: the paper's edge fraction
  or the paper's share of heads.

:data:`PLAN` is the plan in force; :data:`REASONS` holds one sentence of argument per entry
(``section.field``), which :func:`table` shows beside the value.
"""

from __future__ import annotations

import dataclasses
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PLAN", "REASONS", "SIZE_RULES", "CircuitPlan", "Plan", "SizePlan", "StatsPlan", "last_change", "table"]


@dataclass(frozen=True)
class CircuitPlan:
    """How head sets are measured and decided.

    Attributes:
        n_questions: questions per circuit (every checkpoint of every run, both circuit sets).
        n_samples: independent question samples drawn per checkpoint, each of ``n_questions``:
            sample 0 is the comparison, sample 1 the same-size null (two circuits of one checkpoint).
        n_boot: paired bootstrap resamples (question indices shared by model and base circuits).
        p_model: a head is emergent when its inclusion probability in the model's circuit is at
            least this ...
        p_base: ... and at most this in the base's circuit.
        floor_quantile: the quantile of the same-size null a count must exceed.
    """

    n_questions: int = 512
    n_samples: int = 2
    n_boot: int = 200
    p_model: float = 0.8
    p_base: float = 0.2
    floor_quantile: float = 0.95


@dataclass(frozen=True)
class StatsPlan:
    """How every verdict interval is computed.

    Attributes:
        confidence: two-sided level of every interval.
        n_resamples: bootstrap resamples of a verdict row's interval.
        seed: the seed of every resampling and of every sampled question set the plan names.
        half_width: the 95 % CI half-width a difference of pass@1 must reach (sizes evaluations).
    """

    confidence: float = 0.95
    n_resamples: int = 2000
    seed: int = 0
    half_width: float = 0.03


#: how a circuit's top-n is chosen: the paper's 5,000 of 183,555 edges, or the n whose circuit
#: holds the paper's share of the heads (its base circuit: 56 of 336)
SIZE_RULES = ("edge-fraction", "head-share")


@dataclass(frozen=True)
class SizePlan:
    """How big a circuit is (issue 22, "Circuits of the paper's size").

    Attributes:
        rule: the main verdicts' size, one of :data:`SIZE_RULES`; the other rule's verdicts are
            shown beside them where they differ.
        head_share: the target share of heads of the ``head-share`` rule.
    """

    rule: str = "edge-fraction"
    head_share: float = 56 / 336

    def __post_init__(self) -> None:
        if self.rule not in SIZE_RULES:
            raise ValueError(f"size rule must be one of {', '.join(SIZE_RULES)}, got {self.rule!r}")
        if not 0 < self.head_share <= 1:
            raise ValueError(f"head_share must lie in (0, 1], got {self.head_share!r}")


@dataclass(frozen=True)
class Plan:
    """The whole plan: one field per section."""

    circuits: CircuitPlan = field(default_factory=CircuitPlan)
    stats: StatsPlan = field(default_factory=StatsPlan)
    size: SizePlan = field(default_factory=SizePlan)


#: the plan in force
PLAN = Plan()

#: ``section.field`` -> the argument that fixes the value (shown beside it by :func:`table`)
REASONS: dict[str, str] = {
    "circuits.n_questions": "At 32 questions SFT's emergent count (9) sat on its noise floor (95th percentile "
                            "9.8); the floor shrinks as 1/sqrt(n), and 512 = 16 x 32 brings a 4x smaller floor, "
                            "as measured by benchmarks/noise_floor.py before this plan.",
    "circuits.n_samples": "The null of a head-set count is two circuits of one checkpoint on two independent "
                          "question samples of the comparison's size: one sample for the comparison, one for the null.",
    "circuits.n_boot": "Inclusion probabilities are shares of resampled circuits; 200 resamples put a share's "
                       "standard error at most 0.035, well inside the 0.2 / 0.8 rule.",
    "circuits.p_model": "A head is called emergent only when 4 of 5 resampled circuits of the model hold it ...",
    "circuits.p_base": "... and at most 1 of 5 of the base's: symmetric bounds, far from a coin flip.",
    "circuits.floor_quantile": "A count is above noise when it exceeds the 95th percentile of its same-size null "
                               "(one-sided 5 % false-claim rate).",
    "stats.confidence": "The paper's claims are tested at the conventional two-sided 95 %.",
    "stats.n_resamples": "2,000 bootstrap resamples keep the Monte-Carlo error of a 95 % interval's ends "
                         "below a tenth of its width.",
    "stats.seed": "One seed for every resampling and sampled question set; a seed fixes results on CPU.",
    "size.rule": "The reproduction keeps the paper's method as written (top 5,000 of 183,555 edges, scaled to the "
                 "graph); the head-share size, beside it, tests whether a verdict only reflects that a small "
                 "model's circuit at that edge fraction holds half or more of its heads.",
    "size.head_share": "The paper's base circuit holds 56 of the 336 heads of DeepSeek-R1-Distill-Qwen-1.5B "
                       "(17 %): the share its emergent / base-only / retained counts are taken from.",
    "stats.half_width": "The issue's bar: a difference of pass@1 is known to +-0.03 (95 %), paired by problem "
                        "and sampling seed.",
}


def entries(plan: Plan = PLAN) -> list[tuple[str, Any]]:
    """``(section.field, value)`` for every entry of ``plan``, in declaration order."""
    out = []
    for sec in dataclasses.fields(plan):
        part = getattr(plan, sec.name)
        out += [(f"{sec.name}.{f.name}", getattr(part, f.name)) for f in dataclasses.fields(part)]
    return out


def table(plan: Plan = PLAN):
    """The plan as a frame: ``entry, value, reason`` (every entry must have a reason)."""
    import pandas as pd  # deferred: pandas is heavy, loaded only for the page

    rows = []
    for name, value in entries(plan):
        if name not in REASONS:
            raise ValueError(f"analysis plan entry {name} has no reason in REASONS")
        rows.append({"entry": name, "value": value, "reason": REASONS[name]})
    return pd.DataFrame(rows)


def last_change() -> str:
    """``<short commit> <date> <subject>`` of the last commit that changed this file ("" outside git)."""
    here = Path(__file__)
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%h %cs %s", "--", here.name], cwd=here.parent,
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()
