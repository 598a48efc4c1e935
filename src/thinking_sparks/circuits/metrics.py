"""Per-example losses L read at the target positions of a :class:`PairBatch`.

Every metric is a *loss* (scores then estimate ``L(edge corrupted) - L(clean)``), and every one
is a **mean over the target positions** of the example (one convention, so scores of different
metrics and of answers of different lengths are on a per-position scale):

* ``kl``: ``KL(P_clean || P) = sum_v P_clean(v) (log P_clean(v) - log P(v))``, natural log,
  summed over the vocabulary, averaged over target positions.  ``P_clean`` is fixed.
* ``logit-diff``: ``-(logit[correct] - logit[wrong])`` (raw logits), averaged over target positions.
* ``answer-logprob``: ``-mean_t log P(clean[t+1] | clean[<=t])`` over target positions ``t`` (the
  clean continuation's mean per-token log-probability; for answer spans).
"""

from __future__ import annotations

import torch
from torch import Tensor

from thinking_sparks.circuits.pairs import PairBatch

METRICS = ("kl", "logit-diff", "answer-logprob")


def check_metric(metric: str, batch: PairBatch | None = None) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if batch is not None and metric == "logit-diff" and bool((batch.correct < 0).any() | (batch.wrong < 0).any()):
        raise ValueError("metric 'logit-diff' needs correct and wrong answer ids in every pair")
    if batch is not None and metric == "answer-logprob":
        last = batch.valid.sum(1) - 1
        if bool((batch.target & (torch.arange(batch.target.shape[1]) >= last[:, None]).to(batch.target.device)).any()):
            raise ValueError("metric 'answer-logprob' needs target positions before the last token")


def loss(metric: str, logits: Tensor, batch: PairBatch, clean_logprobs: Tensor | None = None) -> Tensor:
    """Per-example loss ``[b]`` (float32).

    Args:
        logits: ``[b, p, vocab]`` of the run being scored, or ``[b, len(batch.cols), vocab]``
            (logits computed only at the metric positions ``batch.cols``).
        batch: pairs (target positions, answers, clean ids).
        clean_logprobs: log-softmax of the clean run, same layout as ``logits`` (``kl`` only).
    """
    p = batch.target.shape[1]
    cols = torch.arange(p, device=logits.device) if logits.shape[1] == p else batch.cols.to(logits.device)
    if logits.shape[1] != len(cols):
        raise ValueError(f"logits cover {logits.shape[1]} positions; expected {p} or {len(cols)}")
    tgt = batch.target.to(logits.device)[:, cols]
    w = tgt.float() / tgt.sum(1, keepdim=True).clamp(min=1).float()  # [b, p]
    logits = logits.float()
    if metric == "kl":
        if clean_logprobs is None:
            raise ValueError("kl needs the clean log-probabilities")
        logp = torch.log_softmax(logits, dim=-1)
        kl = (clean_logprobs.exp() * (clean_logprobs - logp)).sum(-1)  # [b, p]
        return (kl * w).sum(1)
    if metric == "logit-diff":
        idx = torch.stack([batch.correct, batch.wrong], dim=-1).to(logits.device)  # [b, 2]
        sel = logits.gather(2, idx[:, None, :].expand(-1, logits.shape[1], -1))  # [b, p, 2]
        return (-(sel[..., 0] - sel[..., 1]) * w).sum(1)
    if metric == "answer-logprob":
        logp = torch.log_softmax(logits, dim=-1)
        inside = cols + 1 < p
        nxt = batch.clean.to(logits.device)[:, (cols + 1).clamp(max=p - 1)]
        lp = logp.gather(2, nxt.unsqueeze(-1)).squeeze(-1)  # [b, n_cols]
        m = (tgt & inside).float()
        return -(lp * m).sum(1) / m.sum(1).clamp(min=1)
    raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
