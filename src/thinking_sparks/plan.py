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
* :class:`SizePlan` — every evaluation size: the organism's eval sets (levels and problems, separate
  fields), samples per problem per claim, and the problems of each page's pass@1 cells; the sizes
  follow the power calculation of :mod:`thinking_sparks.power` (or the affordable size, with the
  half-width it reaches, stated in its reason).
* :class:`OrganismPlan` — organism settings a verdict rests on (the hybrid's share of thinking examples).
* :class:`LevelsPlan` — which difficulty levels the calibrated eval set and the circuit question set
  hold, chosen from a pilot on problems no result uses (``organism.levels``).
* :class:`CircuitSizePlan` — how a circuit's size (its top-n edges) is chosen: the paper's edge fraction
  or the paper's share of heads.
* :class:`Fig15Plan` — Fig 15's simplification threshold and how the student answers without thinking.
* :class:`SecondSetPlan` — the second circuit question set (the paper's AMC circuits, Figs 6 and 9): its
  name, the runs traced on it and the quantile of the within-set null its agreement row is held to.
* :class:`AgreementPlan` — how many edges the edge-level check of attribution against exact patching patches.
* :class:`ThinkPlan` — page 06's Fig 5 rows: the set their pass@k / success@k curves are drawn on.
* :class:`GeneralisationPlan` — page 08's Llama claims (Figs 10, 11): which checkpoint "the first
  checkpoints" of a GRPO run are.

:data:`PLAN` is the plan in force; :data:`REASONS` holds one sentence of argument per entry
(``section.field``), which :func:`table` shows beside the value.
"""

from __future__ import annotations

import dataclasses
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinking_sparks.plan_reasons import REASONS
from thinking_sparks.plan_sae import SaePlan

__all__ = ["PLAN", "REASONS", "SIZE_RULES", "CircuitPlan", "CircuitSizePlan", "LevelsPlan", "OrganismPlan", "Plan", "SaePlan",
           "RulesPlan", "Section4Plan", "SecondSetPlan", "SizePlan", "StatsPlan", "Fig15Plan", "AgreementPlan",
           "GeneralisationPlan", "ThinkPlan", "last_change", "table"]


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
        question_set: the generated circuit question set (``organism/circuit``: ``n_questions *
            n_samples`` problems of ``levels.circuit``, drawn with ``stats.seed`` from the eval split and
            disjoint from every eval set); sample ``s`` is its questions ``[s n, (s + 1) n)``.
        count_checkpoints: where a head-set count gets its paired-bootstrap interval and its
            same-size floor: ``final`` (the checkpoints the count claims read) or ``every``.
        patch_pairs: pairs (a fixed, seeded subsample of a circuit's pairs) on which exact head
            patching and faithfulness are computed for each sweep circuit.
    """

    n_questions: int = 512
    n_samples: int = 2
    n_boot: int = 200
    p_model: float = 0.8
    p_base: float = 0.2
    floor_quantile: float = 0.95
    n_outer: int = 100
    n_inner: int = 25
    question_set: str = "organism/circuit"
    patch_pairs: int = 64
    count_checkpoints: str = "final"


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


# ------------------------------------------------------------------ sizes (issue 21)
#: how a circuit's top-n is chosen: the paper's 5,000 of 183,555 edges, or the n whose circuit
#: holds the paper's share of the heads (its base circuit: 56 of 336)
SIZE_RULES = ("edge-fraction", "head-share")


@dataclass(frozen=True)
class SizePlan:
    """How many problems and samples every evaluation draws (see :mod:`thinking_sparks.power`).

    Attributes:
        easy_levels, medium_levels, hard_levels: the task levels of each organism eval set.
        easy_size, medium_size, hard_size, calibrated_size: problems of each eval set (``organism.task.EVAL_SETS``;
            enlarging a set keeps its seed, so its first problems stay the same).
        premise_k: samples per problem of page 02's evaluation, on every set (the premise checks).
        curve_problems, curve_k: problems and samples per problem of page 02's checkpoint curves
            (descriptive: no verdict reads them).
        head_problems, head_k: problems of each eval set and samples per problem of the pass@1 cells
            of the pages that intervene on heads (05, 06).
        k_curve_problems, k_curve_samples: problems and samples per problem of page 06's pass@k and
            success@k curves (Fig 5).
    """

    easy_levels: tuple[int, ...] = (1, 2)
    medium_levels: tuple[int, ...] = (3,)
    hard_levels: tuple[int, ...] = (4, 5)
    easy_size: int = 152
    medium_size: int = 2135
    hard_size: int = 2135
    calibrated_size: int = 1230
    premise_k: int = 1
    curve_problems: int = 100
    curve_k: int = 4
    head_problems: int = 2135
    head_k: int = 1
    k_curve_problems: int = 1230
    k_curve_samples: int = 64

    def levels(self, name: str) -> tuple[int, ...]:
        """The levels of eval set ``name`` (``easy``, ``medium``, ``hard``)."""
        return getattr(self, f"{name}_levels")

    def size(self, name: str) -> int:
        """The problems of eval set ``name`` (``easy``, ``medium``, ``hard``)."""
        return getattr(self, f"{name}_size")


@dataclass(frozen=True)
class OrganismPlan:
    """Organism settings that a verdict rests on, fixed by argument.

    Attributes:
        think_share: share of the hybrid run's training examples that think (the rest answer directly).
    """

    think_share: float = 0.5


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
    """

    interval_method: str = "BCa"
    hard_difficulty: str = "hard"
    easy_difficulty: str = "easy"


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
        premise_set: the eval set on which page 02's premise checks are decided.
        circuit: levels of the circuit question set (``organism/circuit``).
        second_circuit: levels of the second circuit question set (``organism/circuit2``, the paper's
            AMC circuits: :class:`SecondSetPlan`).
        min_distinct: a circuit level must have at least this share of problems on which every
            post-trained model's first answer differs from the base's (a pair needs two prefixes).
        pilot_date: the day of the pilot run the two choices rest on.
    """

    band: tuple[float, float] = (0.2, 0.8)
    pilot_seed: int = 2001
    pilot_problems: int = 100
    pilot_samples: int = 1
    calibrated: tuple[int, ...] = (2,)
    premise_set: str = "calibrated"
    circuit: tuple[int, ...] = (2,)
    second_circuit: tuple[int, ...] = (3,)
    min_distinct: float = 0.5
    pilot_date: str = "2026-12-03"


@dataclass(frozen=True)
class CircuitSizePlan:
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


# ------------------------------------------------------------------ the second circuit set (issue 24)
@dataclass(frozen=True)
class SecondSetPlan:
    """The paper builds every analysis on AIME'24 and again on AMC questions (Figs 6 and 9 beside
    Figs 2 and 3); the organism's second circuit question set plays AMC's role.

    Attributes:
        question_set: the generated second set (``organism/circuit2``: ``circuits.n_questions *
            circuits.n_samples`` problems of ``levels.second_circuit``, drawn like ``organism/circuit``
            and disjoint from it and from every eval set); the same samples, null and sizes as the first.
        roles: the page's claim roles traced on it (``emergence.modelruns.claim_roles``): ``sft`` (Fig 6),
            ``grpo`` (Fig 9, GRPO on the main data: ``grpo-hard``, OpenR1's role) and ``distill`` (Fig 14
            pools both sets per method).
        question_scale: the second set's questions per circuit, as a multiple of the first set's
            (``circuits.n_questions``): the second set is the confirmatory sample on which page 04's
            §4 claims are decided (the first set, at ``circuits.n_questions``, is their pilot).
        grpo_pool: trace every other GRPO run of the page on it too (not Fig 8's learning-rate run) and
            decide the GRPO-method claims (switching, reward tracking) on all of them pooled.
        null_quantile: the two sets agree unless the cross-set Jaccard of the final emergent sets lies
            wholly at or below this quantile of the within-set null (the Jaccard between two question
            samples of one set), and are said to agree when its whole interval lies above it.
    """

    question_set: str = "organism/circuit2"
    roles: tuple[str, ...] = ("sft", "grpo", "distill")
    null_quantile: float = 0.05
    question_scale: int = 4
    grpo_pool: bool = True


@dataclass(frozen=True)
class AgreementPlan:
    """The edge-level check of EAP-IG against exact edge patching (:mod:`thinking_sparks.emergence.edgecheck`).

    Attributes:
        edge_sample: edges patched beyond a circuit's top-n (all of which are patched) ...
        edge_strata: ... drawn evenly from this many bins of the attribution rank.
    """

    edge_sample: int = 1000
    edge_strata: int = 10


@dataclass(frozen=True)
class GeneralisationPlan:
    """Page 08's claims on the Llama organism (paper v2 Figs 10, 11, 18).

    Attributes:
        early_share: "GRPO adds heads after its first checkpoints" compares the final checkpoint's
            emergent count with that of the last checkpoint at or before this share of the run's
            steps (the first checkpoint when none is that early).
    """

    early_share: float = 0.2


# ------------------------------------------------------------------ page 06's Fig 5 rows (issue 21)
@dataclass(frozen=True)
class ThinkPlan:
    """Page 06's Fig 5 claims (success@1 up, pass@64 down when the think-off-only heads are zeroed).

    Attributes:
        k_curve_set: the eval set of Fig 5's curves (the paper's AIME'24): ``sizes.k_curve_problems``
            of its problems, ``sizes.k_curve_samples`` samples each, the same problems and sampling
            seeds in every condition.
    """

    k_curve_set: str = "organism/calibrated"


@dataclass(frozen=True)
class Plan:
    """The whole plan: one field per section."""

    circuits: CircuitPlan = field(default_factory=CircuitPlan)
    stats: StatsPlan = field(default_factory=StatsPlan)
    section4: Section4Plan = field(default_factory=Section4Plan)
    rules: RulesPlan = field(default_factory=RulesPlan)
    sizes: SizePlan = field(default_factory=SizePlan)
    organism: OrganismPlan = field(default_factory=OrganismPlan)
    levels: LevelsPlan = field(default_factory=LevelsPlan)
    size: CircuitSizePlan = field(default_factory=CircuitSizePlan)
    fig15: Fig15Plan = field(default_factory=Fig15Plan)
    second_set: SecondSetPlan = field(default_factory=SecondSetPlan)
    agreement: AgreementPlan = field(default_factory=AgreementPlan)
    generalisation: GeneralisationPlan = field(default_factory=GeneralisationPlan)
    think: ThinkPlan = field(default_factory=ThinkPlan)
    sae: SaePlan = field(default_factory=SaePlan)


#: the plan in force
PLAN = Plan()


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
        out = subprocess.run(["git", "log", "-1", "--format=%h %cs %s", "--", here.name, "plan_reasons.py"], cwd=here.parent,
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()
