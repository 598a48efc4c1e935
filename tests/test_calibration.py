"""Calibration of a "condition A beats B" verdict row, built by the real row-building function
(:func:`thinking_sparks.organism.premises.claims`, row "SFT raises hard-set pass@1 over base").

Synthetic per-problem correctness: each of 200 problems has its own solve rate (a Beta draw, so
problems differ in difficulty as real ones do), 4 samples per problem and condition. With two
identical conditions the row must say ``reproduced`` in at most 5 % of 100 seeds (the interval is
two-sided 95 %, so about 2.5 % are expected); with a +0.1 accuracy change (rates raised by 0.1)
in at least 80 %. The measured rates are printed by ``benchmarks/calibration.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from thinking_sparks.organism import premises

N_PROBLEMS, N_SAMPLES, SEEDS = 200, 4, 100
NO_REWARDS = pd.DataFrame(columns=["run", "term", "window", "change", "ci_low", "ci_high"])


def draws(seed: int, shift: float) -> pd.DataFrame:
    """Samples of ``base`` and ``sft`` on the same problems; ``sft``'s rates are ``base``'s + ``shift``."""
    rng = np.random.default_rng(seed)
    rate = rng.beta(0.6, 1.4, N_PROBLEMS)  # mean 0.3, many problems near 0 or 1, as on real sets
    frames = []
    for run, r in (("base", rate), ("sft", np.clip(rate + shift, 0, 1))):
        correct = rng.random((N_PROBLEMS, N_SAMPLES)) < r[:, None]
        frames.append(pd.DataFrame({"run": run, "mode": "default", "difficulty": "hard",
                                    "problem_id": np.repeat([f"p{i:03d}" for i in range(N_PROBLEMS)], N_SAMPLES),
                                    "sample_index": np.tile(np.arange(N_SAMPLES), N_PROBLEMS),
                                    "correct": correct.ravel()}))
    return pd.concat(frames, ignore_index=True)


def reproduced_rate(shift: float, seeds: int = SEEDS, n_boot: int = 500) -> float:
    """Share of ``seeds`` evaluations whose row says ``reproduced``."""
    hits = 0
    for seed in range(seeds):
        table = premises.claims(draws(seed, shift), NO_REWARDS, n_boot=n_boot, seed=seed)
        row = table[table["claim"] == "SFT raises hard-set pass@1 over base"].iloc[0]
        hits += row.verdict == "reproduced"
    return hits / seeds


def test_identical_conditions_rarely_reproduce_a_difference():
    assert reproduced_rate(0.0) <= 0.05


def test_a_real_difference_is_found():
    assert reproduced_rate(0.1) >= 0.80
