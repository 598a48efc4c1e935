"""How sure: effects, rank agreement, bootstraps and the two measured choices (head-set counts and their same-size null: :mod:`.headstats`).

* :func:`effect` — the paper's §A.6 ``E = (I_post - I_pre) / (I_post + I_pre + eps)``.
* :func:`spearman`, :func:`permutation_p` — rank correlation and its two-sided permutation p-value,
  deterministic by seed.
* :func:`slope_interval` — Sen's slope of ``y`` on ``x`` with the confidence interval that inverts
  the permutation test of Kendall's tau (exact under exchangeable residuals);
  :func:`reward_tracking` applies it to the checkpoint-to-checkpoint *changes* of new heads and reward
  (the statistic the paper's reward-tracking claim lacks).
* :func:`overlap_bootstrap` — Jaccard overlap of two circuits on the same pairs, pairs resampled.
* (emergent / base-only / retained counts, their intervals and same-size floors: :mod:`.headstats`)
* :func:`ig_steps_check` — head ranking at several IG step counts against the largest.
* :func:`topn_scaling` — head counts and faithfulness as top-n moves around the paper's fraction.
* :func:`emergent_jaccard_bootstrap` — emergent heads by EAP-IG against those by exact patching.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from thinking_sparks.circuits.agreement import exact_heads
from thinking_sparks.circuits.attribute import attribute, exact_node_scores, node_scores
from thinking_sparks.circuits.circuit import head_effect, spearman, top_n  # noqa: F401 (re-exported)
from thinking_sparks.circuits.faithfulness import evaluate_circuit
from thinking_sparks.emergence.sweep import circuit_heads, head_scores
from thinking_sparks.plan import PLAN, Plan

EPS = 1e-6
#: the paper's effect E (§A.6) and rank correlation: the circuits room's, one definition each
effect = head_effect


def mean_effect(i_posts: Sequence[np.ndarray], i_pre: np.ndarray, eps: float = EPS) -> np.ndarray:
    """``Ē = (1/|T|) Σ_t E^(t)``: the effect averaged over checkpoints (paper §A.6)."""
    if not len(i_posts):
        raise ValueError("no checkpoints to average")
    return np.mean([effect(np.asarray(p), np.asarray(i_pre), eps) for p in i_posts], axis=0)


def permutation_p(a, b, n_perm: int = 10_000, seed: int = 0) -> float:
    """Two-sided p-value of :func:`spearman` under random pairings (``(1 + hits) / (1 + n_perm)``,
    vectorized over permutations of ``b``'s ranks; deterministic by ``seed``)."""
    rho = spearman(a, b)
    if np.isnan(rho):
        return float("nan")
    ra = pd.Series(np.asarray(a, float)).rank().to_numpy()
    rb = pd.Series(np.asarray(b, float)).rank().to_numpy()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    rng = np.random.default_rng(seed)
    perms = rng.permuted(np.tile(rb, (n_perm, 1)), axis=1)  # [n_perm, n]
    rhos = perms @ ra / (np.linalg.norm(ra) * np.linalg.norm(rb))
    hits = int((np.abs(rhos) >= abs(rho) - 1e-12).sum())
    return (1 + hits) / (1 + n_perm)


@functools.lru_cache(maxsize=64)
def _kendall_null(ties: tuple[int, ...], exact_max: int, n_perm: int, seed: int) -> np.ndarray:
    """``[n_perm or m!]`` sorted ``|S|``, Kendall's S of an ``x`` with tie groups of sizes ``ties``
    against tie-free residuals in random order: every permutation up to ``exact_max`` items, else
    ``n_perm`` drawn by ``seed`` (the null depends on ``x`` only through its ties: cached by them)."""
    x = np.repeat(np.arange(len(ties)), ties)
    m = len(x)
    if m <= exact_max:
        perms = np.array(list(itertools.permutations(range(m))), dtype=np.int8)  # [m!, m]
    else:
        perms = np.random.default_rng(seed).permuted(np.tile(np.arange(m, dtype=np.int8), (n_perm, 1)), axis=1)
    iu = np.triu_indices(m, 1)
    sr = np.sign(perms[:, iu[1]] - perms[:, iu[0]]).astype(np.int16)  # [n, pairs]
    out = np.sort(np.abs(sr @ np.sign(x[iu[1]] - x[iu[0]]).astype(np.int16)))
    out.flags.writeable = False
    return out


def slope_interval(x, y, confidence: float | None = None, plan: Plan = PLAN) -> dict:
    """Sen's slope of ``y`` on ``x`` and its CI from inverting the two-sided permutation test of
    Kendall's tau between ``x`` and the residuals ``y - b x`` (Sen 1968; the null distribution is
    the permutation one for ``x``'s own ties, exact up to ``plan.section4.exact_permutations`` items).

    The CI holds every slope ``b`` the test does not reject: its ends are order statistics of the
    pairwise slopes (pairs with equal ``x`` carry no slope). It is exact whenever the residuals are
    exchangeable, e.g. for independent random walks once differenced. Too few items for the test
    to reject at all give NaN ends (``finite`` False), never an arbitrary interval.

    Returns:
        ``slope, ci_low, ci_high, tau`` (Kendall tau-a of ``x`` and ``y``), ``p`` (two-sided
        permutation p of tau at slope 0), ``n`` (items), ``finite`` (the test can reject).
    """
    conf = plan.stats.confidence if confidence is None else confidence
    x, y = np.asarray(x, float), np.asarray(y, float)
    m = len(x)
    out = {"slope": math.nan, "ci_low": math.nan, "ci_high": math.nan, "tau": math.nan, "p": math.nan, "n": m,
           "finite": False}
    if m < 2 or len(y) != m:
        return out
    iu = np.triu_indices(m, 1)
    dx, dy = (x[iu[1]] - x[iu[0]]), (y[iu[1]] - y[iu[0]])
    slopes = np.sort(dy[dx != 0] / dx[dx != 0])
    if not len(slopes):
        return out  # x is constant: no slope
    s4 = plan.section4
    ties = tuple(sorted(np.unique(x, return_counts=True)[1].tolist()))
    null = _kendall_null(ties, s4.exact_permutations, s4.n_permutations, plan.stats.seed)
    s0 = float(np.sign(dy) @ np.sign(dx))
    out |= {"slope": float(np.median(slopes)), "tau": s0 / len(dx),
            "p": float((np.sum(null >= abs(s0) - 1e-9) + (m > s4.exact_permutations)) /
                       (len(null) + (m > s4.exact_permutations)))}
    alpha = 1 - conf
    crit = [c for c in np.unique(null) if c > 0 and np.mean(null >= c) <= alpha]
    if not crit:
        return out  # no statistic is rare enough at this size: the test cannot reject
    c, big_n = float(min(crit)), len(slopes)
    j = math.floor((big_n - c) / 2) + 1  # 1-based: the first order statistic where S(b) < c
    if j < 1:
        return out
    out |= {"ci_low": float(slopes[j - 1]), "ci_high": float(slopes[big_n - j]), "finite": True}
    return out


def reward_tracking(counts: pd.DataFrame, rewards: pd.DataFrame, n_perm: int = 10_000, seed: int = 0,
                    plan: Plan = PLAN) -> dict:
    """New heads against the accuracy reward across checkpoints: their levels (Spearman, descriptive:
    two trending series correlate by chance) and their checkpoint-to-checkpoint changes (what the
    claim is decided on: :func:`slope_interval` of the reward change on the new-head change).

    Args:
        counts: ``step, emergent`` (per checkpoint, from :func:`~.sets.cohorts`).
        rewards: ``step, accuracy`` per training step (the GRPO log); each checkpoint takes the
            mean accuracy over the steps since the previous checkpoint.
        n_perm, seed: permutations of the levels' Spearman p.
    Returns:
        ``n, spearman, p`` (levels), ``changes`` (first differences between consecutive checkpoints
        with a reward), ``change_spearman``, ``change_tau``, ``change_p`` (two-sided permutation p
        of tau), ``slope, slope_low, slope_high`` (Sen's slope, reward change per new head, and its
        CI at ``plan.stats.confidence``), ``per_checkpoint`` (``step, new_heads, reward``).
    """
    steps = sorted(counts.step)
    r = rewards.sort_values("step")
    vals, prev = [], -1
    for s in steps:
        win = r[(r.step > prev) & (r.step <= s)]["accuracy"]
        vals.append(float(win.mean()) if len(win) else float("nan"))
        prev = s
    em = counts.set_index("step").loc[steps, "emergent"].to_numpy(float)
    ok = ~np.isnan(vals)
    a, b = em[ok], np.asarray(vals)[ok]
    da, db = np.diff(a), np.diff(b)
    ch = slope_interval(da, db, plan=plan)
    return {"n": int(ok.sum()), "spearman": spearman(a, b), "p": permutation_p(a, b, n_perm, seed),
            "changes": len(da), "change_spearman": spearman(da, db) if len(da) >= 2 else float("nan"),
            "change_tau": ch["tau"], "change_p": ch["p"], "slope": ch["slope"], "slope_low": ch["ci_low"],
            "slope_high": ch["ci_high"],
            "per_checkpoint": pd.DataFrame({"step": steps, "new_heads": em, "reward": vals})}


def overlap_bootstrap(pe_a: torch.Tensor, pe_b: torch.Tensor, graph, n: int, n_boot: int = 200, seed: int = 0,
                      aggregation: str = "mean") -> pd.DataFrame:
    """Jaccard overlap and one-sided counts of two circuits built on the *same* pairs (e.g. a model's
    think-on and think-off circuits), over ``n_boot`` resamples of the pairs (the same rows for both
    circuits: a paired bootstrap; deterministic by ``seed``).

    Args:
        pe_a, pe_b: ``[n_pairs, n_src, n_dst]`` per-example scores, row ``i`` of both on pair ``i``.
        n: top-n edges.
    Returns:
        one row per resample: ``jaccard, only_a, only_b, n_a, n_b``.
    """
    if pe_a.shape[0] != pe_b.shape[0]:
        raise ValueError(f"paired circuits need the same pairs: {pe_a.shape[0]} vs {pe_b.shape[0]} rows")
    g = torch.Generator().manual_seed(seed)
    rows = []
    k = pe_a.shape[0]
    for _ in range(n_boot):
        r = torch.randint(0, k, (k,), generator=g)
        a, b = circuit_heads(pe_a, graph, n, r, aggregation), circuit_heads(pe_b, graph, n, r, aggregation)
        union = a | b
        rows.append({"jaccard": len(a & b) / len(union) if union else float("nan"), "only_a": len(a - b),
                     "only_b": len(b - a), "n_a": len(a), "n_b": len(b)})
    return pd.DataFrame(rows)


def ig_steps_check(lm, pairs, steps: Sequence[int] = (5, 20, 100), threshold: float = 0.95, metric: str = "kl",
                   rule: str = "left") -> pd.DataFrame:
    """Head ranking (node score) at each IG step count vs the largest: ``m, spearman, seconds,
    chosen`` where ``chosen`` marks the smallest ``m`` whose Spearman with the largest is at least
    ``threshold``."""
    steps = sorted({int(m) for m in steps})
    scores, secs = {}, {}
    for m in steps:
        t0 = time.perf_counter()
        a = attribute(lm, pairs, method="eap-ig-inputs", metric=metric, steps=m, rule=rule, progress=False)
        secs[m] = time.perf_counter() - t0
        scores[m] = head_scores(a.scores.abs(), a.graph).ravel()
    ref = scores[steps[-1]]
    rows = [{"m": m, "spearman": spearman(scores[m], ref), "seconds": round(secs[m], 3)} for m in steps]
    df = pd.DataFrame(rows)
    ok = df[df.spearman >= threshold]
    chosen = int(ok.m.min()) if len(ok) else steps[-1]
    df["chosen"] = df.m == chosen
    return df


def topn_scaling(lm, pairs, attribution, sizes: Sequence[int], metric: str = "kl",
                 aggregation: str = "mean") -> pd.DataFrame:
    """For each top-n: edge fraction, edges and heads kept after pruning, normalized faithfulness."""
    total = attribution.graph.n_edges
    rows = []
    for n in sorted({int(s) for s in sizes}):
        c = top_n(attribution, n, aggregation)
        f = evaluate_circuit(lm, pairs, c, metric=metric, batch_size=attribution.batch_size or 8)
        rows.append({"top_n": n, "fraction": n / total, "edges": c.n_edges, "heads": len(c.heads()),
                     "faithfulness": float(f.normalized)})
    return pd.DataFrame(rows)


def topn_sizes(top_n: int, n_edges: int) -> list[int]:
    """Top-n values around a chosen one for :func:`topn_scaling`: 1/4x .. 8x (within the graph)."""
    return sorted({max(1, min(n_edges, round(top_n * f))) for f in (0.25, 0.5, 1, 2, 4, 8)})


def attribution_vs_exact(lm, pairs, attribution, metric: str = "kl", gqa: str = "ungrouped") -> tuple[pd.DataFrame, float]:
    """Head attribution (summed outgoing edge scores) against exact activation patching of each
    head's whole output: ``(frame of head, attribution, exact; their Spearman)``."""
    attr = node_scores(attribution)
    exact = exact_node_scores(lm, pairs, metric=metric, gqa=gqa)
    df = pd.DataFrame({"head": list(exact), "attribution": [attr[h] for h in exact], "exact": list(exact.values())})
    return df, spearman(df.attribution, df.exact)


def jaccard(a: set, b: set) -> float:
    """``|a & b| / |a | b|`` (NaN when both are empty)."""
    return len(a & b) / len(a | b) if a | b else float("nan")


def head_names(n_layers: int, n_heads: int) -> list[str]:
    """``L0H0, L0H1, ...`` (layer-major, the order of exact-patching effects)."""
    return [f"L{l}H{h}" for l in range(n_layers) for h in range(n_heads)]


def emergent_jaccard_bootstrap(model_pe: torch.Tensor, model_exact: torch.Tensor, base_pe: torch.Tensor,
                               base_exact: torch.Tensor, graph, n: int, n_boot: int = 200, seed: int = 0,
                               aggregation: str = "mean") -> pd.DataFrame:
    """Jaccard of the emergent heads EAP-IG finds and those exact patching finds, over ``n_boot``
    resamples (each circuit's pairs resampled with replacement, independently; within a circuit the same rows for attribution and patching).

    Exact-patching head sets have the size of the resample's EAP-IG circuit (its top-|effect| heads).

    Args:
        model_pe, base_pe: ``[n_pairs, n_src, n_dst]`` per-example edge scores of the two circuits.
        model_exact, base_exact: ``[n_pairs, n_heads]`` per-pair exact denoising effects, same rows.
        n: top-n edges.
    Returns:
        one row per resample: ``jaccard, eap_emergent, exact_emergent``.
    """
    names = head_names(graph.n_layers, graph.n_heads)
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n_boot):
        sets = []
        for pe, ex in ((model_pe, model_exact), (base_pe, base_exact)):
            r = torch.randint(0, pe.shape[0], (pe.shape[0],), generator=g)
            eap = circuit_heads(pe, graph, n, r, aggregation)
            w = torch.bincount(r, minlength=pe.shape[0]).to(ex.dtype) / len(r)
            sets.append((eap, exact_heads(w @ ex, names, len(eap))))
        (m_eap, m_ex), (b_eap, b_ex) = sets
        e_eap, e_ex = m_eap - b_eap, m_ex - b_ex
        rows.append({"jaccard": jaccard(e_eap, e_ex), "eap_emergent": len(e_eap), "exact_emergent": len(e_ex)})
    return pd.DataFrame(rows)
