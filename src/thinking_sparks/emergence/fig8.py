"""Fig 8: GRPO at 20x the main run's learning rate, beside the main GRPO run (paper v2 Fig 8, §A.4).

The paper's main OpenR1 GRPO run trains at lr 1e-6 (Fig 3); Fig 8 repeats Fig 3's protocol (cohorts,
accuracy reward, activation heatmap) for a run at 2e-5, 20x larger. The paper states no separate
claim for Fig 8: it draws the run the same way, so its reading is that §4.2's GRPO findings hold at
the higher rate. The organism's :data:`RUN` (``grpo-hard-lr20``) trains ``grpo-hard``'s recipe at
:data:`LR_RATIO` times its learning rate (``organism.config``).

* :func:`comparison` — per checkpoint of both runs: emergent heads (in the checkpoint's circuit, not
  the base's), retained base heads and the accuracy reward (Fig 3B's per-checkpoint mean);
  :func:`reward_steps` the reward at every training step.
* :func:`switch_draws`, :func:`contrasts` — each run's switching statistic
  (:func:`~.claimstats.switch_difference`) and final emergent count, and the 20x run minus the main
  run with an interval from the two runs' independent bootstrap draws. Shown, not decided: the paper
  gives no direction for the contrast.
* :func:`fig8_verdicts` — §4.2's GRPO claims decided on the 20x run with the rules of
  :mod:`.claims`: switching against the same-checkpoint null, fewer emergent heads than SFT, new
  heads tracking the reward.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from thinking_sparks.emergence.claims import _reward_row, _switch_row, switching
from thinking_sparks.emergence.claimstats import independent_difference, switch_difference
from thinking_sparks.emergence.modelruns import reward_curve
from thinking_sparks.plan import PLAN, Plan
from thinking_sparks.verdicts import Verdict, verdict_table

__all__ = ["COMPARISON_COLUMNS", "CONTRAST_COLUMNS", "LR_RATIO", "PAPER", "REWARD_COLUMNS", "RUN", "comparison",
           "contrasts", "fig8_verdicts", "reward_steps", "switch_draws"]

#: the organism's Fig 8 run, and its learning rate over the main GRPO run's (the paper's 2e-5 / 1e-6)
RUN = "grpo-hard-lr20"
LR_RATIO = 20
PAPER = "v2 Fig 8, §A.4: GRPO on OpenR1 at lr 2e-5 (20x the main run's 1e-6), drawn as Fig 3"
COMPARISON_COLUMNS = ["run", "step", "emergent", "retained", "reward"]
REWARD_COLUMNS = ["run", "step", "accuracy", "smoothed"]
CONTRAST_COLUMNS = ["statistic", "main", "main_low", "main_high", "high", "high_low", "high_high",
                    "difference", "ci_low", "ci_high"]


def comparison(traces: Mapping, rewards: Mapping, runs: tuple[str, ...]) -> pd.DataFrame:
    """``run, step, emergent, retained, reward`` at every checkpoint with signal of ``runs`` (those
    traced): the cohort chart's counts (``TraceTables.counts``) beside the accuracy reward per
    checkpoint (``RewardTrack.per_checkpoint``; NaN where the run has no reward log)."""
    frames = []
    for run in (r for r in runs if r in traces):
        c = traces[run].counts[["step", "emergent", "retained"]]
        track = rewards.get(run)
        reward = (track.per_checkpoint[["step", "reward"]] if track is not None
                  else pd.DataFrame({"step": c.step, "reward": math.nan}))
        frames.append(c.merge(reward, on="step", how="left").assign(run=run))
    if not frames:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    return pd.concat(frames, ignore_index=True)[COMPARISON_COLUMNS]


def reward_steps(models: Mapping, runs: tuple[str, ...], window: int = 10) -> pd.DataFrame:
    """``run, step, accuracy, smoothed``: the accuracy reward at every training step of ``runs`` (those with
    a reward log, :func:`~.modelruns.reward_curve`), ``smoothed`` its trailing mean over ``window`` steps:
    the whole curve, where a divergence between two checkpoints shows."""
    frames = []
    for run in (r for r in runs if r in models):
        curve = reward_curve(models[run])
        if curve is not None:
            curve = curve.sort_values("step")[["step", "accuracy"]].assign(run=run)
            curve["smoothed"] = curve.accuracy.rolling(window, min_periods=1).mean()
            frames.append(curve)
    if not frames:
        return pd.DataFrame(columns=REWARD_COLUMNS)
    return pd.concat(frames, ignore_index=True)[REWARD_COLUMNS]


def switch_draws(counts: pd.DataFrame | None, plan: Plan = PLAN) -> np.ndarray:
    """The bootstrap draws behind :func:`~.claimstats.switch_difference`'s interval (the same seed,
    resamples and resampling over heads), ``[n_resamples]``; empty with fewer than
    ``plan.section4.min_heads`` heads or no exposures."""
    if counts is None or len(counts) < plan.section4.min_heads or counts.exposures.sum() == 0:
        return np.array([])
    e = counts.exposures.to_numpy(float)
    d = (counts.leaves - counts.null_leaves).to_numpy(float)
    rng = np.random.default_rng(plan.stats.seed)
    idx = rng.integers(0, len(e), (plan.stats.n_resamples, len(e)))  # [n_resamples, heads]
    return d[idx].sum(1) / e[idx].sum(1)


def contrasts(traces: Mapping, table: pd.DataFrame, boots: Mapping[str, pd.DataFrame], main: str, high: str = RUN,
              plan: Plan = PLAN) -> pd.DataFrame:
    """The 20x run against the main GRPO run (:data:`CONTRAST_COLUMNS`, one row per statistic):

    * ``switching``: emergent heads gone at the next checkpoint minus gone from the same checkpoint's
      null circuit (:func:`~.claimstats.switch_difference`, its interval over heads);
    * ``emergent (final)``: the analysis plan's emergent count at the final checkpoint (Table 3's
      row, its paired-bootstrap interval ``boots[run].emergent``).

    ``difference`` is high minus main, its interval :func:`~.claimstats.independent_difference` of the
    two runs' draws (NaN where either run lacks them). Empty when either run is not traced."""
    if main not in traces or high not in traces:
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    rows = []
    sw = {r: switching(traces[r]) for r in (main, high)}
    est = {r: switch_difference(sw[r], plan) if sw[r] is not None else (math.nan,) * 3 for r in (main, high)}
    draws = {r: switch_draws(sw[r], plan) for r in (main, high)}
    rows.append(["switching (gone next minus gone from the null)", *est[main], *est[high],
                 est[high][0] - est[main][0], *independent_difference(draws[high], draws[main], plan)])
    t = table.set_index("method")
    if main in t.index and high in t.index:
        cells = [(float(t.loc[r, "emergent"]), float(t.loc[r, "ci_low"]), float(t.loc[r, "ci_high"]))
                 for r in (main, high)]
        lo, hi = (independent_difference(boots[high].emergent.to_numpy(), boots[main].emergent.to_numpy(), plan)
                  if main in boots and high in boots else (math.nan, math.nan))
        rows.append(["emergent heads (final)", *cells[0], *cells[1], cells[1][0] - cells[0][0], lo, hi])
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def _fig8(row: Verdict, claim: str) -> Verdict:
    return dataclasses.replace(row, claim=claim, paper=f"{PAPER}; {row.paper}")


