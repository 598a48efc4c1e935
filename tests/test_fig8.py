"""Fig 8 (emergence/fig8.py): GRPO at 20x the learning rate beside the main GRPO run, on hand-built
head sets whose statistics are known; the zoo's Fig 8 run; the premise checks leave it out."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tests.test_claims4 import A, B, NullTrace
from tests.test_claims_known_data import table3, verdict_of
from thinking_sparks.emergence import fig8
from thinking_sparks.emergence.claims import switching
from thinking_sparks.emergence.claimstats import switch_difference
from thinking_sparks.organism import config, premises

YES, NO, UNSURE = "reproduced", "not reproduced", "inconclusive"
HIGH = fig8.RUN


def _table(emergent: dict[str, tuple[float, float, float]], boots: dict[str, np.ndarray]):
    t = pd.DataFrame([{"method": m, "emergent": e, "ci_low": lo, "ci_high": hi} for m, (e, lo, hi) in emergent.items()])
    return t, {m: pd.DataFrame({"emergent": b}) for m, b in boots.items()}


def test_the_zoo_trains_grpo_hard_at_twenty_times_its_learning_rate_on_both_profiles():
    for name in config.PROFILES:
        table = config.profile(name)
        main, high = table["grpo-hard"], table[HIGH]
        assert (high.kind, high.parent) == ("grpo", "base")
        assert high.config.learning_rate == pytest.approx(20 * main.config.learning_rate)
        assert dataclasses.replace(high.config, learning_rate=main.config.learning_rate) == main.config
    assert config.profile("full")[HIGH].config.learning_rate == pytest.approx(1.6e-3)
    assert HIGH in config.FIGURE_RUNS and fig8.LR_RATIO == 20


def test_switch_draws_are_the_draws_behind_switch_difference():
    counts = switching(NullTrace([A, B, A, A[3:], A], [A, A, A, A, A]))
    draws = fig8.switch_draws(counts)
    _, lo, hi = switch_difference(counts)
    assert draws.shape == (2000,)
    assert (np.quantile(draws, 0.025), np.quantile(draws, 0.975)) == pytest.approx((lo, hi))
    assert fig8.switch_draws(None).size == 0
    assert fig8.switch_draws(counts.iloc[:1]).size == 0  # one head: no spread to resample


def test_contrasts_of_a_switching_run_against_a_steady_one():
    traces = {"grpo-hard": NullTrace([A] * 5, [A] * 5), HIGH: NullTrace([A, B, A, B, A], [A, B, A, B, A], run=HIGH)}
    t, boots = _table({"grpo-hard": (4, 3, 6), HIGH: (9, 7, 11)},
                      {"grpo-hard": np.array([3, 4, 5, 6]), HIGH: np.array([7, 9, 11, 9])})
    c = fig8.contrasts(traces, t, boots, main="grpo-hard").set_index("statistic")
    assert list(c.columns) == fig8.CONTRAST_COLUMNS[1:]
    sw = c.iloc[0]  # every head leaves at the next checkpoint at 20x, none at 1x; no null leaves
    assert (sw.main, sw.main_low, sw.main_high, sw.high, sw.high_low, sw.high_high) == (0, 0, 0, 1, 1, 1)
    assert (sw.difference, sw.ci_low, sw.ci_high) == (1, 1, 1)
    em = c.loc["emergent heads (final)"]
    assert (em.main, em.main_low, em.main_high, em.high, em.high_low, em.high_high, em.difference) == (4, 3, 6, 9, 7, 11, 5)
    # every draw of the 20x run minus every draw of the main run: 1 .. 8, quantiles of those 16 differences
    assert (em.ci_low, em.ci_high) == pytest.approx((1.375, 7.625))
    assert fig8.contrasts({"grpo-hard": traces["grpo-hard"]}, t, boots, main="grpo-hard").empty


def test_comparison_lines_up_counts_and_rewards_per_checkpoint():
    counts = pd.DataFrame({"step": [15, 30], "emergent": [2, 5], "retained": [7, 6], "newcomers": [2, 3]})
    track = SimpleNamespace(per_checkpoint=pd.DataFrame({"step": [15, 30], "new_heads": [2, 5], "reward": [0.1, 0.0]}))
    traces = {"grpo-hard": SimpleNamespace(counts=counts), HIGH: SimpleNamespace(counts=counts.assign(emergent=[1, 0]))}
    got = fig8.comparison(traces, {HIGH: track}, ("grpo-hard", HIGH, "absent"))
    assert list(got.columns) == fig8.COMPARISON_COLUMNS
    assert got.drop(columns="reward").values.tolist() == [["grpo-hard", 15, 2, 7], ["grpo-hard", 30, 5, 6],
                                                         [HIGH, 15, 1, 7], [HIGH, 30, 0, 6]]
    assert got.reward.isna().tolist() == [True, True, False, False] and got.reward.iloc[2:].tolist() == [0.1, 0.0]
    assert fig8.comparison({}, {}, ("grpo-hard",)).empty


@pytest.mark.parametrize("checkpoints, expected", [([A, B, A, B, A], YES), ([A] * 5, NO)])
def test_fig8_switching_row_uses_the_same_checkpoint_null(checkpoints, expected):
    traces = {HIGH: NullTrace(checkpoints, checkpoints, run=HIGH)}
    row = verdict_of(fig8.fig8_verdicts(traces, table3(), {}, {}), "GRPO at 20x the learning rate still switches")
    assert row.verdict == expected and "Fig 8" in row.paper and "Fig 3A/C" in row.paper
    assert HIGH in row.statistic and row.criterion.startswith("CI above 0")


@pytest.mark.parametrize("high, expected", [((2, 5), YES), ((12, 16), NO), ((6, 11), UNSURE)])
def test_fig8_fewer_heads_than_sft(high, expected):
    rng = np.random.default_rng(0)
    draws = {HIGH: rng.integers(high[0], high[1] + 1, 200), "sft": rng.integers(7, 11, 200)}
    t, boots = _table({m: (float(np.median(d)), math.nan, math.nan) for m, d in draws.items()}, draws)
    rows = fig8.fig8_verdicts({HIGH: NullTrace([A], None, run=HIGH)}, t, boots, {})
    row = verdict_of(rows, "GRPO at 20x the learning rate still adds fewer")
    assert row.verdict == expected and "Table 3" in row.paper and row.criterion == "CI below 0"
    assert verdict_of(rows, "GRPO at 20x the learning rate still switches").verdict == UNSURE  # no null measured


def test_fig8_rows_need_the_fig8_run():
    assert fig8.fig8_verdicts({"grpo-hard": NullTrace([A, B], [A, B])}, table3(), {}, {}).empty


def test_premise_checks_leave_out_the_figure_runs():
    from tests.test_organism_premises import _cell, _rewards, _solves

    samples = pd.concat([_cell("base", _solves(10)), _cell("grpo-hard", _solves(12)), _cell(HIGH, _solves(1))])
    rewards = pd.concat([_rewards(), _rewards().assign(run=HIGH, change=-0.05, ci_low=-0.07, ci_high=-0.03)])
    claims = list(premises.claims(samples, rewards).claim)
    assert "grpo-hard raises hard-set pass@1 over base" in claims and "GRPO accuracy reward rises (grpo-hard)" in claims
    assert not [c for c in claims if HIGH in c]


def test_reward_steps_reads_each_runs_log_and_smooths_it(tmp_path):
    import json

    from thinking_sparks.emergence.modelruns import ModelRun

    runs = {}
    for name, acc in (("a", [0.1, 0.3, 0.2]), ("b", [0.0, 0.0, 0.6])):
        final = tmp_path / name
        final.mkdir()
        history = [{"step": s + 1, "rewards/accuracy_reward/mean": v, "loss": 0.1} for s, v in enumerate(acc)]
        (final / "trainer_state.json").write_text(json.dumps({"log_history": history[::-1]}))
        runs[name] = ModelRun(name, "base", (str(final),), str(final), kind="grpo")
    got = fig8.reward_steps(runs, ("a", "b", "absent"), window=2)
    assert list(got.columns) == fig8.REWARD_COLUMNS
    assert got.run.tolist() == ["a"] * 3 + ["b"] * 3 and got.step.tolist() == [1, 2, 3] * 2
    assert got.smoothed.tolist() == pytest.approx([0.1, 0.2, 0.25, 0.0, 0.0, 0.3])
    assert fig8.reward_steps(runs, ("absent",)).empty
