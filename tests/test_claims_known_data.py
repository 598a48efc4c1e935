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
from thinking_sparks.evaluation.metrics import (MIN_SETS, bootstrap_ci, paired_difference,
                                                sets_paired_difference)
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
@pytest.mark.parametrize("partly_above", [None, -10.0])
@pytest.mark.parametrize("point_decides", [False, True])
def test_an_interval_that_straddles_a_bound_is_always_inconclusive(above, below, partly_above, point_decides):
    for bound in (b for b in (above, below) if b is not None):
        for lo, hi in ((bound - 0.1, bound + 0.1), (bound - 1e-9, bound + 1e-9)):
            v = Verdict("c", "§", "s", bound, lo, hi, above=above, below=below, partly_above=partly_above,
                        point_decides=point_decides)
            assert v.verdict == UNSURE, (lo, hi, v)


def test_decide_three_known_cases():
    assert decide(0.3, 0.2, 0.4, above=0.0) == YES
    assert decide(-0.3, -0.4, -0.2, above=0.0) == NO
    assert decide(0.01, -0.05, 0.07, above=0.0) == UNSURE


def test_partly_only_for_a_claim_checked_in_parts():
    # partly_above makes two parts (noise mean 4, its 95th percentile 10): one met, one wholly missed
    row = lambda lo, hi: Verdict("c", "§", "s", (lo + hi) / 2, lo, hi, above=10, partly_above=4).verdict
    assert [row(11, 15), row(5, 9), row(5, 12), row(1, 3), row(2, 6)] == [YES, "partly", UNSURE, NO, NO]
    # without parts, no interval gives partly
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
    # the old rule (sets averaged per problem before the interval) decided this by accident
    assert paired_difference(rnd, target, n_boot=500) == pytest.approx((0.25, 0.25, 0.25))


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


def switching(n_switch: int, n_steady: int) -> FakeTrace:
    """``n_switch`` heads leave once and come back; ``n_steady`` stay on throughout."""
    new = heads([1 + i % 5 for i in range(n_switch + n_steady)])
    return FakeTrace(["L0H0"], [new, new[n_switch:], new])


def test_ever_emergent_switched_stable_on_a_hand_made_sequence():
    tr = FakeTrace(["L0H0"], [["L0H0", "L1H0"], ["L1H1"], ["L1H0", "L1H1"]])
    assert em.ever_emergent(tr) == {"L1H0": [True, False, True], "L1H1": [True, True]}
    assert em._switched(tr) == (1, 2) and em._stable(tr) == (2, 2)
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


@pytest.mark.parametrize("stay, leave, expected", [(10, 0, YES), (0, 10, NO), (5, 5, UNSURE)])
def test_heads_persist(stay, leave, expected):
    row = verdict_of(em.section4_verdicts({"sft": persisting(stay, leave)}, table3(), {}), "SFT heads persist")
    assert row.value == stay / 10 and row.verdict == expected


def test_layer_boot_known_cases():
    early, late = heads([0, 0, 1, 1, 1, 0]), heads([4, 5, 5, 4, 4, 5])
    value, lo, hi = em._layer_boot(early, late, 6)
    assert value == pytest.approx((0.5 - 4.5) / 5) and hi < 0
    value, lo, hi = em._layer_boot(heads([2, 3]), ["L2H5", "L3H5"], 6)
    assert value == 0.0 and lo < 0 < hi
    assert em.MIN_HEADS == 2
    value, lo, hi = em._layer_boot(["L0H0"], ["L5H0"], 6)  # before: a zero-width interval at -1.0
    assert value == -1.0 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(x) for x in em._layer_boot([], ["L5H0"], 6))


@pytest.mark.parametrize("distill, sft, expected", [
    ([0, 0, 1, 1, 1, 0], [4, 5, 5, 4, 4, 5], YES),
    ([4, 5, 5, 4, 4, 5], [0, 0, 1, 1, 1, 0], NO),
    ([1, 2, 3, 4], [1, 2, 3, 4], UNSURE),
    ([0], [5], UNSURE),  # one head a side decides nothing (before: reproduced)
])
def test_distillation_heads_sit_earlier(distill, sft, expected):
    # distinct names per side: the sft heads sit at head index 7+ so that none is shared
    traces = {"distill": FakeTrace(["L0H9"], [heads(distill)]),
              "sft": FakeTrace(["L0H9"], [[f"L{layer}H{7 + j}" for j, layer in enumerate(sft)]])}
    row = verdict_of(em.section4_verdicts(traces, table3(), {}), "Distillation's emergent heads sit in earlier")
    assert row.verdict == expected
    assert ("needs 2 heads a side" in row.criterion) == (len(distill) < 2)


