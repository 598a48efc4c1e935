"""Page ``03_circuits``: one EAP-IG circuit of the organism from the ground up.

:class:`Params` is the notebook's parameters cell (declared once here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thinking_sparks.pages.params import CircuitInputs


@dataclass
class Params(CircuitInputs):
    """Parameters of ``03_circuits``: one circuit from the ground up.

    Attributes (besides :class:`CircuitInputs`'):
        run: the analysed run: an organism run of ``profile`` or a mapping ``{base: SPEC,
            checkpoints: SPEC | [SPEC, ...]}`` (``emergence.modelruns``); its base is the run's
            parent at its final checkpoint, or the mapping's ``base``.
        step: the analysed checkpoint: ``final`` or a step one of the run's checkpoints names.
        ig_steps: the IG step counts compared (``steps`` is the one the circuit drawn uses).
    """

    run: str | dict[str, Any] = "sft"
    step: str = "final"
    ig_steps: list[int] = field(default_factory=lambda: [5, 20, 100])

    def __post_init__(self):
        from thinking_sparks.emergence.modelruns import check_value

        super().__post_init__()
        check_value(self.run, "run", self.profile, need_base=True)
        if not self.ig_steps or not all(isinstance(m, int) and m >= 1 for m in self.ig_steps):
            raise ValueError(f"ig_steps must be a non-empty list of positive integers, got {self.ig_steps!r}")

    def run_values(self) -> list:
        return [self.run]
