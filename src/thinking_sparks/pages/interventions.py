"""Page ``05_interventions``: heads ablated and scaled during generation (Tables 1, 4, 5; Fig 4).

:class:`Params` is the notebook's parameters cell (declared once here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thinking_sparks.pages.params import HeadPageParams, _check_positive


@dataclass
class Params(HeadPageParams):
    """Parameters of ``05_interventions``: heads ablated and scaled during generation (Tables 1, 4, 5; Fig 4).

    Runs are organism run names of ``profile`` or mappings ``{base: SPEC, checkpoints: SPEC | [...]}``
    / ``{model: SPEC}`` (``emergence.modelruns``).

    Attributes (besides :class:`HeadPageParams`'):
        model_run, base_run: the post-trained model whose heads are ablated (its final checkpoint;
            Table 1) and the base model (its final checkpoint; base circuit, Table 5's model).
        sft_run, grpo_run: runs whose emergent heads are scaled in the base (Table 5); the GRPO
            run's first checkpoint gives its early circuit, and its checkpoints make Fig 4. None:
            that part of the page is left out.
        control_dataset: the control circuit's questions (Table 1's TriviaQA row): ``auto`` (the
            organism's single-operation problems when ``eval_sets`` are the organism's, else
            none), a set name or JSONL path, or None (no control set).
        seeds: random layer-matched head sets (Table 1's added control).
    """

    model_run: str | dict[str, Any] = "distill"
    base_run: str | dict[str, Any] = "base"
    sft_run: str | dict[str, Any] | None = "sft"
    grpo_run: str | dict[str, Any] | None = "grpo-easy"
    control_dataset: str | None = "auto"
    seeds: int = 5

    def __post_init__(self):
        from thinking_sparks.emergence.modelruns import check_value

        for name in ("model_run", "sft_run", "grpo_run"):
            if getattr(self, name) is not None or name == "model_run":
                check_value(getattr(self, name), name, self.profile, need_base=True)
        check_value(self.base_run, "base_run", self.profile)
        super().__post_init__()
        _check_positive(self, "seeds")
        if self.control_dataset is not None and not (isinstance(self.control_dataset, str)
                                                     and self.control_dataset.strip()):
            raise ValueError(f"control_dataset must be 'auto', a set name, a JSONL path or None, "
                             f"got {self.control_dataset!r}")

    def run_values(self) -> list:
        return [self.model_run, self.base_run, self.sft_run, self.grpo_run]

    def eval_params(self):
        return self._eval_params(self.eval_sets[0], self.n, self.limit)