@pytest.mark.parametrize("grpo, sft, expected", [((2, 5), (10, 14), YES), ((10, 14), (2, 5), NO),
                                                 ((6, 11), (7, 10), UNSURE)])
def test_grpo_adds_fewer_heads(grpo, sft, expected):
    t = table3().astype({"emergent": float})
    t = pd.concat([t, t.iloc[:1].assign(method="grpo-hard")], ignore_index=True)
    t.loc[t.method == "grpo-hard", "emergent"] = sum(grpo) / 2
    t.loc[t.method == "sft", "emergent"] = sum(sft) / 2
    rng = np.random.default_rng(0)
    t.attrs["boot"] = {run: pd.DataFrame({"emergent": rng.integers(lo, hi + 1, 200)})
                       for run, (lo, hi) in (("grpo-hard", grpo), ("sft", sft))}
    assert verdict_of(em.section4_verdicts({}, t, {}), "GRPO adds fewer").verdict == expected


@pytest.mark.parametrize("grpo, sft, expected", [
    ((10, 0), (0, 10), YES),  # every GRPO head switches, no SFT head does
    ((0, 10), (5, 5), NO),
    ((5, 5), (5, 5), UNSURE),
    ((10, 0), (0, 0), UNSURE),  # no SFT heads to compare with
])
def test_grpo_switches_heads(grpo, sft, expected):
    traces = {"grpo-hard": switching(*grpo), "sft": switching(*sft)}
    row = verdict_of(em.section4_verdicts(traces, table3(), {}), "GRPO switches")
    assert row.verdict == expected


def rewards(new_heads, reward) -> dict:
    from thinking_sparks.emergence.stats import permutation_p, spearman

    pc = pd.DataFrame({"step": range(len(reward)), "new_heads": new_heads, "reward": reward})
    return {"grpo-hard": {"n": len(pc), "spearman": spearman(new_heads, reward),
                          "p": permutation_p(new_heads, reward, 200), "per_checkpoint": pc}}


@pytest.mark.parametrize("new_heads, reward, expected", [
    (list(range(12)), [0.1 * i for i in range(12)], YES),
    (list(range(12)), [1 - 0.1 * i for i in range(12)], NO),
    ([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8], [0.2, 0.7, 0.1, 0.8, 0.2, 0.8, 0.4, 0.5, 0.9, 0.0, 0.3, 0.6], UNSURE),
    ([1, 2, 3], [0.1, 0.2, 0.3], UNSURE),  # rho = 1 over three checkpoints (before: reproduced)
    ([1, 2], [0.1, 0.2], UNSURE),
])
def test_new_heads_track_the_reward(new_heads, reward, expected):
    row = verdict_of(em.section4_verdicts({}, table3(), rewards(new_heads, reward)), "The number of new heads")
    assert row.verdict == expected
    assert ("needs 4 checkpoints" in row.criterion) == (len(reward) < em.MIN_CHECKPOINTS)


def test_spearman_boot_known_cases():
    assert em._spearman_boot(range(12), range(12), n_boot=300) == pytest.approx((1.0, 1.0))
    zigzag = [0.3, 0.1, 0.5, 0.2, 0.6, 0.0, 0.4, 0.8, 0.7, 0.9, 1.0, 0.05]  # rho 0.39 over 12 checkpoints
    lo, hi = em._spearman_boot(range(12), zigzag, n_boot=300)
    assert lo < 0 and 0.39 < hi < 1
    assert all(math.isnan(x) for x in em._spearman_boot([1, 2, 3], [1, 2, 3]))


@pytest.mark.parametrize("share, expected", [((0.65, 0.6, 0.7), YES), ((0.95, 0.9, 0.99), NO),
                                             ((0.55, 0.45, 0.65), UNSURE)])
def test_two_thirds_of_base_heads_retained(share, expected):
    row = verdict_of(em.section4_verdicts({}, table3(retained=share), {}), "About two-thirds")
    assert row.verdict == expected


# --- the intervention claims, Table 1 / Table 5 / §6 (interventions/claims.py) ---------------------

def result(*frames: pd.DataFrame) -> ExperimentResult:
    return ExperimentResult(pd.DataFrame(), pd.concat(frames, ignore_index=True))


