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
* :class:`LevelsPlan` — which difficulty levels the calibrated eval set and the circuit question set
  hold, chosen from a pilot on problems no result uses (``organism.levels``).

:data:`PLAN` is the plan in force; :data:`REASONS` holds one sentence of argument per entry
(``section.field``), which :func:`table` shows beside the value.
"""

from __future__ import annotations

import dataclasses
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PLAN", "REASONS", "CircuitPlan", "LevelsPlan", "Plan", "StatsPlan", "last_change", "table"]


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
class LevelsPlan:
    """Which difficulty levels (``organism.task.LEVELS``) the sets hold, fixed from a pilot.

    The pilot (``organism.levels.pilot``) measures every final model's pass@1 per level on problems
    drawn with ``pilot_seed`` and kept out of every fixed set; ``organism.levels.choose_levels``
    picks the contiguous levels whose mix puts the most compared models inside ``band``.

    Attributes:
        band: pass@1 range in which a difference between two models can show (no floor or ceiling).
        pilot_seed: the seed of the pilot's problems (no eval or circuit set uses it).
        pilot_problems: problems per level in the pilot (fewer where a level's eval split is smaller).
        pilot_samples: samples per pilot problem.
        calibrated: levels of the ``calibrated`` eval set, where the premise checks are decided.
        circuit: levels of the circuit question set (``organism/circuit``).
        min_distinct: a circuit level must have at least this share of problems on which every
            post-trained model's first answer differs from the base's (a pair needs two prefixes).
        pilot_date: the day of the pilot run the two choices rest on.
    """

    band: tuple[float, float] = (0.2, 0.8)
    pilot_seed: int = 2001
    pilot_problems: int = 100
    pilot_samples: int = 1
    calibrated: tuple[int, ...] = (1, 2)
    circuit: tuple[int, ...] = (2,)
    min_distinct: float = 0.5
    pilot_date: str = "2026-12-03"


@dataclass(frozen=True)
class Plan:
    """The whole plan: one field per section."""

    circuits: CircuitPlan = field(default_factory=CircuitPlan)
    stats: StatsPlan = field(default_factory=StatsPlan)
    levels: LevelsPlan = field(default_factory=LevelsPlan)


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
    "levels.band": "A pass@1 near 0 or 1 hides differences (floor/ceiling: at the hard set's 1-4 % every "
                   "student looked alike); the paper's benchmarks sit at 30-66 %, inside 20-80 %.",
    "levels.pilot_seed": "A seed no fixed set uses, and pilot problems equal to a fixed set's are skipped, so "
                         "the levels are chosen on problems no verdict is computed from.",
    "levels.pilot_problems": "100 problems per level bound a binomial 95 % CI's half-width by 0.1 (at 50 %): "
                             "enough to tell 5 % from 20 % or 50 %; level 1 holds only 26 outside the role sets.",
    "levels.pilot_samples": "One sample per problem: the pilot places models in or out of a band, it decides no "
                            "difference; 9 models x 5 levels had to run in 30 min of a shared 2-core machine.",
    "levels.calibrated": "Pilot (full zoo, 100 problems/level, 26 at L1, 1 sample) pass@1 L1..L5: base .27 .08 .06 "
                         ".03 .02; sft .35 .31 .11 .05 .05; distill .46 .25 .06 .05 .04; grpo-easy .42 .28 .06 "
                         ".05 .03; grpo-hard .19 .15 .05 .04 .00; grpo-hard-lr .12 .15 .03 .04 .03; hybrid think "
                         ".31 .27 .05 .04 .06, no_think .19 .06 0 0 0; teacher 1.0 .93 .70 .56 .37. No level mix "
                         "puts all in 20-80 %: the base is below 20 % at every level but 1, the students reach "
                         "the band only at levels 1-2, the teacher leaves the ceiling only at 3-5. choose_levels "
                         "over base and students (100 problems; level 1 holds 50 outside the pilot) gives levels "
                         "1-2: sft .33, distill .36, grpo-easy .35, hybrid think .29 in band; base .17, grpo-hard "
                         ".17, grpo-hard-lr .13, no_think .13 just below, all off the hard set's 1-4 % floor. "
                         "The teacher (.97 there) is compared where it is in band: the hard set.",
    "levels.circuit": "PENDING",
    "levels.min_distinct": "Identical answer prefixes are dropped from a circuit's pairs; at least half the "
                           "questions must survive so that a circuit keeps most of its planned size.",
    "levels.pilot_date": "The pilot run (profile full) the level choices rest on.",
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
