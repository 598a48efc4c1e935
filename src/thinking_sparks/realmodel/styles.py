"""Think vs direct: circuit inputs from a chat model's own answers in two prompting styles.

A chat model without a thinking switch is asked the same question two ways (:data:`STYLES`):
reason step by step, or reply with the answer at once. Each side of a pair is that style's prompt
plus the model's own sampled answer (T 0.6 / top-p 0.95, the paper's sampling), both cut to the
same token length (EAP patches position by position). A model with a switch (Qwen3's
``enable_thinking``) is better served by the emergence room's sides, which use its template.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from thinking_sparks.realmodel.runs import STYLES, ask

log = logging.getLogger(__name__)

__all__ = ["STYLES", "StylePairs", "style_answers", "style_pairs"]

@dataclass
class StylePairs:
    """Circuit inputs from a model's own answers in two prompting styles.

    ``pairs[i]`` is question ``question_index[i]``; ``texts[style][q]`` the sampled answer of
    question ``q``; pairs whose sequences coincide after the cut (``n_identical``) or that keep no
    answer token (``n_short``) are dropped and counted.
    """

    pairs: list
    question_index: list[int]
    n_identical: int
    n_short: int
    clean: str
    corrupted: str
    texts: dict[str, list[str]]


def style_answers(lm: Any, questions: list[str], style: str, max_new_tokens: int = 32, temperature: float = 0.6,
                  top_p: float = 0.95, seed: int = 0) -> tuple[list[list[int]], list[list[int]], list[str]]:
    """One sampled answer per bare question asked in ``style``: (prompt ids, answer ids, answer texts)."""
    from thinking_sparks.evaluation.generation import SamplingConfig, generate

    prompts = [lm.tokenizer(lm.chat(ask(q, style)), add_special_tokens=False).input_ids for q in questions]
    cfg = SamplingConfig(n=1, temperature=temperature, top_p=top_p, seed=seed, max_new_tokens=max_new_tokens,
                         stop=())
    gens = sorted(generate(lm, prompts, cfg, progress=False), key=lambda g: g.prompt_index)
    answers = [lm.tokenizer(g.text, add_special_tokens=False).input_ids for g in gens]
    return prompts, answers, [g.text for g in gens]


def style_pairs(lm: Any, questions: list[str], clean: str = "think", corrupted: str = "direct",
                answer_tokens: int = 24, **sampling: Any) -> StylePairs:
    """Equal-length clean / corrupted pairs: each side is its style's prompt + the model's own answer.

    Both sequences are cut to ``T = min(len(clean), len(corrupted), S + answer_tokens)`` where ``S``
    is the longer of the two prompts; the metric reads positions ``S - 1 .. T - 2`` (where both
    sides predict answer tokens). ``sampling``: ``max_new_tokens``, ``temperature``, ``top_p``,
    ``seed`` of :func:`style_answers` (the paper's T 0.6 / top-p 0.95 by default).
    """
    from thinking_sparks.circuits.pairs import Pair

    if clean == corrupted:
        raise ValueError("clean and corrupted styles must differ")
    cp, ca, ct = style_answers(lm, questions, clean, **sampling)
    rp, ra, rt = style_answers(lm, questions, corrupted, **sampling)
    pairs, index, n_identical, n_short = [], [], 0, 0
    for i in range(len(questions)):
        c, r = cp[i] + ca[i], rp[i] + ra[i]
        start = max(len(cp[i]), len(rp[i]))
        total = min(len(c), len(r), start + answer_tokens)
        if total - start < 1:
            n_short += 1
            continue
        if c[:total] == r[:total]:
            n_identical += 1
            continue
        pairs.append(Pair(tuple(c[:total]), tuple(r[:total]), target_pos=tuple(range(start - 1, total - 1))))
        index.append(i)
    log.info("%s vs %s pairs: %d kept, %d identical, %d too short", clean, corrupted, len(pairs), n_identical,
             n_short)
    return StylePairs(pairs, index, n_identical, n_short, clean, corrupted, {clean: ct, corrupted: rt})