@pytest.mark.parametrize("none, emergent, expected", [
    (answers("no ablation", 0.75), answers("ablate emergent", 0.25), YES),
    (answers("no ablation", 0.25), answers("ablate emergent", 0.75), NO),
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
                                               (answers("ablate control", 0.75), NO),
                                               (answers("ablate control", 0.375, n=8, seed=3), UNSURE)])
def test_ablating_the_control_circuit_collapses_accuracy(control, expected):
    none = answers("no ablation", 0.75, n=control.sample_index.nunique())
    res = result(none, answers("ablate emergent", 0.25, n=none.sample_index.nunique()), control)
    row = verdict_of(iv.ablation_verdicts(res, n_boot=500), "Ablating the control")
    assert row.verdict == expected and "0.375" in row.criterion
    if expected == UNSURE:
        assert straddles(row, 0.375)


def scaled(hard: float, easy: float, seed: int | None = None) -> ExperimentResult:
    base = [answers("no intervention", 0.5, difficulty=d, seed=None if seed is None else seed + i)
            for i, d in enumerate(("hard", "easy"))]
    up = [answers("x1.3 sft", r, difficulty=d, seed=None if seed is None else seed + 10 + i)
          for i, (d, r) in enumerate((("hard", hard), ("easy", easy)))]
    return result(*base, *up)


@pytest.mark.parametrize("res, expected", [(scaled(0.75, 0.25), [YES, YES]), (scaled(0.25, 0.75), [NO, NO]),
                                           (scaled(0.5, 0.5, seed=4), [UNSURE, UNSURE])])
def test_scaling_sft_heads_helps_hard_hurts_easy(res, expected):
    v = iv.scaling_verdicts(res, n_boot=500)
    assert list(v.verdict) == expected
    if expected[0] == UNSURE:
        assert straddles(v.iloc[0], 0.0) and straddles(v.iloc[1], 0.0)


@pytest.mark.parametrize("on, off, expected", [(["L0H1"], ["L0H1", "L1H0"], [YES, YES]),
                                               (["L0H1", "L2H2"], ["L0H1"], [NO, NO]),
                                               (["L0H1", "L2H2"], ["L0H1", "L2H2"], [NO, YES]),
                                               ([], ["L0H1", "L1H0"], [UNSURE, UNSURE]),
                                               (["L0H1"], [], [UNSURE, UNSURE])])
def test_think_off_head_counts(on, off, expected):
    curves = pd.concat([answers("think off", 0.5), answers("think off + ablation", 0.5)])
    v = iv.think_verdicts(on, off, curves, n_boot=100)
    counts = v.iloc[:2]
    assert list(counts.verdict) == expected
    # before: an empty think-on circuit passed "no think-only heads" (0 missing heads)
    assert all(("is empty" in c) == (not on or not off) for c in counts.criterion)


def at(condition: str, hits: list[int], n: int = 8, n_problems: int = 30) -> pd.DataFrame:
    """Samples correct exactly at the sample indices ``hits`` on every problem."""
    out = answers(condition, 0.0, n=n, n_problems=n_problems)
    return out.assign(correct=out.sample_index.isin(hits))


def fig5(off: pd.DataFrame, ablated: pd.DataFrame) -> pd.DataFrame:
    return iv.think_verdicts(["L0H1"], ["L0H1", "L1H0"], pd.concat([off, ablated]), n_boot=500).iloc[2:]


@pytest.mark.parametrize("off, ablated, expected", [
    (at("think off", [4]), at("think off + ablation", [0]), YES),
    (at("think off", [0]), at("think off + ablation", [4]), NO),
    (answers("think off", 0.5, n=8, seed=5), answers("think off + ablation", 0.5, n=8, seed=6), UNSURE),
])
def test_ablating_think_off_only_heads_raises_success_at_1(off, ablated, expected):
    assert fig5(off, ablated).iloc[0].verdict == expected


