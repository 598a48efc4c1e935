"""Every claim function's verdict on hand-built data whose right verdict is known.

For each verdict row: one input that clearly reproduces the claim, one that clearly does not, and one
at noise level that must be ``inconclusive``; then the edge cases that once decided a row by accident
(one problem, one random set, two or three checkpoints, one head, an empty circuit, a failed
precondition). No model runs: sample tables, head lists and fake traces are built here.

Sections: the verdict schema, the bootstrap helpers, the emergence claims (§4), the intervention
claims (Table 1/5, §6), the organism premises, the real-model page's claims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from thinking_sparks.emergence import claims as em
from thinking_sparks.emergence.sets import HeadSets
from thinking_sparks.evaluation.metrics import MIN_SETS, bootstrap_ci, paired_difference, sets_paired_difference
from thinking_sparks.interventions import claims as iv
from thinking_sparks.interventions.experiments import ExperimentResult
from thinking_sparks.organism import premises
from thinking_sparks.realmodel import claims as real
from thinking_sparks.verdicts import VERDICTS, Verdict, combine, decide

nan = math.nan
YES, NO, UNSURE = "reproduced", "not reproduced", "inconclusive"


def answers(condition: str, rate: float, n: int = 4, n_problems: int = 40, seed: int | None = None,
            difficulty: str = "hard", **cols) -> pd.DataFrame:
    """``n`` samples of each of ``n_problems`` problems: with ``seed`` None the first ``rate * n`` are
    correct on every problem (a known, constant difference); else each is correct with chance ``rate``."""
    ids = np.repeat([f"{difficulty}-{p:02d}" for p in range(n_problems)], n)
    index = np.tile(np.arange(n), n_problems)
    if seed is None:
        correct = index < round(rate * n)
    else:
        correct = np.random.default_rng(seed).random(n * n_problems) < rate
    return pd.DataFrame({"problem_id": ids, "difficulty": difficulty, "sample_index": index, "correct": correct,
                         "condition": condition, "set": difficulty, **cols})


def verdict_of(table: pd.DataFrame, claim: str) -> pd.Series:
    """The one row of ``table`` whose claim starts with ``claim``."""
    rows = table[table["claim"].str.startswith(claim)]
    assert len(rows) == 1, f"{len(rows)} rows for {claim!r} in {list(table['claim'])}"
    return rows.iloc[0]


def straddles(row: pd.Series, bound: float) -> bool:
    return row.ci_low < bound < row.ci_high


# --- the verdict schema (verdicts.py) -----------------------------------------------------------

@pytest.mark.parametrize("above, below", [(0.0, None), (None, 0.0), (0.5, 5 / 6)])
@pytest.mark.parametrize("point_decides", [False, True])
def test_an_interval_that_straddles_a_bound_is_always_inconclusive(above, below, point_decides):
    for bound in (b for b in (above, below) if b is not None):
        for lo, hi in ((bound - 0.1, bound + 0.1), (bound - 1e-9, bound + 1e-9)):
            v = Verdict("c", "§", "s", bound, lo, hi, above=above, below=below, point_decides=point_decides)
            assert v.verdict == UNSURE, (lo, hi, v)


def test_decide_three_known_cases():
    assert decide(0.3, 0.2, 0.4, above=0.0) == YES
    assert decide(-0.3, -0.4, -0.2, above=0.0) == NO
    assert decide(0.01, -0.05, 0.07, above=0.0) == UNSURE


def test_partly_only_for_a_claim_checked_in_parts():
    # one row is one part: an interval wholly below the criterion is not reproduced, whatever else it clears
    row = lambda lo, hi: Verdict("c", "§", "s", (lo + hi) / 2, lo, hi, above=10).verdict
    assert [row(11, 15), row(5, 9), row(5, 12), row(1, 3), row(2, 6)] == [YES, NO, UNSURE, NO, NO]
    # no interval gives partly; only combine does
    grid = [(lo, hi) for lo in np.linspace(-2, 2, 9) for hi in np.linspace(-2, 2, 9) if lo <= hi]
    assert all(decide((lo + hi) / 2, lo, hi, above=0.0) != "partly" for lo, hi in grid)
    assert {combine(p) for p in ([YES, NO], [YES, YES], [NO, NO], [YES, UNSURE])} == {"partly", YES, NO, UNSURE}
    assert set(VERDICTS) == {YES, "partly", NO, UNSURE}


# --- the bootstrap helpers (evaluation/metrics.py) -----------------------------------------------

def test_one_problem_gives_no_interval():
    assert all(math.isnan(x) for x in bootstrap_ci([0.75]))
    assert all(math.isnan(x) for x in bootstrap_ci([0.2, 0.4], n_boot=0))
    a, b = answers("a", 1.0, n_problems=1), answers("b", 0.0, n_problems=1)
    d = paired_difference(a, b, n_boot=200)
    assert d[0] == 1.0 and math.isnan(d[1]) and math.isnan(d[2])
    # before: (1.0, 1.0, 1.0), a zero-width interval that reproduced the claim from one problem
    assert Verdict("a beats b", "§", "pass@1", *d).verdict == UNSURE


def random_sets(rates: list[float], n_problems: int = 40) -> pd.DataFrame:
    return pd.concat([answers(f"random #{i}", r, n_problems=n_problems) for i, r in enumerate(rates)],
                     ignore_index=True)


def test_sets_paired_difference_three_known_cases():
    target = answers("ablate emergent", 0.25)
    value, lo, hi = sets_paired_difference(random_sets([0.75, 0.75, 1.0]), target, n_boot=500)
    assert value == pytest.approx(7 / 12) and 0.5 <= lo <= hi <= 0.75 and decide(value, lo, hi, 0.0) == YES
    value, lo, hi = sets_paired_difference(random_sets([0.0, 0.25, 0.0]), target, n_boot=500)
    assert value == pytest.approx(-1 / 6) and hi <= 0 and decide(value, lo, hi, 0.0) == NO
    # two sets far apart around the target: the variation between sets straddles 0
    rnd, target = random_sets([1.0, 0.0]), answers("ablate emergent", 0.25)
    value, lo, hi = sets_paired_difference(rnd, target, n_boot=500)
    assert (value, lo, hi) == (0.25, -0.25, 0.75) and decide(value, lo, hi, 0.0) == UNSURE
    # the old rule (sets averaged per problem before the interval) decided this by accident with a
    # zero-width (0.25, 0.25, 0.25); a constant difference now has no interval at all
    value, lo, hi = paired_difference(rnd, target, n_boot=500)
    assert value == pytest.approx(0.25) and math.isnan(lo) and math.isnan(hi)


def test_sets_paired_difference_needs_two_sets_and_the_same_problems():
    assert MIN_SETS == 2
    value, lo, hi = sets_paired_difference(random_sets([1.0]), answers("ablate emergent", 0.0), n_boot=200)
    assert value == 1.0 and math.isnan(lo) and math.isnan(hi)
    with pytest.raises(ValueError, match="same problems"):
        sets_paired_difference(random_sets([1.0, 0.5], n_problems=30), answers("x", 0.0), n_boot=10)
    with pytest.raises(ValueError, match="column 'seed'"):
        sets_paired_difference(random_sets([1.0, 0.5]), answers("x", 0.0), by="seed")


# --- the emergence claims, §4 (emergence/claims.py) ----------------------------------------------

@dataclass
class FakeTrace:
    """What the §4 claims read of a :class:`~thinking_sparks.emergence.trace.Trace`: the base circuit's
    heads and layers, the checkpoint circuits with signal (``live``) and the final head sets."""

    base_heads: list[str]
    checkpoints: list[list[str]]
    n_layers: int = 6

    @property
    def base(self) -> SimpleNamespace:
        return SimpleNamespace(heads=list(self.base_heads), n_layers=self.n_layers)

    def live(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(heads=list(h), has_signal=True) for h in self.checkpoints]

    def sets(self, i: int = -1) -> HeadSets:
        return HeadSets.from_sets(self.checkpoints[i], self.base_heads)


def heads(layers: list[int]) -> list[str]:
    """Distinct head names in the given layers (``L{l}H{j}``, j counting per layer)."""
    seen: dict[int, int] = {}
    out = []
    for layer in layers:
        out.append(f"L{layer}H{seen.get(layer, 0)}")
        seen[layer] = seen.get(layer, 0) + 1
    return out


def persisting(n_stay: int, n_leave: int) -> FakeTrace:
    """``n_stay + n_leave`` heads appear at the first checkpoint; ``n_leave`` of them are gone at the last."""
    new = heads([1 + i % 5 for i in range(n_stay + n_leave)])
    return FakeTrace(["L0H0"], [["L0H0", *new], ["L0H0", *new[:n_stay]]])


def test_ever_emergent_switched_stable_on_a_hand_made_sequence():
    tr = FakeTrace(["L0H0"], [["L0H0", "L1H0"], ["L1H1"], ["L1H0", "L1H1"]])
    assert em.ever_emergent(tr) == {"L1H0": [True, False, True], "L1H1": [True, True]}
    assert em._stable(tr) == (2, 2)
    assert em.ever_emergent(FakeTrace(["L0H0"], [["L0H0"]])) == {}


def table3(sft=(12, 11, 15), distill=(20, nan, nan), noise=(4.0, 10.0), retained=(0.6, 0.55, 0.7)) -> pd.DataFrame:
    """A :func:`~thinking_sparks.emergence.zoo.table3` of sft and distill (emergent, ci_low, ci_high)."""
    rows = [{"method": m, "emergent": e, "ci_low": lo, "ci_high": hi, "floor_mean": noise[0], "floor_q95": noise[1],
             "retained_share": retained[0], "retained_ci_low": retained[1], "retained_ci_high": retained[2]}
            for m, (e, lo, hi) in (("sft", sft), ("distill", distill))]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("ci, expected", [((11, 15), YES), ((1, 3), NO), ((8, 12), UNSURE), ((5, 9), NO),
                                          ((10, 14), UNSURE), ((nan, nan), UNSURE)])
def test_emergent_heads_against_the_same_size_floor(ci, expected):
    """Reproduced only when the whole CI is above floor_q95 (10); the floor's mean (4) decides
    nothing (no ``partly``), and a count without an interval is not decided by its value."""
    row = verdict_of(em.section4_verdicts({}, table3(sft=(12, *ci)), {}), "SFT adds many emergent heads")
    assert row.verdict == expected


def test_an_unmeasured_noise_floor_is_an_inconclusive_row_not_a_missing_one():
    v = em.section4_verdicts({}, table3(noise=(nan, nan)), {})
    row = verdict_of(v, "SFT adds many emergent heads")  # before: no row at all
    assert row.verdict == UNSURE and "not measured" in row.criterion


# persistence, the layer, GRPO-vs-SFT, switching, reward and retention rows: tests/test_claims4.py

@pytest.mark.parametrize("stay, leave, expected", [(10, 0, YES), (0, 10, NO), (5, 5, UNSURE)])
def test_heads_persist(stay, leave, expected):
    row = verdict_of(em.section4_verdicts({"sft": persisting(stay, leave)}, table3(), {}), "SFT heads persist")
    assert row.value == stay / 10 and row.verdict == expected


# --- the intervention claims, Table 1 / Table 5 / §6 (interventions/claims.py) ---------------------

def result(*frames: pd.DataFrame) -> ExperimentResult:
    return ExperimentResult(pd.DataFrame(), pd.concat(frames, ignore_index=True))


@pytest.mark.parametrize("none, emergent, expected", [
    (answers("no ablation", 0.75, seed=11), answers("ablate emergent", 0.25, seed=12), YES),
    (answers("no ablation", 0.25, seed=13), answers("ablate emergent", 0.75, seed=14), NO),
    (answers("no ablation", 0.5, seed=1), answers("ablate emergent", 0.5, seed=2), UNSURE),
    (answers("no ablation", 1.0, n_problems=1), answers("ablate emergent", 0.0, n_problems=1), UNSURE),
])
def test_ablating_emergent_heads_lowers_pass_at_1(none, emergent, expected):
    row = verdict_of(iv.ablation_verdicts(result(none, emergent), n_boot=500), "Zero-ablating the emergent heads")
    assert row.verdict == expected
    if expected == UNSURE and len(none) > 4:
        assert straddles(row, 0.0)


@pytest.mark.parametrize("rates, expected", [([0.75, 0.75, 1.0], YES), ([0.0, 0.25, 0.0], NO),
                                             ([1.0, 0.0], UNSURE), ([1.0], UNSURE)])
def test_emergent_heads_against_random_sets(rates, expected):
    res = result(answers("no ablation", 0.75), answers("ablate emergent", 0.25), random_sets(rates))
    row = verdict_of(iv.ablation_verdicts(res, n_boot=500), "Ablating emergent heads hurts more")
    assert row.verdict == expected
    assert ("cannot be measured" in row.criterion) == (len(rates) < MIN_SETS)
    assert f"mean over {len(rates)} seeds" in row.statistic


@pytest.mark.parametrize("control, expected", [(answers("ablate control", 0.0), YES),
                                               (answers("ablate control", 0.75, seed=15), NO),
                                               (answers("ablate control", 0.25, n=8, seed=3), UNSURE)])
def test_ablating_the_control_circuit_collapses_accuracy(control, expected):
    # Table 1 (1.5B): TriviaQA heads zeroed 0.00 against reasoning heads zeroed 26.6 (AIME'24): the control
    # ablation must hurt more than the emergent one (before: an invented bound, half the unablated pass@1)
    n = control.sample_index.nunique()
    res = result(answers("no ablation", 0.75, n=n), answers("ablate emergent", 0.25, n=n, seed=16), control)
    row = verdict_of(iv.ablation_verdicts(res, n_boot=500), "Ablating the control")
    assert row.verdict == expected and row.criterion == "CI above 0" and "26.6 − 0.00" in row.statistic
    if expected == UNSURE:
        assert straddles(row, 0.0)


def scaled(hard: float, easy: float, seed: int = 0, label: str = "x1.3 sft",
           order: tuple[str, ...] = ("hard", "easy")) -> ExperimentResult:
    """The unmodified base at 0.5 and ``label`` at ``hard`` / ``easy`` on the two sets, listed in ``order``."""
    rates = {"hard": hard, "easy": easy}
    base = [answers("no intervention", 0.5, difficulty=d, seed=seed + i) for i, d in enumerate(order)]
    up = [answers(label, rates[d], difficulty=d, seed=seed + 10 + i) for i, d in enumerate(order)]
    return result(*base, *up)


# Table 5: x1.3 SFT heads lower AIME'24 (13.3 -> 0.00) and raise MATH (56.0 -> 58.2); before, the rows
# tested the opposite ("helps hard, hurts easy") and took the hard set from the list's last position
@pytest.mark.parametrize("res, expected", [(scaled(0.25, 0.75), [YES, YES]), (scaled(0.75, 0.25), [NO, NO]),
                                           (scaled(0.5, 0.5, seed=4), [UNSURE, UNSURE]),
                                           (scaled(0.25, 0.75, order=("easy", "hard")), [YES, YES])])
def test_scaling_sft_heads_lowers_hard_raises_easy(res, expected):
    v = iv.scaling_verdicts(res, n_boot=500)
    assert list(v.claim) == ["Scaling up (x1.3) SFT's heads in the base model lowers hard-set pass@1",
                             "Scaling up (x1.3) SFT's heads in the base model raises easy-set pass@1"]
    assert list(v.verdict) == expected and "13.3" in v.statistic.iloc[0] and "58.2" in v.statistic.iloc[1]
    if expected[0] == UNSURE:
        assert straddles(v.iloc[0], 0.0) and straddles(v.iloc[1], 0.0)


def test_table5_rows_by_condition_and_only_with_both_difficulties():
    v = iv.scaling_verdicts(scaled(0.1, 0.1, label="ablate sft"), n_boot=300)  # zeroing lowers both (0.00, 0.10)
    assert list(v.verdict) == [YES, YES] and all("lowers" in c for c in v.claim)
    v = iv.scaling_verdicts(scaled(0.25, 0.75, label="x0.5 grpo early"), n_boot=300)
    assert list(v.verdict) == [YES, YES] and v.claim.iloc[0].startswith("Scaling down (x0.5) GRPO early")
    assert iv.scaling_verdicts(scaled(0.25, 0.75, label="x0.5 sft"), n_boot=300).empty  # not in Table 5
    hard_only = result(answers("no intervention", 0.5, seed=1), answers("x1.3 sft", 0.25, seed=2))
    assert iv.scaling_verdicts(hard_only).empty


def boot(diffs: list[int], on_only: list[int]) -> pd.DataFrame:
    """An ``overlap_bootstrap`` frame whose resamples give these ``n_b - n_a`` and ``only_a`` counts."""
    return pd.DataFrame({"n_a": [5] * len(diffs), "n_b": [5 + d for d in diffs], "only_a": on_only})


NULL = np.array([1.0, 2.0, 2.0, 3.0, 4.0])  # same-mode null: 95% quantile 3.8


@pytest.mark.parametrize("on, off, b, expected", [
    (["L0H1"], ["L0H1", "L1H0"], boot([1, 2, 3, 2] * 10, [0, 1, 0, 2] * 10), [YES, YES]),
    (["L0H1", "L2H2"], ["L0H1"], boot([-1, -2, -3, -2] * 10, [4, 5, 6, 5] * 10), [NO, NO]),
    (["L0H1", "L2H2"], ["L0H1", "L1H0"], boot([-1, 0, 1, 2] * 10, [2, 3, 4, 5] * 10), [UNSURE, UNSURE]),
    ([], ["L0H1", "L1H0"], boot([1, 2] * 10, [0, 1] * 10), [UNSURE, UNSURE]),
    (["L0H1"], [], boot([1, 2] * 10, [0, 1] * 10), [UNSURE, UNSURE]),
    (["L0H1"], ["L0H1", "L1H0"], None, [UNSURE, UNSURE]),
])
def test_think_off_head_counts(on, off, b, expected):
    # before: decided by the point counts (the paper gives none: Fig 17 shows more think-off heads)
    counts = iv.think_verdicts(on, off, None, boot=b, null=NULL)
    assert list(counts.verdict) == expected and len(counts) == 2
    # before: an empty think-on circuit passed "no think-only heads" (0 missing heads)
    assert all(("is empty" in c) == (not on or not off) for c in counts.criterion)
    assert (b is None) == ("not measured" in counts.criterion.iloc[0])
    assert "3.8" in counts.criterion.iloc[1]


def test_no_think_only_heads_is_not_decided_by_a_zero_width_interval():
    # every resample 0 think-on-only heads: the percentile interval is [0, 0]. The old rule "CI below 0.5"
    # could only ever be met by that degenerate interval; the bound is now the same-mode null
    zero = boot([1, 2] * 10, [0] * 20)
    row = iv.think_verdicts(["L0H1"], ["L0H1", "L1H0"], None, boot=zero, null=NULL).iloc[1]
    assert (row.ci_low, row.ci_high) == (0.0, 0.0) and row.verdict == YES and "0.5" not in row.criterion
    row = iv.think_verdicts(["L0H1"], ["L0H1", "L1H0"], None, boot=zero, null=None).iloc[1]
    assert row.verdict == UNSURE and "null was not measured" in row.criterion  # no null, no bound, no verdict


def at(condition: str, hits: list[int], n: int = 8, n_problems: int = 30, every: int = 3) -> pd.DataFrame:
    """Samples correct exactly at the sample indices ``hits``, on all problems but every ``every``-th
    (those never right: problems differ, so a difference is not one constant)."""
    out = answers(condition, 0.0, n=n, n_problems=n_problems)
    keep = out.problem_id.str[-2:].astype(int) % every != 0
    return out.assign(correct=out.sample_index.isin(hits) & keep)


def fig5(off: pd.DataFrame, ablated: pd.DataFrame) -> pd.DataFrame:
    return iv.think_verdicts(["L0H1"], ["L0H1", "L1H0"], pd.concat([off, ablated]), n_boot=500).iloc[2:]


@pytest.mark.parametrize("off, ablated, expected", [
    (at("think off", [4]), at("think off + ablation", [0]), YES),
    (at("think off", [0]), at("think off + ablation", [4], every=2), NO),
    (answers("think off", 0.5, n=8, seed=5), answers("think off + ablation", 0.5, n=8, seed=6), UNSURE),
])
def test_ablating_think_off_only_heads_raises_success_at_1(off, ablated, expected):
    assert fig5(off, ablated).iloc[0].verdict == expected


@pytest.mark.parametrize("off, ablated, expected", [
    (at("think off", [4]), at("think off + ablation", []), YES),
    (at("think off", []), at("think off + ablation", [0], every=2), NO),
    (answers("think off", 0.1, n=8, seed=7), answers("think off + ablation", 0.1, n=8, seed=8), UNSURE),
])
def test_ablating_think_off_only_heads_lowers_pass_at_k(off, ablated, expected):
    row = fig5(off, ablated).iloc[1]
    assert row.claim == "... but lowers pass@8" and row.verdict == expected


# --- the organism's premises (organism/premises.py) ------------------------------------------------

def cell(run: str, solved: float, mode: str = "default", n: int = 4, n_problems: int = 100,
         seed: int | None = None) -> pd.DataFrame:
    """One evaluation cell: problems ``0..solved-1`` always solved (``seed`` None), else every sample
    correct with chance ``solved`` (a shared per-problem rate would be the same noise on both sides)."""
    if seed is None:
        correct = np.repeat(np.arange(n_problems) < solved, n)
    else:
        correct = np.random.default_rng(seed).random(n * n_problems) < solved
    return pd.DataFrame({"run": run, "mode": mode, "difficulty": "hard",
                         "problem_id": np.repeat([f"p{i:03d}" for i in range(n_problems)], n),
                         "sample_index": np.tile(np.arange(n), n_problems), "correct": correct})


def reward_rows(change: float, lo: float, hi: float) -> pd.DataFrame:
    return pd.DataFrame([{"run": "grpo-hard", "term": "accuracy", "window": 25, "change": change,
                          "ci_low": lo, "ci_high": hi}])


NO_REWARDS = reward_rows(0.0, 0.0, 0.0).iloc[:0]


@pytest.mark.parametrize("run, claim", [("sft", "SFT raises"), ("distill", "distillation raises"),
                                        ("grpo-hard", "grpo-hard raises")])
@pytest.mark.parametrize("subject, base, expected", [((38,), (30,), YES), ((20,), (30,), NO),
                                                     ((0.3, "default", 4, 100, 1), (0.3, "default", 4, 100, 2), UNSURE)])
def test_post_training_raises_hard_pass_at_1(run, claim, subject, base, expected):
    samples = pd.concat([cell(run, *subject), cell("base", *base)])
    row = verdict_of(premises.claims(samples, NO_REWARDS, n_boot=500), claim)
    assert row.verdict == expected
    if expected == UNSURE:
        assert straddles(row, 0.0)


def test_premise_edge_cases():
    one = pd.concat([cell("sft", 1, n_problems=1), cell("base", 0, n_problems=1)])
    row = verdict_of(premises.claims(one, NO_REWARDS), "SFT raises")
    assert row.value == 1.0 and row.verdict == UNSURE  # before: [1, 1], reproduced by one problem
    row = verdict_of(premises.claims(cell("sft", 38), NO_REWARDS), "SFT raises")  # before: no row
    assert row.verdict == UNSURE and "base default was not evaluated" in row.criterion
    assert premises.claims(cell("base", 30), NO_REWARDS).empty  # nothing asked, nothing checked


@pytest.mark.parametrize("think, no_think, expected", [((40,), (20,), YES), ((10,), (20,), NO),
                                                       ((0.2, 4, 100, 3), (0.2, 4, 100, 4), UNSURE)])
def test_thinking_on_beats_thinking_off(think, no_think, expected):
    samples = pd.concat([cell("hybrid", think[0], "think", *think[1:]), cell("hybrid", no_think[0], "no_think",
                                                                             *no_think[1:])])
    assert verdict_of(premises.claims(samples, NO_REWARDS, n_boot=500), "thinking on beats").verdict == expected


@pytest.mark.parametrize("teacher, expected", [((60,), YES), ((20,), NO), ((0.4, 4, 100, 5), UNSURE)])
def test_the_teacher_is_strongest(teacher, expected):
    students = [cell("sft", 40), cell("base", 10)]
    if expected == UNSURE:
        students = [cell("sft", 0.4, seed=6), cell("base", 0.1, seed=7)]
    samples = pd.concat([cell("teacher", teacher[0], "default", *teacher[1:]), *students])
    row = verdict_of(premises.claims(samples, NO_REWARDS, n_boot=500), "the teacher is the strongest")
    # before: compared only with the model of the closest point estimate; now with every model
    assert row.verdict == expected and "teacher minus sft," in row.statistic and "of 2 other models" in row.statistic


@pytest.mark.parametrize("ci, expected", [((0.01, 0.09), YES), ((-0.09, -0.01), NO), ((-0.02, 0.04), UNSURE)])
def test_grpo_reward_rises(ci, expected):
    row = verdict_of(premises.claims(cell("base", 10), reward_rows(sum(ci) / 2, *ci)), "GRPO accuracy reward")
    assert row.verdict == expected


# --- the real-model page's claims (realmodel/claims.py) -------------------------------------------

def test_mean_layer_known_values():
    value, lo, hi, null = real.mean_layer(["L0H0", "L2H1", "L3H0", "L5H2"], 6, n_boot=500)
    assert (value, null) == (2.5, 2.5) and lo < 2.5 < hi
    value, lo, hi, null = real.mean_layer(["L4H0", "L4H1"], 9)  # one layer only: nothing to resample
    assert (value, null) == (4.0, 4.0) and math.isnan(lo) and math.isnan(hi)
    assert math.isnan(real.mean_layer([], 9)[0])


OV = {"jaccard": 0.4, "jaccard_low": 0.3, "jaccard_high": 0.5, "n_on": 4, "n_off": 10, "diff_low": 3.0,
      "diff_high": 8.0, "on_only": 0, "on_only_low": 0.0, "on_only_high": 1.0, "on_only_null": 2.5}


def style_results(random_rates=(0.5, 0.5, 0.25), ablated=0.9, scaled_rate=0.25, direct=("L3H0", "L4H1")):
    """``style_interventions``' output: the direct style's conditions; the think style has no heads of its own.
    Table 2's direction: zeroing the direct-only heads raises direct accuracy (0.5 -> ``ablated``)."""
    d = [answers("no ablation", 0.5, n=8, seed=20), answers("ablate direct-only", ablated, n=8, seed=21),
         answers("x0.5 direct-only", scaled_rate, n=8, seed=22)]
    d += [answers(f"random #{i}", r, n=8, seed=30 + i) for i, r in enumerate(random_rates)]
    ablated_curve = at("ablate direct-only", [0])  # half the problems right at once, half never
    ablated_curve["correct"] &= ablated_curve.problem_id.str[-2:].astype(int) % 2 == 0
    curves = pd.concat([at("no ablation", [4]), ablated_curve], ignore_index=True)
    return {"heads": {"think": [], "direct": list(direct)}, "think": result(answers("no ablation", 0.5)),
            "direct": result(*d) if direct else result(answers("no ablation", 0.75, n=8)),
            "curves": result(curves)}


