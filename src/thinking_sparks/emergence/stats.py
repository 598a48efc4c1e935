"""How sure: effects, rank agreement, bootstraps and the two measured choices (head-set counts and their same-size null: :mod:`.headstats`).

* :func:`effect` — the paper's §A.6 ``E = (I_post - I_pre) / (I_post + I_pre + eps)``.
* :func:`spearman`, :func:`permutation_p` — rank correlation and its two-sided permutation p-value
  (the statistic the paper's reward-tracking claim lacks), deterministic by seed.
* :func:`overlap_bootstrap` — Jaccard overlap of two circuits on the same pairs, pairs resampled.
* (emergent / base-only / retained counts, their intervals and same-size floors: :mod:`.headstats`)
* :func:`ig_steps_check` — head ranking at several IG step counts against the largest.
* :func:`topn_scaling` — head counts and faithfulness as top-n moves around the paper's fraction.
* :func:`emergent_jaccard_bootstrap` — emergent heads by EAP-IG against those by exact patching.
"""

from __future__ import annotations

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


def reward_tracking(counts: pd.DataFrame, rewards: pd.DataFrame, n_perm: int = 10_000, seed: int = 0) -> dict:
    """Spearman between the new-head count and the accuracy reward across checkpoints.

    Args:
        counts: ``step, emergent`` (per checkpoint, from :func:`~.sets.cohorts`).
        rewards: ``step, accuracy`` per training step (the GRPO log); each checkpoint takes the
            mean accuracy over the steps since the previous checkpoint.
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
    return {"n": int(ok.sum()), "spearman": spearman(a, b), "p": permutation_p(a, b, n_perm, seed),
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