@pytest.mark.parametrize("off, ablated, expected", [
    (at("think off", [4]), at("think off + ablation", []), YES),
    (at("think off", []), at("think off + ablation", [0]), NO),
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
    assert row.verdict == expected and "(sft)" in row.statistic


@pytest.mark.parametrize("ci, expected", [((0.01, 0.09), YES), ((-0.09, -0.01), NO), ((-0.02, 0.04), UNSURE)])
def test_grpo_reward_rises(ci, expected):
    row = verdict_of(premises.claims(cell("base", 10), reward_rows(sum(ci) / 2, *ci)), "GRPO accuracy reward")
    assert row.verdict == expected


# --- the real-model page's claims (realmodel/claims.py) -------------------------------------------

def test_late_share_known_values():
    assert real.late_share(["L0H0", "L2H1", "L3H0"], 6) == (2, 3, pytest.approx(4 / 6))
    assert real.late_share([], 9) == (0, 0, pytest.approx(6 / 9))


OV = {"jaccard": 0.4, "jaccard_low": 0.3, "jaccard_high": 0.5, "n_on": 4, "n_off": 10, "diff_low": 3.0,
      "diff_high": 8.0, "on_only": 0, "on_only_low": 0.0, "on_only_high": 0.0}


def style_results(random_rates=(0.75, 0.75, 1.0), ablated=0.25, scaled_rate=0.25, direct=("L3H0", "L4H1")):
    """``style_interventions``' output: the direct style's conditions; the think style has no heads of its own."""
    d = [answers("no ablation", 0.75, n=8), answers("ablate direct-only", ablated, n=8),
         answers("x0.5 direct-only", scaled_rate, n=8)]
    d += [answers(f"random #{i}", r, n=8) for i, r in enumerate(random_rates)]
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
        ("Zeroing the heads only the think-off (direct) circuit recruits hurts that style more than zeroing as "
         "many random heads"),
        "Scaling the think-off-only heads down (x0.5) lowers think-off accuracy",
        "Ablating think-off-only heads raises success@1 in think-off mode", "... but lowers pass@8"]
    assert v.verdict.tolist() == [YES] * 10


@pytest.mark.parametrize("acc, expected", [((0.1, 0.05, 0.15), YES), ((-0.1, -0.15, -0.05), NO),
                                           ((0.01, -0.04, 0.06), UNSURE)])
def test_page07_accuracy(acc, expected):
    assert verdict_of(page07(acc=acc), "Post-training on worked").verdict == expected


@pytest.mark.parametrize("late, early, expected", [(12, 0, YES), (0, 12, NO), (8, 4, UNSURE)])
def test_page07_mid_late_layers(late, early, expected):
    row = verdict_of(page07(late=late, early=early), "SFT's emergent heads sit in mid-late")
    assert row.value == pytest.approx(late / 12, abs=1e-3) and row.verdict == expected


@pytest.mark.parametrize("diff, on_only, expected", [
    ((6, 3.0, 8.0), (0, 0.0, 0.0), [YES, YES]),
    ((-6, -8.0, -3.0), (3, 2.0, 4.0), [NO, NO]),
    ((1, -2.0, 4.0), (0, 0.0, 1.0), [UNSURE, UNSURE]),
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


@pytest.mark.parametrize("rates, expected", [((0.75, 0.75, 1.0), YES), ((0.0, 0.25, 0.0), NO),
                                             ((1.0, 0.0), UNSURE), ((1.0,), UNSURE)])
def test_page07_direct_heads_against_random_sets(rates, expected):
    row = verdict_of(page07(styles=style_results(random_rates=rates)), "Zeroing the heads only the think-off")
    assert row.verdict == expected
    # the page's seeds = 1: one random set says nothing about the spread between sets (before: reproduced)
    assert ("1 random set: the variation between sets cannot be measured" in row.criterion) == (len(rates) == 1)


def test_page07_without_direct_heads_or_random_sets_says_why():
    row = verdict_of(page07(styles=style_results(direct=())), "Zeroing the heads only the think-off")
    assert row.verdict == UNSURE and "no direct-only heads" in row.criterion
    row = verdict_of(page07(styles=style_results(random_rates=())), "Zeroing the heads only the think-off")
    assert row.verdict == UNSURE and "no random sets" in row.criterion


@pytest.mark.parametrize("rate, expected", [(0.25, YES), (1.0, NO), (None, UNSURE)])
def test_page07_scaling_direct_heads(rate, expected):
    styles = style_results(scaled_rate=0.75 if rate is None else rate)
    if rate is None:  # both sides sampled at 0.75: only noise between them
        s = styles["direct"].samples
        noisy = answers("x0.5 direct-only", 0.75, n=8, seed=9)
        styles["direct"] = result(s[s.condition != "x0.5 direct-only"], noisy)
        s = styles["direct"].samples
        styles["direct"] = result(s[s.condition != "no ablation"], answers("no ablation", 0.75, n=8, seed=10))
    row = verdict_of(page07(styles=styles), "Scaling the think-off-only heads down")
    assert row.verdict == expected
