"""The analysis plan's section for page 08's sparse-feature circuits (a module of its own to keep
:mod:`thinking_sparks.plan` short); :class:`SaePlan` is re-exported there as ``PLAN.sae``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SaePlan:
    """Page 08's sparse-feature circuits (paper v2 §A.3, Fig 12): the SAEs, their use, the attribution.

    Attributes:
        dict_factor: features per residual dimension (F = dict_factor * d_model).
        k: active features per token (TopK SAE; L0 = k by construction).
        steps, batch, lr: Adam steps, tokens per step, learning rate.
        log_every: steps between recorded training losses.
        train_problems, heldout_problems: worked training-split problems whose tokens train / measure
            the SAEs (seeds ``seed`` and ``seed + 1``).
        levels: the problems' difficulty levels.
        forward_batch: sequences per forward pass.
        seed: SAE seeds (layer l: seed + l) and the problems' seed.
        min_kl_score: an SAE is used when its KL score (1 - KL_spliced / KL_zero) reaches this;
            a layer whose SAE is dropped keeps dense residual nodes (identity dictionary).
        n_questions: circuit questions attributed (page 04's pairs, sample 0's first n).
        ig_steps: integrated-gradient steps of the node attribution.
        attr_batch: pairs per attribution batch.
        null_splits: random splits of the base's 2 x n_questions into two samples of n_questions (the same-size null).
        null_quantile: a claim needs its CI above this quantile of the statistic's null.
        mid_late_from, late_from: relative depth (layer / (L - 1)) where "mid-late" and "late" start.
    """

    dict_factor: int = 8
    k: int = 16
    steps: int = 1000
    batch: int = 512
    lr: float = 1e-3
    log_every: int = 100
    train_problems: int = 2000
    heldout_problems: int = 400
    levels: tuple[int, ...] = (1, 2, 3, 4, 5)
    forward_batch: int = 128
    seed: int = 0
    min_kl_score: float = 0.9
    n_questions: int = 128
    ig_steps: int = 5
    attr_batch: int = 32
    null_splits: int = 200
    null_quantile: float = 0.95
    mid_late_from: float = 1 / 3
    late_from: float = 2 / 3