def fig8_verdicts(traces: Mapping, table: pd.DataFrame, boots: Mapping[str, pd.DataFrame],
                  rewards: Mapping[str, dict], sft: str = "sft", high: str = RUN, plan: Plan = PLAN) -> pd.DataFrame:
    """§4.2's GRPO claims on the 20x run (:func:`verdict_table`; empty when ``high`` is not traced):
    it switches emergent heads on and off (CI above 0, the same-checkpoint null), it adds fewer emergent
    heads than SFT (CI of the difference below 0, draws paired every-with-every) and its new heads rise
    and fall with the accuracy reward (CI of Sen's slope above 0) — the rules of :mod:`.claims`.

    Args:
        traces: label -> ``Trace`` or ``TraceTables`` (with ``nulls``).
        table: :func:`~.tables.table3`; ``boots``: its bootstrap draws per run.
        rewards: label -> :func:`~.stats.reward_tracking`'s dict.
    """
    if high not in traces:
        return verdict_table([])
    rows = [_fig8(_switch_row(high, traces[high], plan), f"GRPO at {LR_RATIO}x the learning rate still switches "
                                                           "emergent heads on and off")]
    t = table.set_index("method")
    if high in t.index and sft in t.index and high in boots and sft in boots:
        lo, hi = independent_difference(boots[high].emergent.to_numpy(), boots[sft].emergent.to_numpy(), plan)
        rows.append(Verdict(f"GRPO at {LR_RATIO}x the learning rate still adds fewer emergent heads than SFT",
                            f"{PAPER}; v2 §4.2, Table 3: GRPO-OpenR1 19 vs SFT 34",
                            f"emergent heads, {high} final minus {sft} final (the runs' bootstrap draws paired "
                            "every-with-every: independent)", float(t.loc[high, "emergent"] - t.loc[sft, "emergent"]),
                            lo, hi, below=0.0, criterion="CI below 0"))
    if high in rewards:
        rows.append(_fig8(_reward_row(high, rewards[high]), f"At {LR_RATIO}x the learning rate, new heads still "
                                                             "rise and fall with the accuracy reward"))
    return verdict_table(rows)
