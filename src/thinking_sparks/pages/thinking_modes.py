"""Page ``06_thinking_modes``: a hybrid model's think-on / think-off circuits and interventions (Table 2; Figs 5, 17).

:class:`Params` is the notebook's parameters cell (declared once here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thinking_sparks.pages.params import HeadPageParams, _check_positive


#: how a hybrid model's two modes are asked for (``thinking_sparks.emergence.pairs.MODES``)
THINK_SWITCHES = ("auto", "flags", "template")




@dataclass
class Params(HeadPageParams):
    """Parameters of ``06_thinking_modes``: a hybrid model's think-on / think-off circuits and
    interventions (Table 2; Figs 5, 17).

    Attributes (besides :class:`HeadPageParams`'; ``k`` think-off-only heads, top by score, and ``n``,
    ``limit`` for Table 2's pass@1):
        hybrid_run: the hybrid thinker (Qwen3's role): an organism run of ``profile`` or
            ``{model: SPEC}`` (its final checkpoint is used).
        think_switch: ``flags`` (the organism's: ``/think`` or ``/no_think`` after the question,
            and the template's empty think block for off), ``template`` (the chat template's
            ``enable_thinking`` True / False alone, as Qwen3's own template), or ``auto``
            (``flags`` for an organism run, else ``template``).
        k_dataset: the set of Fig 5's pass@k / success@k curves.
        n_k, k_limit: samples per problem and problems (first of ``k_dataset``) for Fig 5's curves.
    """

    hybrid_run: str | dict[str, Any] = "hybrid"
    think_switch: str = "auto"
    k_dataset: str = "organism/hard"
    n_k: int = 64
    k_limit: int = 30

    def __post_init__(self):
        from thinking_sparks.emergence.modelruns import check_value

        check_value(self.hybrid_run, "hybrid_run", self.profile, need_base=isinstance(self.hybrid_run, str))
        if self.think_switch not in THINK_SWITCHES:
            raise ValueError(f"think_switch must be one of {', '.join(THINK_SWITCHES)}, got {self.think_switch!r}")
        if not isinstance(self.k_dataset, str) or not self.k_dataset.strip():
            raise ValueError(f"k_dataset must be a set name or JSONL path, got {self.k_dataset!r}")
        super().__post_init__()
        _check_positive(self, "n_k", "k_limit")

    def run_values(self) -> list:
        return [self.hybrid_run]

    def switch(self) -> str:
        """``flags`` or ``template`` (``auto`` resolved by the run's kind of value)."""
        if self.think_switch != "auto":
            return self.think_switch
        return "flags" if isinstance(self.hybrid_run, str) else "template"

    def eval_params(self, k_curves: bool = False):
        return self._eval_params(self.k_dataset if k_curves else self.eval_sets[0], self.n_k if k_curves else self.n,
                                 self.k_limit if k_curves else self.limit)
