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
* :class:`Section4Plan` — the paper's numbers and the test constants of page 04's dynamic claims
  (reward tracking, switching, persistence, retention, layers).
* :class:`Fig15Plan` — Fig 15's simplification threshold and how the student answers without thinking.

:data:`PLAN` is the plan in force; :data:`REASONS` holds one sentence of argument per entry
(``section.field``), which :func:`table` shows beside the value.
"""

from __future__ import annotations

import dataclasses
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PLAN", "REASONS", "CircuitPlan", "Fig15Plan", "Plan", "Section4Plan", "StatsPlan", "last_change", "table"]


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


@dataclass(frozen=True)
class Section4Plan:
    """Page 04's claims on how heads move during training (paper v2 §4, Figs 2, 3, 14, Table 3).

    Attributes:
        exact_permutations: reward tracking enumerates every permutation of the checkpoint changes
            up to this many changes (8! = 40,320), and draws ``n_permutations`` at random beyond.
        n_permutations: random permutations of the reward-tracking null beyond ``exact_permutations``.
        persist_share: the share of ever-emergent heads active at the final checkpoint that "most
            persist" must exceed.
        retained_share: the paper's share of base heads retained after distillation.
        retained_majority: the share the retained heads must exceed ("about two-thirds" is most).
        retained_contrast: the share the retained heads must stay below (all retained).
        min_heads: heads a side (or heads that switch) that an interval over heads needs.
    """

    exact_permutations: int = 8
    n_permutations: int = 20_000
    persist_share: float = 0.5
    retained_share: float = 2 / 3
    retained_majority: float = 0.5
    retained_contrast: float = 1.0
    min_heads: int = 2


@dataclass(frozen=True)
class Fig15Plan:
    """Fig 15's claim: the distilled student's circuit without the thinking marker is more complex.

    Attributes:
        tau: the simplification threshold (an edge stays when its ranking key is at least ``tau`` times
            the largest of the top-n circuit's; then isolated nodes are pruned).
        no_think_mode: how the student is asked to answer without its thinking marker
            (``thinking_sparks.emergence.pairs.MODES``).
    """

    tau: float = 0.1
    no_think_mode: str = "template_no_think"


@dataclass(frozen=True)
class Plan:
    """The whole plan: one field per section."""

    circuits: CircuitPlan = field(default_factory=CircuitPlan)
    stats: StatsPlan = field(default_factory=StatsPlan)
    section4: Section4Plan = field(default_factory=Section4Plan)
    fig15: Fig15Plan = field(default_factory=Fig15Plan)


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
    "section4.exact_permutations": "Up to 8 checkpoint changes every permutation is enumerated (40,320), so the "
                                   "reward-tracking null is exact where the organism has about 8 to 10 checkpoints.",
    "section4.n_permutations": "Beyond 8 changes, 20,000 random permutations put the Monte-Carlo error of a 2.5 % "
                               "tail below 0.002, far inside the step between attainable critical values.",
    "section4.persist_share": "The paper (v2 §4.1, Fig 2A/B; digest §7) says 'most' SFT heads persist: more than half.",
    "section4.retained_share": "The paper's number (v2 §4.1 and §7): 'about two-thirds of baseline head nodes' are "
                               "retained after distillation; it gives no count.",
    "section4.retained_majority": "Two-thirds is a majority: the claim excludes the alternative that distillation "
                                  "replaced most base heads (half or fewer retained).",
    "section4.retained_contrast": "The paper contrasts the heads with the MLP nodes, all (100 %) of which are "
                                  "retained: 'about two-thirds' means most, not all.",
    "section4.min_heads": "One head has no spread to resample: an interval over heads needs two.",
    "fig15.tau": "The paper's threshold (§A.5: 'τ = 0.1'); it does not say raw or normalised, and on a raw KL "
                 "score scale 0.1 has no meaning that carries between models, so it is taken relative to the "
                 "circuit's largest edge.",
    "fig15.no_think_mode": "The organism's template marks thinking with an opening <think>; enable_thinking=False "
                           "pre-fills an empty think block with no flag in the question, the nearest to the "
                           "paper's 'without an explicit <think>' for a student never trained on /no_think.",
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
