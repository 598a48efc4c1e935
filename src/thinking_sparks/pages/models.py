"""Page ``01_models``: the architecture and per-head writes of any model.

:class:`Params` is the notebook's parameters cell (declared once here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Params:
    """Parameters of ``01_models``: the architecture and per-head write norms of one model.

    Attributes:
        model: a model spec (dir, hub name, ``smollm2-135m-instruct``,
            ``organism/[<profile>/]<run>@<step|final>``).
        prompts: user messages whose positions the head-write norms average over.
        device: "auto", "cpu", "cuda", ...
        threads: torch threads (0 = pinned default).
    """

    model: str = "smollm2-135m-instruct"
    prompts: list[str] = field(default_factory=lambda: [
        "What is 7 + 5?",
        "A train travels 60 km in 1.5 hours. What is its average speed?",
        "Let's think step by step: if x + 3 = 10, what is x?",
    ])
    device: str = "auto"
    threads: int = 0

    def __post_init__(self):
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("model must be a non-empty spec string")
        if not self.prompts or not all(isinstance(p, str) and p for p in self.prompts):
            raise ValueError("prompts must be a non-empty list of non-empty strings")
