"""Does attribution find the heads that matter? (issue 22) Head attributions vs exact head patching.

The page-03 setting: ``--model``'s circuit against ``--base`` (clean = the model's own sampled
answer prefix, corrupted = the base's, :func:`thinking_sparks.emergence.pairs.build_pairs`), EAP-IG
on the inputs, m = 5, KL over the answer span; then one change at a time on the same pairs
(:func:`thinking_sparks.circuits.agreement.default_variants`).  Prints the pairs' statistics, the
table (one row per variant: Spearman over heads, top-k recall at the circuit's number of heads),
and the exact-patching cost per circuit: every head, and ``--edges`` single edges (stratified, the
top-n all included) with the time a full edge patch would take.

Usage: ``PYTHONPATH=src .venv/bin/python benchmarks/patching_agreement.py [--model organism/sft@final]
[--base organism/base@final] [--edges 1000] [--csv table.csv]``

``--runs sft grpo-easy ...``: instead, page 04's circuits (its settings: ``--questions``,
``--answer-tokens``, 5 IG steps, ``--profile``) of each run's final checkpoint against its base, as
the sweep builds and caches them (:func:`thinking_sparks.emergence.sweep.circuit_for`, which now
patches every head in the denoising direction): per run the head Spearman against noising and
denoising patches, top-k recall (k = the circuit's heads), the emergent / base-only / retained
counts of EAP-IG and of exact-patching head sets of the same sizes, the Jaccard of the two emergent
sets with a bootstrap CI, and the exact-patching seconds per circuit.

``--edge-runs sft grpo-easy ...``: instead, page 04's circuits as the page builds them (the analysis
plan's question set and sizes: ``--profile`` only), each run's final checkpoint against exact *edge*
patching (:func:`thinking_sparks.emergence.edgecheck.final_checks`: the top-n edges and the plan's
stratified sample, denoising, on the circuit's patched pairs) with the head-level agreement on the
same pairs and the exact-patching seconds; cached per circuit. Measured (``--edge-runs sft grpo-easy
grpo-hard grpo-hard-lr distill hybrid``, load 13-17 on 2 cores, 1,244 s wall): see
:mod:`thinking_sparks.emergence.edgecheck`.

Measured (full profile, 32 questions, 24 answer tokens, m = 5, 2 busy CPU cores; ``--runs sft
grpo-easy grpo-hard grpo-hard-lr distill hybrid``): head Spearman against denoising 0.72-0.81
(noising 0.17-0.47), top-k recall 0.72-0.86 (noising 0.55-0.78), base circuits 0.81-0.88; EAP-IG
and exact patching give similar emergent / base-only / retained counts (e.g. sft 8 / 10 / 27 both)
but different emergent heads: Jaccard 0.00-0.12, bootstrap CIs within [0, 0.33]. Exact denoising
of every head: 2.4-5.3 s per circuit (circuits 7-14 s in all).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

from thinking_sparks import runtime


def pair_stats(pairs) -> str:
    from thinking_sparks.circuits.agreement import n_differing

    diff = [n_differing(p) for p in pairs]
    span = [len(p.target_pos or ()) for p in pairs]
    first = [next(i for i, (a, b) in enumerate(zip(p.clean_ids, p.corrupted_ids)) if a != b) - p.target_pos[0]
             for p in pairs]
    return (f"{len(pairs)} pairs; answer span {statistics.median(span)} tokens (median); differing tokens "
            f"median {statistics.median(diff)}, min {min(diff)}, max {max(diff)}; first difference at answer "
            f"token {statistics.median(first)} (median)")


def runs_table(runs: list[str], profile: str, questions: int, answer_tokens: int, n_boot: int):
    """One row per run (see module docstring)."""
    import pandas as pd
    import torch

    from thinking_sparks.circuits.agreement import exact_heads
    from thinking_sparks.circuits.patching import agreement, patch_nodes
    from thinking_sparks.emergence import modelruns
    from thinking_sparks.emergence.device import load_kept
    from thinking_sparks.emergence.drawing import edge_graph
    from thinking_sparks.emergence.pairs import Side
    from thinking_sparks.emergence.stats import emergent_jaccard_bootstrap, head_names, jaccard
    from thinking_sparks.emergence.sweep import circuit_for, pair_set
    from thinking_sparks.models import step_of
    from thinking_sparks.pages.emergence import Params
    from thinking_sparks.pages.params import emergence_settings

    params = Params(profile=profile, runs=runs, n_questions=questions, answer_tokens=answer_tokens, steps=5,
                    n_boot=n_boot)
    pairs, config = emergence_settings(params)
    rows = []
    for label, m in modelruns.resolve_runs(runs, profile).items():
        ckpts = list(m.checkpoints)
        final = max(ckpts, key=lambda c: step_of(c, ckpts.index(c) + 1))
        t0 = time.perf_counter()
        c = circuit_for(final, Side(final), Side(m.base), pairs, config)
        b = circuit_for(m.base, Side(m.base), Side(final), pairs, config)
        built = time.perf_counter() - t0
        names = head_names(c.n_layers, c.n_heads)
        # the noising direction, on the circuit's own pairs and mean node scores
        ps = pair_set(Side(final), Side(m.base), pairs)
        noise = patch_nodes(load_kept(final, config.dtype), ps.pairs, metric=config.metric, direction="noise",
                            gqa=config.gqa)
        pe = c.per_example()
        g = edge_graph(c, config)
        idx = torch.tensor([g.head_src(l, h) for l in range(g.n_layers) for h in range(g.n_heads)])
        node = pe.mean(0)[idx].sum(1)
        k = max(1, len(c.heads))
        s_noise = agreement(node, noise.effects, k)
        m_ex, b_ex = exact_heads(c.exact, names, len(c.heads)), exact_heads(b.exact, names, len(b.heads))
        m_eap, b_eap = set(c.heads), set(b.heads)
        boot = emergent_jaccard_bootstrap(pe, c.exact_per_example(), b.per_example(), b.exact_per_example(), g,
                                          c.top_n, n_boot, 0, config.aggregation).jaccard
        rows.append({"run": label, "pairs": c.n_pairs, "heads": len(c.heads), "spearman_denoise": c.patch_spearman,
                     "spearman_noise": s_noise.spearman, "recall_denoise": c.patch_recall,
                     "recall_noise": s_noise.recall, "base_spearman_denoise": b.patch_spearman,
                     "emergent": len(m_eap - b_eap), "base_only": len(b_eap - m_eap), "retained": len(m_eap & b_eap),
                     "exact_emergent": len(m_ex - b_ex), "exact_base_only": len(b_ex - m_ex),
                     "exact_retained": len(m_ex & b_ex), "jaccard": jaccard(m_eap - b_eap, m_ex - b_ex),
                     "jaccard_low": boot.quantile(0.025), "jaccard_high": boot.quantile(0.975),
                     "patch_s": c.seconds.get("patch_s", float("nan")), "circuit_s": c.seconds.get("total_s"),
                     "noise_patch_s": noise.seconds, "wall_s": built})
        print(pd.DataFrame(rows[-1:]).round(3).to_string(index=False), flush=True)
    return pd.DataFrame(rows)


def edge_table(runs: list[str], profile: str, csv: str | None) -> None:
    """Page 04's edge-level table (see module docstring), printed (and written to ``csv``)."""
    import pandas as pd

    from thinking_sparks.pages.emergence import Params, edge_agreement

    t0 = time.perf_counter()
    table = edge_agreement(Params(profile=profile, runs=runs))
    cols = ["run", "pairs", "graph_edges", "edges", "top_n", "edge_spearman", "edge_spearman_abs", "edge_recall",
            "edge_spearman_circuit", "heads", "head_spearman", "head_spearman_abs", "head_recall", "head_patch_s",
            "edge_patch_s", "all_edges_s"]
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table[cols].round(3).to_string(index=False))
    print(f"wall {time.perf_counter() - t0:.0f} s")
    if csv:
        from thinking_sparks.atomic import write_text

        write_text(csv, table.to_csv(index=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="organism/sft@final")
    ap.add_argument("--base", default="organism/base@final")
    ap.add_argument("--questions", type=int, default=32)
    ap.add_argument("--answer-tokens", type=int, default=24)
    ap.add_argument("--edges", type=int, default=1000, help="edges sampled beyond the top-n (0: no edge patch)")
    ap.add_argument("--csv", default=None, help="also write the table here")
    ap.add_argument("--save-pairs", default=None, help="also write the page-03 pairs here (JSONL, for sparks patch)")
    ap.add_argument("--runs", nargs="*", default=None, help="page-04 mode: these runs' final checkpoints vs base")
    ap.add_argument("--edge-runs", nargs="*", default=None, help="page-04 edge check of these runs' final circuits")
    ap.add_argument("--profile", default="full")
    ap.add_argument("--n-boot", type=int, default=200)
    args = ap.parse_args()
    runtime.setup(threads=None, level=logging.INFO if args.edge_runs else logging.WARNING)
    if args.edge_runs:
        edge_table(args.edge_runs, args.profile, args.csv)
        return
    if args.runs:
        import pandas as pd

        table = runs_table(args.runs, args.profile, args.questions, args.answer_tokens, args.n_boot)
        with pd.option_context("display.width", 250, "display.max_columns", 30):
            print(table.round(3).to_string(index=False))
        if args.csv:
            from thinking_sparks.atomic import write_text

            write_text(args.csv, table.to_csv(index=False))
        return

    import pandas as pd

    from thinking_sparks.circuits.agreement import (
        agreement_table,
        default_pair_sets,
        default_variants,
        head_scores,
    )
    from thinking_sparks.circuits.attribute import attribute
    from thinking_sparks.circuits.config import scaled_top_n
    from thinking_sparks.circuits.forward import CircuitModel
    from thinking_sparks.circuits.patching import (
        agreement,
        patch_edges,
        patch_nodes,
        sample_edges,
    )
    from thinking_sparks.emergence.device import load_kept
    from thinking_sparks.emergence.pairs import PairParams, Side
    from thinking_sparks.emergence.sweep import pair_set

    ps = pair_set(Side(args.model), Side(args.base), PairParams(n_questions=args.questions,
                                                                answer_tokens=args.answer_tokens))
    if args.save_pairs:
        from thinking_sparks.circuits.pairs import save_pairs

        save_pairs(ps.pairs, args.save_pairs)
    lm = load_kept(args.model)
    cm = CircuitModel(lm)
    n = scaled_top_n(cm.graph.n_edges)
    sets = default_pair_sets(ps.pairs)
    print(f"{args.model} vs {args.base}: " + pair_stats(ps.pairs))
    print("pair sets: " + ", ".join(f"{k}={len(v)}" for k, v in sets.items()) + f"; circuit top-n {n} of "
          f"{cm.graph.n_edges} edges")
    t0 = time.perf_counter()
    table = agreement_table(lm, sets, default_variants(), n_edges=n)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table[["variant", "n_pairs", "spearman", "spearman_abs", "recall", "k", "attribute_s", "patch_s"]]
              .round(3).to_string(index=False))
    print(f"table: {time.perf_counter() - t0:.1f} s")
    if args.csv:
        from thinking_sparks.atomic import write_text

        write_text(args.csv, table.to_csv(index=False))

    heads = patch_nodes(lm, ps.pairs, circuit_model=cm)
    print(f"exact head patch ({len(heads.nodes)} heads x {len(ps.pairs)} pairs): {heads.seconds:.2f} s")
    a = attribute(lm, ps.pairs, circuit_model=cm, progress=False)
    print(f"kl: L(corrupted) {heads.corrupted_loss:.4g}, L(clean) {heads.clean_loss:.4g}; sum of the {len(heads.nodes)} "
          f"exact single-head effects {float(heads.effects.sum()):.4g}; sum of head node attributions "
          f"{float(head_scores(a).sum()):.4g}; attributions into logits (IG total) "
          f"{float(a.scores[:, cm.graph.logits_dst].sum()):.4g}")
    if args.edges:
        edges = sample_edges(a.scores, cm.graph.edge_mask(), n=args.edges, top_n=n)
        e = patch_edges(lm, ps.pairs, edges=edges, circuit_model=cm)
        s = agreement(a.scores[edges[:, 0], edges[:, 1]], e.effects, n)
        print(f"exact edge patch ({len(edges)} edges x {len(ps.pairs)} pairs): {e.seconds:.1f} s "
              f"(all {cm.graph.n_edges} edges: ~{e.seconds * cm.graph.n_edges / len(edges):.0f} s); "
              f"edge Spearman {s.spearman:.3f} (|.| {s.spearman_abs:.3f}), top-{n} recall {s.recall:.2f}")


if __name__ == "__main__":
    main()
