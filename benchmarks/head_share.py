"""Circuits of the paper's size? (issue 22) The share of heads a top-n circuit holds, along n.

In the paper the base circuit keeps 5,000 of 183,555 edges (2.7 %) and holds 56 of 336 heads
(17 %).  For the organism's sft final circuit (page 04's settings, against its base) and SmolLM2's
think circuit (page 07's settings: step-by-step vs direct answers), this prints the head share at
the paper's edge fraction, along a grid of n around it, and the smallest top-n whose circuit holds
17 % of the heads (:mod:`thinking_sparks.circuits.size`).  Circuits are read from (or written to)
the results cache.

Usage: ``SPARKS_CACHE=... PYTHONPATH=src .venv/bin/python benchmarks/head_share.py
[--organism organism/full/sft@500 --base organism/full/base@final] [--smollm2 smollm2-135m-instruct]``
"""

from __future__ import annotations

import argparse
import logging
import time

from thinking_sparks import runtime


def attribution_of(spec: str, clean, corrupted, params, settings):
    """The circuit's mean edge scores as an :class:`~thinking_sparks.circuits.attribute.Attribution`."""
    from thinking_sparks.circuits.attribute import Attribution
    from thinking_sparks.circuits.forward import CircuitModel
    from thinking_sparks.emergence.device import load_kept
    from thinking_sparks.emergence.sweep import circuit_for

    c = circuit_for(spec, clean, corrupted, params, settings)
    per = c.per_example().float()
    mean = per.mean(0)
    graph = CircuitModel(load_kept(spec, settings.dtype), gqa=settings.gqa).graph
    return c, Attribution(graph, mean, per.abs().mean(0), per.shape[0], settings.method, settings.metric)


def report(name: str, c, a, aggregation: str) -> None:
    from thinking_sparks.circuits.config import scaled_top_n
    from thinking_sparks.circuits.size import PAPER_HEAD_SHARE, head_share, n_for_head_share, share_at

    g = a.graph
    t0 = time.perf_counter()
    paper = share_at(a, scaled_top_n(g.n_edges), aggregation)
    target = n_for_head_share(a, PAPER_HEAD_SHARE, aggregation)
    grid = head_share(a, aggregation=aggregation)
    print(f"\n{name}: {c.n_pairs} pairs, {g.n_layers} x {g.n_heads} = {paper.n_heads} heads, {g.n_edges} edges; "
          f"the page's circuit: top-{c.top_n}, {len(c.heads)} heads")
    print(f"  at the paper's edge fraction (top-{paper.n}, {paper.edge_fraction:.2%} of edges): {paper.heads} heads "
          f"= {paper.share:.1%}")
    print(f"  {PAPER_HEAD_SHARE:.0%} of the heads (paper: 56 / 336): top-{target.n} ({target.edge_fraction:.3%} of "
          f"edges) holds {target.heads} heads = {target.share:.1%}")
    print(grid.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"  ({time.perf_counter() - t0:.1f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--organism", default="organism/full/sft@500", help="'' to skip")
    ap.add_argument("--base", default="organism/full/base@final")
    ap.add_argument("--smollm2", default="smollm2-135m-instruct", help="'' to skip")
    args = ap.parse_args()
    runtime.setup(threads=None, level=logging.WARNING)

    from thinking_sparks.emergence.pairs import Side
    from thinking_sparks.pages import emergence, real_model
    from thinking_sparks.pages.params import emergence_settings
    from thinking_sparks.realmodel.styles import style_side

    if args.organism:
        params, settings = emergence_settings(emergence.Params())
        c, a = attribution_of(args.organism, Side(args.organism), Side(args.base), params, settings)
        report(f"{args.organism} vs {args.base}", c, a, settings.aggregation)
    if args.smollm2:
        p = real_model.Params(model=args.smollm2)
        _, settings, style_pairs = p.circuit_settings()
        c, a = attribution_of(p.model, style_side(p.model, "think"), style_side(p.model, "direct"), style_pairs,
                              settings)
        report(f"{p.model} think (step-by-step vs direct)", c, a, settings.aggregation)


if __name__ == "__main__":
    main()