def page07(acc=(0.1, 0.05, 0.15), late=12, early=0, ov=None, styles=None) -> pd.DataFrame:
    emergent = heads([2 + i % 4 for i in range(late)] + [i % 2 for i in range(early)])
    tr = FakeTrace(["L0H9"], [["L0H9", *emergent]])
    table = table3().iloc[:1]
    return real.real_verdicts("sft", tr, table, SimpleNamespace(diff=acc), OV if ov is None else ov,
                              styles or style_results(), n_boot=500)


def test_page07_known_table():
    v = page07()
    assert v.claim.tolist() == [
        "Post-training on worked solutions raises accuracy", "SFT adds many emergent heads",
        "SFT heads persist to the end of training", "SFT's emergent heads sit in mid-late layers",
        "Think-off (direct) circuits recruit more heads than think-on (step-by-step) ones",
        "Think-on heads are (almost) all in the think-off circuit: no think-only heads",
        "Zeroing the heads only the think-off (direct) circuit recruits raises direct-style accuracy",
        "Zeroing the direct-only heads raises direct-style accuracy more than zeroing as many random heads",
        "Scaling the think-off-only heads down (x0.5) lowers think-off accuracy",
        "Ablating think-off-only heads raises success@1 in think-off mode", "... but lowers pass@8"]
    assert v.verdict.tolist() == [YES] * 11


