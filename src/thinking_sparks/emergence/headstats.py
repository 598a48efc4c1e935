"""Head-set statistics at a fixed sample size: a paired bootstrap by question, inclusion
probabilities, the analysis plan's rule, and the same-size null.

A head is **emergent** when its inclusion probability in the model's circuit is at least
``plan.p_model`` and in the base's at most ``plan.p_base`` (:data:`~thinking_sparks.plan.PLAN`);
**base-only** when the roles are swapped (``p_base >= plan.p_model`` and ``p_model <= plan.p_base``);
**retained** when both are at least ``plan.p_model``. Heads between the bounds are called nothing.

* :class:`Scores` — one circuit's per-example edge scores with the question of each row.
* :func:`paired_weights` — resample questions once, weights for both circuits' rows.
* :func:`memberships` — the heads of many weighted circuits at once (batched top-n and pruning,
  the same circuits as :func:`~.sweep.circuit_heads`).
* :func:`head_stats` — ``p_model``, ``p_base``, the rule's head sets and their counts' bootstrap
  distribution (a double bootstrap: ``plan.n_outer`` resamples, each one's probabilities from
  ``plan.n_inner`` resamples of it), :class:`HeadStats`.
* :func:`null_stats` — the same rule on two circuits of one checkpoint on independent question
  samples of the comparison's size (the count a claimed one must beat).

**Pairing.** Questions, not rows, are resampled: the union of both circuits' question ids is drawn
with replacement once per resample and each circuit's rows take the count of their question. A
question may be missing on one side (its pair was dropped because clean and corrupted answers were
identical); it then gets weight 0 on that side. A dropped pair's edge scores would all be 0, so a
weight of 0 ranks the edges exactly as a zero row would (the mean is only rescaled). A resample in
which one side has no row at all has an empty circuit on that side. Two *independent* samples (the
null) have no shared questions; they are paired by the rank of the question id (:meth:`Scores.ranked`).

**Interval.** The count is an integer function of ~``n_heads`` thresholded probabilities: BCa's
jackknife acceleration would need one double bootstrap per left-out question (hundreds), so the
interval is the percentile interval of the outer resamples (``stats.confidence``). A resample of a
resample makes the probabilities noisier, which lowers both the comparison's counts and the null's,
so the test compares like with like; tests/test_headstats.py checks the calibration on null data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from thinking_sparks.circuits.circuit import _readers
from thinking_sparks.plan import PLAN, CircuitPlan, StatsPlan

__all__ = ["HeadStats", "Scores", "head_stats", "memberships", "null_stats", "paired_weights", "rule"]

#: resampled circuits computed at once (bounds memory: ``CHUNK x n_src x n_dst`` floats)
CHUNK = 512


@dataclass
class Scores:
    """One circuit's per-example scores: ``per_example`` ``[n_pairs, n_src, n_dst]``, ``questions``
    ``[n_pairs]`` (the question id of each row; a circuit without signal has no rows)."""

    per_example: torch.Tensor
    questions: np.ndarray

    def __post_init__(self):
        self.questions = np.asarray(self.questions, dtype=np.int64)
        if len(self.questions) != self.per_example.shape[0]:
            raise ValueError(f"{self.per_example.shape[0]} score rows but {len(self.questions)} question ids")

    @classmethod
    def of(cls, r) -> Scores:
        """The scores of a :class:`~.sweep.CircuitResult` (from its cache entry)."""
        return cls(r.per_example(), np.asarray(r.question_index[: r.n_pairs], dtype=np.int64))

    def ranked(self) -> Scores:
        """The same rows with each question id replaced by its rank (pairs independent samples)."""
        _, ranks = np.unique(self.questions, return_inverse=True)
        return Scores(self.per_example, ranks)

    def take(self, rows) -> Scores:
        """The rows ``rows`` (an index array)."""
        rows = np.asarray(rows, dtype=np.int64)
        return Scores(self.per_example[torch.as_tensor(rows)], self.questions[rows])


def paired_weights(qa: np.ndarray, qb: np.ndarray, n_boot: int, gen: torch.Generator,
                   parent: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(wa [m, len(qa)], wb [m, len(qb)], c [m, n_keys])``: question counts ``c`` of resamples of
    the union of question ids (sorted), drawn with replacement, and each row's weight = its
    question's count. Without ``parent``: ``m = n_boot`` resamples of the questions; with
    ``parent`` ``[p, n_keys]`` (counts of earlier resamples): ``n_boot`` resamples of each, drawn from
    the multiset its counts describe (``m = p * n_boot``, parent-major)."""
    keys = np.union1d(qa, qb)
    k = len(keys)
    if parent is None:
        draws = torch.randint(0, k, (n_boot, k), generator=gen)
    else:
        draws = torch.multinomial(parent.float().repeat_interleave(n_boot, 0), k, replacement=True, generator=gen)
    c = torch.zeros(draws.shape[0], k).scatter_add_(1, draws, torch.ones(draws.shape))
    ia, ib = torch.as_tensor(np.searchsorted(keys, qa)), torch.as_tensor(np.searchsorted(keys, qb))
    return c[:, ia], c[:, ib], c


