"""Gradient attribution from the first differing position: the same scores, fewer positions.

Where the clean and corrupted inputs of every pair of a batch agree token for token from the
first position up to ``s`` (an organism's pairs share the question and often the first answer
tokens: about half of a batch's positions), every activation at those positions is the same in the
clean run, the corrupted run and every run on an interpolated input (``e_corr + a (e_clean -
e_corr)`` equals both there), so:

* each source's ``Delta_u`` is zero there: no position ``< s`` adds to any score;
* a loss term read at a position ``t < s`` is the same in every run (its gradient only reaches
  positions ``<= t``, where ``Delta_u`` is zero);
* a destination's input gradient at a position ``>= s`` depends on the earlier positions only
  through their keys and values, the same in every run.

So the attribution's runner (``attribute._Runner`` with :class:`SharedPrefix`) runs the clean input once in full (its sources, logits and every layer's
keys and values), and every gradient run (and the corrupted run) only on positions ``s ..`` with
the prefix's cached keys and values; the loss reads the clean logits at the metric positions
before ``s``, with the per-example mean over all target positions kept.  ``s`` is capped at the
last metric position, so a run always reads at least one logit.  The scores are those of the
full-length runs up to float rounding (``tests/test_prefixed.py``).

Shapes: ``b`` pairs, ``p`` positions (``p - s`` in the suffix runs), ``H`` query heads, ``dh`` head width.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from thinking_sparks.circuits.forward import CircuitModel, RunOutput

__all__ = ["SharedPrefix", "first_difference"]


def first_difference(clean: Tensor, corrupted: Tensor) -> int:
    """Leading positions where every row of ``clean`` and ``corrupted`` (``[b, p]`` ids) agree."""
    return int((clean == corrupted).int().cumprod(1).sum(1).min())


@dataclass
class SharedPrefix:
    """What the runs of one batch after the clean one need: they cover positions ``s ..`` and
    attend to ``past`` (per layer, the clean run's keys and values ``[b, s, H, dh]``; None when
    ``s`` is 0); their logits at ``suffix_cols`` (metric columns from ``s`` on, shifted by ``s``)
    follow ``clean_before`` (the clean logits at the metric columns before ``s``)."""

    s: int
    past: list[tuple[Tensor, Tensor]] | None
    suffix_cols: Tensor
    clean_before: Tensor

    @classmethod
    def clean_run(cls, cm: CircuitModel, emb_clean: Tensor, clean: Tensor, corrupted: Tensor,
                  cols: Tensor) -> tuple[SharedPrefix, RunOutput]:
        """Run the clean input ``emb_clean`` ``[b, p, D]`` in full (recording every source, logits
        at ``cols``); ``clean`` / ``corrupted``: the batch's ``[b, p]`` ids. ``s`` is capped at the
        last metric column, so a later run always reads a logit."""
        s = min(first_difference(clean, corrupted), int(cols.max()))
        kv: list = []
        out = cm.run(emb_clean, record=True, positions=cols, kv_out=kv)
        keep = cols >= s
        past = [(k[:, :s], v[:, :s]) for k, v in kv] if s else None
        return cls(s, past, cols[keep] - s, out.logits[:, : int((~keep).sum())].detach()), out

    def run(self, cm: CircuitModel, emb: Tensor, **kw) -> RunOutput:
        """A run from ``emb`` ``[b, p - s, D]`` (positions ``s ..``); logits at every metric column."""
        out = cm.run(emb, positions=self.suffix_cols, start=self.s, past=self.past, **kw)
        out.logits = torch.cat([self.clean_before.to(out.logits.dtype), out.logits], dim=1)
        return out