@pytest.mark.parametrize("acc, expected", [((0.1, 0.05, 0.15), YES), ((-0.1, -0.15, -0.05), NO),
                                           ((0.01, -0.04, 0.06), UNSURE)])
def test_page07_accuracy(acc, expected):
    assert verdict_of(page07(acc=acc), "Post-training on worked").verdict == expected


@pytest.mark.parametrize("late, early, expected", [(12, 0, YES), (0, 12, NO), (8, 4, UNSURE)])
def test_page07_mid_late_layers(late, early, expected):
    # the mean layer of the emergent heads (layers 2..5 late, 0..1 early) against that of all heads of the
    # fake 6-layer model, 2.5 (before: a share in layers >= n/3 against an invented 2/3)
    row = verdict_of(page07(late=late, early=early), "SFT's emergent heads sit in mid-late")
    layers = [2 + i % 4 for i in range(late)] + [i % 2 for i in range(early)]
    assert row.value == pytest.approx(np.mean(layers)) and row.verdict == expected
    assert row.criterion == "CI above the mean layer of all heads (2.5 of 0..5)"


@pytest.mark.parametrize("diff, on_only, expected", [
    ((6, 3.0, 8.0), (0, 0.0, 1.0), [YES, YES]),
    ((-6, -8.0, -3.0), (3, 3.0, 5.0), [NO, NO]),
    ((1, -2.0, 4.0), (2, 1.0, 4.0), [UNSURE, UNSURE]),
])
def test_page07_style_circuits(diff, on_only, expected):
    ov = OV | {"n_off": OV["n_on"] + diff[0], "diff_low": diff[1], "diff_high": diff[2], "on_only": on_only[0],
               "on_only_low": on_only[1], "on_only_high": on_only[2]}
    v = page07(ov=ov)
    got = [verdict_of(v, c).verdict for c in ("Think-off (direct) circuits recruit", "Think-on heads are")]
    assert got == expected