def memberships(per_example: torch.Tensor, weights: torch.Tensor, graph, n: int, aggregation: str = "mean") -> torch.Tensor:
    """``[n_boot, n_layers * n_heads]`` bool: the heads (layer-major) of the pruned top-``n`` circuit
    of each weighted mean of ``per_example`` ``[k, n_src, n_dst]`` (``weights`` ``[n_boot, k]``; a
    row of zeros: an empty circuit). The circuits of :func:`~.sweep.circuit_heads`, batched, on
    ``per_example``'s device (the result on the CPU)."""
    nb, k = weights.shape
    heads = [graph.head_src(layer, h) for layer in range(graph.n_layers) for h in range(graph.n_heads)]
    if k == 0 or nb == 0:
        return torch.zeros(nb, len(heads), dtype=torch.bool)
    dev = per_example.device
    flat = per_example.reshape(k, -1).float()
    mask = graph.edge_mask(dev)
    n = max(0, min(n, int(mask.sum())))
    readers = _readers(graph).float().to(dev)  # [n_dst, n_src]
    out = []
    for w in weights.to(dev).split(CHUNK):
        tot = w.sum(1, keepdim=True)
        w = w / tot.clamp_min(1e-12)
        key = ((w @ flat.abs()) if aggregation == "mean_abs" else (w @ flat).abs()).reshape(-1, *mask.shape)
        key = torch.where(mask, key, torch.full_like(key, -1.0)).transpose(1, 2).reshape(len(w), -1)  # dst-major
        edges = _top(key, n).reshape(len(w), graph.n_dst, graph.n_src).transpose(1, 2) & mask
        edges &= (tot > 0)[:, :, None]
        out.append(_pruned_sources(edges, readers, graph.logits_dst)[:, heads].cpu())
    return torch.cat(out)


def _top(key: torch.Tensor, n: int) -> torch.Tensor:
    """``[b, m]`` bool: the ``n`` largest of each row of ``key``, ties taken in row order (the stable
    sort of :func:`~thinking_sparks.circuits.circuit.top_n`, without sorting)."""
    if n == 0:
        return torch.zeros_like(key, dtype=torch.bool)
    v = key.topk(n, dim=1).values[:, -1:]  # [b, 1] the n-th largest
    gt, eq = key > v, key == v
    return gt | (eq & (eq.cumsum(1) <= n - gt.sum(1, keepdim=True)))


def _pruned_sources(edges: torch.Tensor, readers: torch.Tensor, logits_dst: int) -> torch.Tensor:
    """``[b, n_src]`` bool: source nodes with a kept edge after
    :func:`~thinking_sparks.circuits.circuit.prune` of ``edges`` ``[b, n_src, n_dst]``, iterated on
    node masks (kept edges = ``edges & src_alive & dst_alive``: the same fixed point)."""
    e = edges.float()
    b, n_src, n_dst = e.shape
    is_input = torch.zeros(n_src, dtype=torch.bool, device=e.device)
    is_input[0] = True
    logits_col = torch.zeros(n_dst, dtype=torch.bool, device=e.device)
    logits_col[logits_dst] = True
    src = torch.ones(b, n_src, dtype=torch.bool, device=e.device)
    dst = torch.ones(b, n_dst, dtype=torch.bool, device=e.device)
    while True:
        has_out = src & (torch.bmm(e, dst.float()[:, :, None])[:, :, 0] > 0)  # [b, S]
        used = dst & (torch.bmm(src.float()[:, None, :], e)[:, 0] > 0)  # [b, N]
        has_in = (used.float() @ readers) > 0  # [b, S]
        new_src = has_out & (has_in | is_input)
        new_dst = dst & (((new_src.float() @ readers.T) > 0) | logits_col)
        if torch.equal(new_src, src) and torch.equal(new_dst, dst):
            return src & (torch.bmm(e, dst.float()[:, :, None])[:, :, 0] > 0)
        src, dst = new_src, new_dst


def rule(p_model: np.ndarray, p_base: np.ndarray, plan: CircuitPlan = PLAN.circuits) -> dict[str, np.ndarray]:
    """``emergent``, ``base_only``, ``retained`` bool masks of the plan's rule (see module docstring)."""
    hi_m, hi_b = p_model >= plan.p_model, p_base >= plan.p_model
    return {"emergent": hi_m & (p_base <= plan.p_base), "base_only": hi_b & (p_model <= plan.p_base),
            "retained": hi_m & hi_b}


