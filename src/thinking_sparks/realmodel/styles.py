"""Think vs direct: circuit inputs from a chat model's own answers in two prompting styles.

A chat model without a thinking switch is asked the same question two ways (:data:`STYLES`):
reason step by step, or reply with the answer at once. Each style is a *mode* of the emergence
room's :class:`~thinking_sparks.emergence.pairs.Side` (:data:`STYLE_MODES`, registered here): the
style's instruction is appended to the bare question. So a style's answers are sampled, cached and
cut into equal-length pairs by the emergence room (``sample_prefixes``, ``build_pairs``: one
implementation, whose answer span starts after the *longer* of the two prompts), and the two
styles' circuits come from :func:`thinking_sparks.emergence.think_circuits` with
``on="step-by-step", off="direct"`` on a bare question set (``words/<level>-bare``):
:func:`style_heads` builds them, :func:`overlap` bootstraps their Jaccard overlap over questions and
:func:`style_circuits` keeps both as a :class:`StyleCircuits` record (head lists, overlap, CIs).

A model with a switch (Qwen3's ``enable_thinking``) is better served by the emergence room's own
``think`` / ``no_think`` modes, which use its template.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.emergence.pairs import PairParams, PairSet, Side, build_pairs, register_mode, sample_prefixes
from thinking_sparks.emergence.trace import think_circuits
from thinking_sparks.evaluation.datasets import Problem
from thinking_sparks.evaluation.generation import SamplingConfig
from thinking_sparks.interventions.counts import null_circuit, think_counts
from thinking_sparks.interventions.experiments import head_overlap
from thinking_sparks.plan import PLAN
from thinking_sparks.realmodel.runs import STYLES

log = logging.getLogger(__name__)

__all__ = ["STYLES", "STYLE_MODES", "StyleCircuits", "StylePairs", "overlap", "style_circuits", "style_heads",
           "style_pairs", "style_side"]

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
    if clean == corrupted:
        raise ValueError("clean and corrupted styles must differ")
    probs = [Problem(id=f"q{i}", question=q, answer="") for i, q in enumerate(questions)]
    sampling = SamplingConfig(n=1, temperature=temperature, top_p=top_p, seed=seed, max_new_tokens=max_new_tokens)
    params = PairParams(dataset="(given questions)", n_questions=max(2, len(probs)), answer_tokens=None,
                        sampling=sampling)
    sides = {s: style_side(lm.spec, s) for s in (clean, corrupted)}
    pre = {s: sample_prefixes(side, params, lm=lm, use_cache=use_cache, problems=probs) for s, side in sides.items()}
    ps = build_pairs(pre[clean], pre[corrupted], answer_tokens)
    log.info("%s vs %s pairs: %d kept, %d identical, %d too short", clean, corrupted, len(ps.pairs), ps.n_identical,
             ps.n_short)
    return StylePairs(ps.pairs, ps.question_index, ps.n_identical, ps.n_short, clean, corrupted,
                      {s: p.texts for s, p in pre.items()}, ps)


# ------------------------------------------------------------------ the two styles' circuits


def style_heads(model: str, pair_params: PairParams, settings: CircuitConfig, k: int) -> dict[str, Any]:
    """The step-by-step (think-on) and direct (think-off) circuits of ``model`` from its own answers
    on ``pair_params.dataset`` (bare questions, e.g. ``words/easy-bare``): ``comparison`` (the
    :class:`~thinking_sparks.emergence.trace.Comparison`: ``model`` the direct circuit, ``base`` the
    step-by-step one), ``on_null`` (the step-by-step circuit on the set's next question sample of the
    same size: the same-style null; None when the set holds one sample), ``on`` / ``off`` (their heads), ``overlap`` (counts and Jaccard), ``off_only``
    (the top ``k`` direct-only heads by the direct circuit's score), ``n_off_only``, ``on_only`` and
    ``on_only_top`` (the top ``k`` step-by-step-only heads)."""
    cmp = think_circuits(model, pair_params, settings, on=STYLE_MODES["think"], off=STYLE_MODES["direct"])
    on, off = list(cmp.base.heads), list(cmp.model.heads)
    on_null = null_circuit(model, pair_params, settings, on=STYLE_MODES["think"], off=STYLE_MODES["direct"])
    return {"comparison": cmp, "on_null": on_null, "on": on, "off": off, "overlap": head_overlap(on, off),
            "off_only": list(cmp.sets.emergent[:k]), "n_off_only": len(cmp.sets.emergent),
            "on_only": list(cmp.sets.base_only), "on_only_top": list(cmp.sets.base_only[:k])}


def overlap(th: dict[str, Any], settings: CircuitConfig, n_boot: int | None = None, seed: int = 0) -> dict[str, float]:
    """Jaccard overlap of the two style circuits with a 95% paired bootstrap CI over questions, the
    CIs of each one-sided count and of ``diff`` = heads(direct) − heads(step-by-step) (nan when a
    circuit has no signal), and ``on_only_null``: the ``PLAN.circuits.floor_quantile`` quantile of the
    same-style null of a one-sided count (:func:`~thinking_sparks.interventions.counts.think_counts`;
    nan when not measured). ``n_boot`` resamples (None: ``PLAN.circuits.n_boot``)."""
    cmp = th["comparison"]
    point = th["overlap"]
    out = {"jaccard": point["jaccard"], "on_only": point["only_a"], "off_only": point["only_b"],
           "n_on": point["n_a"], "n_off": point["n_b"]}
    nan = float("nan")
    boot, null = think_counts(cmp.base, cmp.model, settings, seed, n_boot, on_null=th.get("on_null"))
    out["on_only_null"] = float(np.quantile(null, PLAN.circuits.floor_quantile)) if null is not None else nan
    if boot is None:
        return out | {f"{c}_{e}": nan for c in ("jaccard", "on_only", "off_only", "diff") for e in ("low", "high")}
    boot = boot.rename(columns={"only_a": "on_only", "only_b": "off_only"}).assign(diff=boot.n_b - boot.n_a)
    lo, hi = (1 - PLAN.stats.confidence) / 2, (1 + PLAN.stats.confidence) / 2
    for c in ("jaccard", "on_only", "off_only", "diff"):
        out[f"{c}_low"], out[f"{c}_high"] = (float(boot[c].quantile(q)) for q in (lo, hi))
    return out


@dataclass
class StyleCircuits:
    """The two style circuits of one model, as a page shows them.

    ``on`` / ``off``: heads of the step-by-step / direct circuit; ``off_only`` / ``on_only_top``: the
    top ``k`` heads only one of them holds (the intervened sets); ``n_off_only``: all direct-only
    heads; ``overlap``: :func:`overlap` (Jaccard, one-sided counts, their 95% CIs); ``labels``: each
    circuit's clean side (``<spec> (step-by-step)``, ``<spec> (direct)``); ``n_layers`` x ``n_heads``:
    the model's heads; ``pairs``: pairs kept per circuit; ``seconds``: circuit seconds as computed.
    """

    on: list[str]
    off: list[str]
    off_only: list[str]
    on_only_top: list[str]
    n_off_only: int
    overlap: dict[str, float]
    labels: dict[str, str]
    n_layers: int
    n_heads: int
    pairs: dict[str, int]
    seconds: float = 0.0


def style_circuits(model: str, pair_params: PairParams, settings: CircuitConfig, k: int,
                   n_boot: int | None = None) -> StyleCircuits:
    """:func:`style_heads` and their :func:`overlap` (``n_boot`` resamples) as a :class:`StyleCircuits`."""
    th = style_heads(model, pair_params, settings, k)
    ov = overlap(th, settings, n_boot=n_boot)
    cmp = th["comparison"]
    seconds = sum(float(c.seconds.get("total_s", 0.0)) for c in (cmp.base, cmp.model))
    return StyleCircuits(th["on"], th["off"], th["off_only"], th["on_only_top"], th["n_off_only"], ov,
                         {"think": cmp.base.clean, "direct": cmp.model.clean}, cmp.base.n_layers, cmp.base.n_heads,
                         {"think": cmp.base.n_pairs, "direct": cmp.model.n_pairs}, seconds)