@pytest.mark.parametrize("change, why", [
    ({"n_on": 0, "on_only": 0, "on_only_low": 0.0, "on_only_high": 0.0}, "step-by-step circuit is empty"),
    ({"jaccard_low": nan, "diff_low": nan, "diff_high": nan, "on_only_low": nan, "on_only_high": nan}, "no signal"),
])
def test_page07_empty_or_silent_circuit_is_inconclusive_with_a_reason(change, why):
    v = page07(ov=OV | change)  # before: the empty circuit passed both rows; the silent one dropped them
    for claim in ("Think-off (direct) circuits recruit", "Think-on heads are"):
        row = verdict_of(v, claim)
        assert row.verdict == UNSURE and why in row.criterion


@pytest.mark.parametrize("ablated, expected", [(0.9, YES), (0.1, NO), (None, UNSURE)])
def test_page07_zeroing_direct_heads_raises_direct_accuracy(ablated, expected):
    # Table 2: think off 30.0 -> 36.6 AIME'24 with its think-off-only heads zeroed (before: "hurts")
    styles = style_results(ablated=0.5 if ablated is None else ablated)
    if ablated is None:
        s = styles["direct"].samples
        styles["direct"] = result(s[s.condition != "ablate direct-only"],
                                  answers("ablate direct-only", 0.5, n=8, seed=23))
    row = verdict_of(page07(styles=styles), "Zeroing the heads only the think-off (direct) circuit recruits raises "
                                           "direct-style accuracy")
    assert row.verdict == expected and "36.6 − 30.0" in row.statistic


