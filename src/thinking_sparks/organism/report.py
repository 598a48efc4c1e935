"""Accuracy of zoo checkpoints on the organism eval sets, through the evaluation harness.

:func:`accuracy_table` evaluates model specs (e.g. ``organism/sft@final``) on ``organism/easy``,
``organism/medium`` and ``organism/hard`` and returns a tidy frame
``model, mode, difficulty, pass@1, n_samples``; ``mode`` is ``default``, ``think`` (user turn
ends in ``/think``) or ``no_think`` (``/no_think`` plus the template's empty think block).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

log = logging.getLogger(__name__)

SETS = ("easy", "medium", "hard")
MODES = {"default": (None, None), "think": ("/think", None), "no_think": ("/no_think", False)}


def accuracy_table(specs: Sequence[str], modes: Sequence[str] = ("default",), n: int = 4,
                   temperature: float = 0.6, max_new_tokens: int = 128, limit: int | None = None,
                   device: str | None = "cpu", progress: bool = False) -> pd.DataFrame:
    """pass@1 (mean over ``n`` samples) per model, mode and eval set."""
    from thinking_sparks.evaluation.datasets import load_eval_set
    from thinking_sparks.evaluation.harness import EvalParams, evaluate
    from thinking_sparks.models import load_model

    rows = []
    for spec in specs:
        lm = load_model(spec, device=device)
        for mode in modes:
            flag, enable_thinking = MODES[mode]
            for name in SETS:
                problems = load_eval_set(f"organism/{name}", limit=limit)
                params = EvalParams(dataset=f"organism/{name}", n=n, temperature=temperature, top_p=1.0,
                                    max_new_tokens=max_new_tokens, batch_size=256, limit=limit,
                                    instruction=None, enable_thinking=enable_thinking)
                if flag:
                    problems = [type(p)(p.id, f"{p.question} {flag}", p.answer, p.difficulty) for p in problems]
                result = evaluate(lm, problems, params, progress=progress)
                rows.append({"model": spec, "mode": mode, "difficulty": name,
                             "pass@1": round(result.pass_at_1, 4), "n_samples": n * len(problems)})
                log.info("%s [%s] %s: pass@1 %.3f", spec, mode, name, result.pass_at_1)
    return pd.DataFrame(rows)
