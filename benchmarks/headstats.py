"""Cost of the head-set statistics of one checkpoint (emergence.headstats) at the plan's sizes.

One checkpoint needs :func:`head_stats` (model vs base) and :func:`null_stats` (sample 0 vs sample
1): each ``plan.n_boot`` paired resamples for the inclusion probabilities and ``plan.n_outer x
plan.n_inner`` resampled circuits for the count's distribution, on both sides. Scores here are
random (the cost does not depend on them); the graph is the organism's full shape (8 x 8 heads) or
``--layers/--heads``. Also times the one-circuit-at-a-time reference (:func:`~.sweep.circuit_heads`).

Usage: ``PYTHONPATH=src .venv/bin/python benchmarks/headstats.py [--questions 512] [--device cpu]``
Last line: ``checkpoint_s=<seconds for one checkpoint (comparison + null)> per_circuit_ms=<batched> reference_ms=<one at a time>``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.circuits.graph import Graph
from thinking_sparks.emergence.headstats import Scores, head_stats, memberships, null_stats
from thinking_sparks.emergence.sweep import circuit_heads
from thinking_sparks.plan import PLAN


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=PLAN.circuits.n_questions)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    g = Graph(a.layers, a.heads, a.heads, "ungrouped")
    n = CircuitConfig().n_for(g)
    gen = torch.Generator().manual_seed(0)
    k = a.questions

    def scores() -> Scores:
        return Scores(torch.randn(k, g.n_src, g.n_dst, generator=gen).to(a.device), np.arange(k))

    s0, s1, base = scores(), scores(), scores()
    w = torch.rand(200, k, generator=gen).to(a.device)
    t = time.perf_counter()
    memberships(s0.per_example, w, g, n)
    batched = (time.perf_counter() - t) / 200 * 1e3
    rows = [torch.randint(0, k, (k,), generator=gen) for _ in range(20)]
    t = time.perf_counter()
    for r in rows:
        circuit_heads(s0.per_example.cpu(), g, n, r)
    reference = (time.perf_counter() - t) / 20 * 1e3
    t = time.perf_counter()
    head_stats(s0, base, g, n)
    null_stats(s0, s1, g, n)
    total = time.perf_counter() - t
    print(f"graph {g.n_src} x {g.n_dst}, top-{n}, {k} questions, n_boot {PLAN.circuits.n_boot}, n_outer {PLAN.circuits.n_outer}, "
          f"n_inner {PLAN.circuits.n_inner}, {torch.get_num_threads()} threads, {a.device}")
    print(f"checkpoint_s={total:.1f} per_circuit_ms={batched:.2f} reference_ms={reference:.2f}")


if __name__ == "__main__":
    main()
