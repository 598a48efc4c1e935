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
* :class:`RulesPlan` — interval method, difficulty labels and null sizes of the rows of pages 02, 05-07.

:data:`PLAN` is the plan in force; :data:`REASONS` holds one sentence of argument per entry
(``section.field``), which :func:`table` shows beside the value.
"""

from __future__ import annotations

import dataclasses
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PLAN", "REASONS", "CircuitPlan", "Plan", "RulesPlan", "Section4Plan", "StatsPlan", "last_change", "table"]


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
        n_outer: outer resamples of the double bootstrap that gives the rule's count its
            distribution (its interval and, for the null, the floor's mean and quantile) ...
        n_inner: ... and inner resamples per outer one (each outer resample's inclusion probabilities).
    """

    n_questions: int = 512
    n_samples: int = 2
    n_boot: int = 200
    p_model: float = 0.8
    p_base: float = 0.2
    floor_quantile: float = 0.95
    n_outer: int = 100
    n_inner: int = 25


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
class RulesPlan:
    """How the verdict rows outside the emergence page compare (pages 02, 05, 06, 07).

    Attributes:
        interval_method: ``scipy.stats.bootstrap`` method of every mean / paired-difference interval.
        hard_difficulty, easy_difficulty: the ``difficulty`` labels (the eval set's own column) that
            play Table 5's hardest set (AIME'24) and easiest set (MATH-500).
        null_splits: random half-splits of one circuit's pairs in the same-mode null of a head count
            (:func:`thinking_sparks.interventions.counts.halves_null`).
    """

    interval_method: str = "BCa"
    hard_difficulty: str = "hard"
    easy_difficulty: str = "easy"
    null_splits: int = 50


@dataclass(frozen=True)
class Plan:
    """The whole plan: one field per section."""

    circuits: CircuitPlan = field(default_factory=CircuitPlan)
    stats: StatsPlan = field(default_factory=StatsPlan)
    section4: Section4Plan = field(default_factory=Section4Plan)
    rules: RulesPlan = field(default_factory=RulesPlan)


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
    "circuits.n_outer": "A count's distribution re-estimates every head's probabilities per resample (n_outer x "
                        "n_inner circuits a side): 100 outer resamples put 2-3 draws beyond a 95 % interval's ends, "
                        "enough for an integer count, at a cost the full zoo's ~60 checkpoints can pay on a CPU.",
    "circuits.n_inner": "25 inner resamples resolve the 0.8 / 0.2 bounds to 0.04 (standard error at most 0.1); "
                        "the calibration test (tests/test_headstats.py) holds the false-claim rate at 20.",
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
    "rules.interval_method": "pass@1 of a few percent and its per-problem differences are skewed and bounded; "
                             "BCa corrects the percentile interval for both (Efron 1987), vectorized in scipy.",
    "rules.hard_difficulty": "Table 5 reads AIME'24 as the hard set; the organism's eval sets carry their "
                             "difficulty in the data, and 'hard' is the AIME'24 role.",
    "rules.easy_difficulty": "Table 5 reads MATH(-500) as the easiest set; 'easy' is its role in the organism.",
    "rules.null_splits": "Same as the emergence page's noise floor: 50 half-splits put the 95th percentile's "
                         "Monte-Carlo error below one head.",
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
