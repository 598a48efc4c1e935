"""Page ``02_organism``: the synthetic task, the post-training runs, their curves and accuracy, the premises.

:class:`Params` is the notebook's parameters cell (declared once here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thinking_sparks.organism.premises import HARD_N
from thinking_sparks.pages.params import _check_positive, _check_runs


@dataclass
class Params:
    """Parameters of ``02_organism``: the model organism zoo, its training curves and accuracy.

    Attributes:
        profile: zoo profile (``full``: the book's; ``tiny``: seconds, for tests).
        build: build missing runs first (``sparks zoo build``); False fails on an unbuilt run.
        jobs: runs trained in parallel when building.
        n: samples per problem for pass@1 on the easy and medium sets (and along the checkpoints).
        hard_n: samples per problem on the hard set of the closing table, where the premise checks
            are decided (``organism.premises.HARD_N``: at 4 they straddle 0).
        limit: first problems of each eval set (None: all 100).
        temperature: sampling temperature (the paper's 0.6).
        curve_runs: runs whose every checkpoint is evaluated on ``curve_difficulty``.
        curve_difficulty: ``easy``, ``medium`` or ``hard``.
        device, threads: as everywhere.
    """

    profile: str = "full"
    build: bool = True
    jobs: int = 2
    n: int = 4
    hard_n: int = HARD_N
    limit: int | None = None
    temperature: float = 0.6
    curve_runs: list[str] = field(default_factory=lambda: ["sft", "distill", "grpo-hard"])
    curve_difficulty: str = "hard"
    device: str = "cpu"
    threads: int = 0

    def __post_init__(self):
        from thinking_sparks.organism.report import SETS

        _check_runs(self.profile, list(self.curve_runs), "curve_runs")
        _check_positive(self, "n", "hard_n", optional=("limit",))
        if not 0 <= float(self.temperature) <= 2:
            raise ValueError(f"temperature must lie in [0, 2], got {self.temperature!r}")
        if self.curve_difficulty not in SETS:
            raise ValueError(f"curve_difficulty must be one of {', '.join(SETS)}, got {self.curve_difficulty!r}")
