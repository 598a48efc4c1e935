"""Evaluation harness: answer grading, sampled generation, pass@k / success@k, eval sets.

Submodules (import the one you need; only :mod:`grading` is light enough for reward functions):

- :mod:`~thinking_sparks.evaluation.grading` — ``extract_answer`` / ``is_correct`` (no torch).
- :mod:`~thinking_sparks.evaluation.datasets` — ``load_eval_set`` (JSON lines or organism sets).
- :mod:`~thinking_sparks.evaluation.generation` — batched sampled generation, interventions active.
- :mod:`~thinking_sparks.evaluation.metrics` — pass@k, success@k, bootstrap CIs by difficulty.
- :mod:`~thinking_sparks.evaluation.harness` — ``evaluate`` (generate + grade + summarise, cached).
"""

from thinking_sparks.evaluation.grading import extract_answer, follows_format, is_correct

__all__ = ["extract_answer", "follows_format", "is_correct"]
