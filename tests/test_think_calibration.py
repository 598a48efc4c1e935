"""Calibration of page 06's Fig 5 rows (success@1 up, pass@k down when the think-off-only heads are
zeroed), built by the real row-building function (:func:`thinking_sparks.interventions.claims.fig5_verdicts`).

Synthetic paired samples, as the page draws them: each of 300 problems has its own solve rate (a
Beta draw, mean 0.3, many problems near 0 or 1), 8 samples per problem and condition, the same
sampling seeds in both conditions. A shared seed couples the two conditions' draws: sample ``j``
of problem ``i`` uses one uniform number in both unless the intervention moved the generation
(with probability 1/2 per sample here), when it takes a fresh one. With two identical conditions
(same rates) each row must say ``reproduced`` in at most 5 % of 100 seeds; with a planted accuracy
change in at least 80 %: rates raised by 0.1 for "raises success@1", lowered by 0.1 for "lowers
pass@8".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from thinking_sparks.interventions.claims import fig5_verdicts

N_PROBLEMS, N_SAMPLES, SEEDS, N_BOOT, MOVED = 300, 8, 100, 2000, 0.5


def draws(seed: int, shift: float) -> pd.DataFrame:
    """Samples of ``think off`` and ``think off + ablation`` on the same problems and sampling seeds; the
    ablated rates are the think-off ones + ``shift`` (clipped to [0, 1])."""
    rng = np.random.default_rng(seed)
    rate = rng.beta(0.6, 1.4, N_PROBLEMS)
    u_off = rng.random((N_PROBLEMS, N_SAMPLES))
    moved = rng.random((N_PROBLEMS, N_SAMPLES)) < MOVED
    u_ablated = np.where(moved, rng.random((N_PROBLEMS, N_SAMPLES)), u_off)
    frames = []
    for label, u, r in (("think off", u_off, rate), ("think off + ablation", u_ablated, np.clip(rate + shift, 0, 1))):
        frames.append(pd.DataFrame({"condition": label, "difficulty": "calibrated",
                                    "problem_id": np.repeat([f"p{i:03d}" for i in range(N_PROBLEMS)], N_SAMPLES),
                                    "sample_index": np.tile(np.arange(N_SAMPLES), N_PROBLEMS),
                                    "correct": (u < r[:, None]).ravel()}))
    return pd.concat(frames, ignore_index=True)


def reproduced_rates(shift: float, seeds: int = SEEDS) -> tuple[float, float]:
    """Shares of ``seeds`` evaluations whose success@1 row and pass@8 row say ``reproduced``."""
    hits = np.zeros(2)
    for seed in range(seeds):
        rows = fig5_verdicts(draws(seed, shift), low_k=1, high_k=N_SAMPLES, n_boot=N_BOOT, seed=seed)
        hits += [r.verdict == "reproduced" for r in rows]
    return tuple(float(h) / seeds for h in hits)


def test_identical_conditions_rarely_reproduce_either_fig5_row():
    success, coverage = reproduced_rates(0.0)
    print("identical conditions: success@1 row", success, "pass@8 row", coverage)
    assert success <= 0.05 and coverage <= 0.05


def test_a_planted_accuracy_change_is_found_in_each_direction():
    success, _ = reproduced_rates(0.1)  # ablation helps: success@1 up
    _, coverage = reproduced_rates(-0.1)  # ablation hurts: pass@8 down
    print("planted: success@1 row (+0.1)", success, "pass@8 row (-0.1)", coverage)
    assert success >= 0.80 and coverage >= 0.80


def test_the_rows_quote_the_paper_and_pair_over_sampling_seeds():
    rows = fig5_verdicts(draws(0, 0.1), low_k=1, high_k=N_SAMPLES, n_boot=N_BOOT, seed=0)
    assert [r.claim for r in rows] == ["Ablating think-off-only heads raises success@1 in think-off mode",
                                       "... but lowers pass@8"]
    assert "Table 2, AIME'24 pass@1 36.6 − 30.0" in rows[0].statistic and "sampling seeds" in rows[1].statistic
    assert (rows[0].above, rows[0].below, rows[1].above, rows[1].below) == (0.0, None, None, 0.0)


def test_success_at_1_has_an_interval_when_the_conditions_agree_on_every_problem():
    """Every problem answered alike (the 30-problem hard-set curves of before, all 0): no bootstrap
    interval, but 0 discordant problems of 300 bound the difference by the exact upper end 1 - 0.025^(1/300)."""
    same = draws(3, 0.0)
    same.loc[same["condition"] == "think off + ablation", "correct"] = same.loc[
        same["condition"] == "think off", "correct"].to_numpy()
    row = fig5_verdicts(same, low_k=1, high_k=N_SAMPLES, n_boot=N_BOOT, seed=0)[0]
    assert (row.value, round(row.ci_low, 6), round(row.ci_high, 6), row.verdict) == (0.0, -0.012221, 0.012221,
                                                                                    "inconclusive")
