"""Think vs direct: circuit inputs from a chat model's own answers in two prompting styles.

A chat model without a thinking switch is asked the same question two ways (:data:`STYLES`):
reason step by step, or reply with the answer at once. Each style is a *mode* of the emergence
room's :class:`~thinking_sparks.emergence.pairs.Side` (:data:`STYLE_MODES`, registered here): the
style's instruction is appended to the bare question. So a style's answers are sampled, cached and
cut into equal-length pairs by the emergence room (``sample_prefixes``, ``build_pairs``: one
implementation, whose answer span starts after the *longer* of the two prompts), and the two
styles' circuits come from :func:`thinking_sparks.emergence.think_circuits` with
``on="step-by-step", off="direct"`` on a bare question set (``words/<level>-bare``).

A model with a switch (Qwen3's ``enable_thinking``) is better served by the emergence room's own
``think`` / ``no_think`` modes, which use its template.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from thinking_sparks.emergence.pairs import PairParams, PairSet, Side, build_pairs, register_mode, sample_prefixes
from thinking_sparks.realmodel.runs import STYLES

log = logging.getLogger(__name__)

__all__ = ["STYLES", "STYLE_MODES", "StylePairs", "style_pairs", "style_side"]

#: prompting style -> the emergence room's mode that asks in that style
STYLE_MODES = {"think": "step-by-step", "direct": "direct"}
for _style, _mode in STYLE_MODES.items():
    register_mode(_mode, STYLES[_style])


def style_side(spec: str, style: str) -> Side:
    """The :class:`Side` of model ``spec`` asked in prompting style ``style`` (``think`` | ``direct``)."""
    if style not in STYLE_MODES:
        raise ValueError(f"unknown prompting style {style!r}; choose one of {', '.join(STYLE_MODES)}")
    return Side(spec, STYLE_MODES[style])


@dataclass
class StylePairs:
    """Circuit inputs from a model's own answers in two prompting styles.

    ``pairs[i]`` is question ``question_index[i]``; ``texts[style][q]`` the sampled answer of
    question ``q``; pairs whose sequences coincide after the cut (``n_identical``) or that keep no
    answer token (``n_short``) are dropped and counted (see :class:`~thinking_sparks.emergence.pairs.PairSet`).
    """

    pairs: list
    question_index: list[int]
    n_identical: int
    n_short: int
    clean: str
    corrupted: str
    texts: dict[str, list[str]]
    pair_set: PairSet | None = None


def style_pairs(lm: Any, questions: list[str], clean: str = "think", corrupted: str = "direct",
                answer_tokens: int = 24, max_new_tokens: int = 32, temperature: float = 0.6, top_p: float = 0.95,
                seed: int = 0, use_cache: bool = True) -> StylePairs:
    """Equal-length clean / corrupted pairs: each side is its style's prompt + the model's own answer.

    One sampled answer per bare question and style (T 0.6 / top-p 0.95 by default, cached by the
    model's weights, the style's text, the sampling and the questions), cut by
    :func:`~thinking_sparks.emergence.pairs.build_pairs`: both sequences end at ``T = min(len(clean),
    len(corrupted), S + answer_tokens)`` where ``S`` is the longer of the two prompts, and the
    metric reads positions ``S - 1 .. T - 2`` (where both sides predict answer tokens).
    """
    from thinking_sparks.evaluation.datasets import Problem

    if clean == corrupted:
        raise ValueError("clean and corrupted styles must differ")
    probs = [Problem(id=f"q{i}", question=q, answer="") for i, q in enumerate(questions)]
    params = PairParams(dataset="(given questions)", n_questions=max(2, len(probs)), answer_tokens=None,
                        temperature=temperature, top_p=top_p, seed=seed, max_new_tokens=max_new_tokens)
    sides = {s: style_side(lm.spec, s) for s in (clean, corrupted)}
    pre = {s: sample_prefixes(side, params, lm=lm, use_cache=use_cache, problems=probs) for s, side in sides.items()}
    ps = build_pairs(pre[clean], pre[corrupted], answer_tokens)
    log.info("%s vs %s pairs: %d kept, %d identical, %d too short", clean, corrupted, len(ps.pairs), ps.n_identical,
             ps.n_short)
    return StylePairs(ps.pairs, ps.question_index, ps.n_identical, ps.n_short, clean, corrupted,
                      {s: p.texts for s, p in pre.items()}, ps)