@pytest.mark.parametrize("rates, expected", [((0.5, 0.5, 0.25), YES), ((1.0, 1.0, 0.95), NO),
                                             ((1.0, 0.0), UNSURE), ((1.0,), UNSURE)])
def test_page07_direct_heads_against_random_sets(rates, expected):
    row = verdict_of(page07(styles=style_results(random_rates=rates)), "Zeroing the direct-only heads")
    assert row.verdict == expected
    # the page's seeds = 1: one random set says nothing about the spread between sets (before: reproduced)
    assert ("1 random set: the variation between sets cannot be measured" in row.criterion) == (len(rates) == 1)


def test_page07_without_direct_heads_or_random_sets_says_why():
    row = verdict_of(page07(styles=style_results(direct=())), "Zeroing the heads only the think-off")
    assert row.verdict == UNSURE and "no direct-only heads" in row.criterion
    row = verdict_of(page07(styles=style_results(random_rates=())), "Zeroing the direct-only heads")
    assert row.verdict == UNSURE and "no random sets" in row.criterion


@pytest.mark.parametrize("rate, expected", [(0.25, YES), (0.9, NO), (None, UNSURE)])
def test_page07_scaling_direct_heads(rate, expected):
    styles = style_results(scaled_rate=0.5 if rate is None else rate)
    if rate is None:  # both sides sampled at 0.5: only noise between them
        s = styles["direct"].samples
        styles["direct"] = result(s[s.condition != "x0.5 direct-only"], answers("x0.5 direct-only", 0.5, n=8, seed=9))
    row = verdict_of(page07(styles=styles), "Scaling the think-off-only heads down")
    assert row.verdict == expected
