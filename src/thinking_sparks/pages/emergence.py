"""Page ``04_emergence``: emergent, base-only and retained heads along every post-training run (paper §5.1-5.6).

:class:`Params` is the notebook's parameters cell (declared once here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thinking_sparks.pages.params import CircuitInputs, _check_positive


@dataclass
class Params(CircuitInputs):
    """Parameters of ``04_emergence``: circuits at every checkpoint of every post-training run.

    Attributes (besides :class:`CircuitInputs`'):
        runs: post-training runs traced, each against its base: organism run names of ``profile``,
            or a mapping ``label -> run`` whose values are organism names or ``{base: SPEC,
            checkpoints: SPEC | [SPEC, ...], kind: sft|grpo|distill|...}`` (``emergence.modelruns``).
        reasoning_side: whose answers an intermediate checkpoint's clean side uses (``emergence.pairs``).
        n_boot, n_splits: bootstrap resamples and random half-splits for the noise floor.
    """

    runs: list[str] | dict[str, Any] = field(default_factory=lambda: ["sft", "grpo-easy", "grpo-hard",
                                                                      "grpo-hard-lr", "distill", "hybrid"])
    reasoning_side: str = "own"
    n_boot: int = 200
    n_splits: int = 50

    def __post_init__(self):
        from thinking_sparks.emergence.modelruns import check_values
        from thinking_sparks.emergence.pairs import REASONING_SIDES

        super().__post_init__()
        check_values(self.runs, "runs", self.profile, need_base=True)
        if self.reasoning_side not in REASONING_SIDES:
            raise ValueError(f"reasoning_side must be one of {', '.join(REASONING_SIDES)}, got {self.reasoning_side!r}")
        _check_positive(self, "n_boot", "n_splits")

    def run_values(self) -> list:
        return [self.runs]