@dataclass
class HeadStats:
    """The rule on one pair of circuits. ``p_model`` / ``p_base``: ``[n_layers * n_heads]``
    inclusion probabilities (layer-major); ``sets``: the rule's head names; ``boot``: one row per
    outer resample, the rule's counts (``emergent, base_only, retained``)."""

    p_model: np.ndarray
    p_base: np.ndarray
    sets: dict[str, list[str]]
    boot: pd.DataFrame
    confidence: float = 0.95
    meta: dict = field(default_factory=dict)

    def count(self, what: str = "emergent") -> int:
        return len(self.sets[what])

    def ci(self, what: str = "emergent") -> tuple[float, float]:
        """Percentile interval of the count (NaN without resamples)."""
        x = self.boot[what].to_numpy(float)
        if not len(x):
            return float("nan"), float("nan")
        a = (1 - self.confidence) / 2
        return float(np.quantile(x, a)), float(np.quantile(x, 1 - a))

    def floor(self, what: str = "emergent", q: float = PLAN.circuits.floor_quantile) -> tuple[float, float]:
        """``(mean, q-quantile)`` of the count's bootstrap distribution (for a null: the floor)."""
        x = self.boot[what].to_numpy(float)
        return (float(x.mean()), float(np.quantile(x, q))) if len(x) else (float("nan"), float("nan"))


def _probabilities(a: Scores, b: Scores, graph, n: int, n_boot: int, gen: torch.Generator, aggregation: str,
                   parent: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Inclusion probabilities ``[p, n_layers * n_heads]`` of both circuits over ``n_boot`` paired
    resamples (of the questions, ``p = 1``; or of each ``parent`` resample)."""
    wa, wb, _ = paired_weights(a.questions, b.questions, n_boot, gen, parent)
    shape = (-1, n_boot, graph.n_layers * graph.n_heads)
    return (memberships(a.per_example, wa, graph, n, aggregation).reshape(shape).float().mean(1).numpy(),
            memberships(b.per_example, wb, graph, n, aggregation).reshape(shape).float().mean(1).numpy())


def head_stats(model: Scores, base: Scores, graph, n: int, plan: CircuitPlan = PLAN.circuits,
               stats: StatsPlan = PLAN.stats, aggregation: str = "mean", n_outer: int | None = None) -> HeadStats:
    """The rule on ``model`` vs ``base`` (paired by question id; see the module docstring).

    ``p_model`` / ``p_base`` from ``plan.n_boot`` paired resamples; the counts' distribution from
    ``n_outer`` (default ``plan.n_outer``) outer resamples, each with ``plan.n_inner`` inner ones.
    Deterministic by ``stats.seed``.
    """
    gen = torch.Generator().manual_seed(stats.seed)
    names = [f"L{layer}H{h}" for layer in range(graph.n_layers) for h in range(graph.n_heads)]
    pm, pb = (p[0] for p in _probabilities(model, base, graph, n, plan.n_boot, gen, aggregation))
    sets = {k: [h for h, m in zip(names, v, strict=True) if m] for k, v in rule(pm, pb, plan).items()}
    _, _, outer = paired_weights(model.questions, base.questions, n_outer or plan.n_outer, gen)
    qm, qb = _probabilities(model, base, graph, n, plan.n_inner, gen, aggregation, parent=outer)
    boot = pd.DataFrame({k: v.sum(1) for k, v in rule(qm, qb, plan).items()})
    return HeadStats(pm, pb, sets, boot, stats.confidence, {"n_model": len(model.questions),
                                                             "n_base": len(base.questions)})


def null_stats(sample0: Scores, sample1: Scores, graph, n: int, plan: CircuitPlan = PLAN.circuits,
               stats: StatsPlan = PLAN.stats, aggregation: str = "mean", n_outer: int | None = None) -> HeadStats:
    """The rule on two circuits of one checkpoint on independent question samples (paired by rank):
    ``.floor()`` is the same-size noise floor of an emergent count."""
    return head_stats(sample0.ranked(), sample1.ranked(), graph, n, plan, stats, aggregation, n_outer)


def halves(s: Scores, seed: int = PLAN.stats.seed) -> tuple[Scores, Scores]:
    """Two disjoint halves of ``s``'s questions (a stand-in null when no independent sample was
    drawn: half the size, so a larger floor than the comparison's own, a conservative test)."""
    q = np.unique(s.questions)
    perm = np.random.default_rng(seed).permutation(q)
    first = np.isin(s.questions, perm[: len(q) // 2])
    second = np.isin(s.questions, perm[len(q) // 2: 2 * (len(q) // 2)])
    return s.take(np.flatnonzero(first)), s.take(np.flatnonzero(second))
