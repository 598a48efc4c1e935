"""Exact head patching on SmolLM2 (issue 22): its cost per circuit and the agreement of EAP-IG with it.

On page 07's style pairs (step-by-step vs direct answers of SmolLM2-135M-Instruct, page 07's
defaults) this prints the pairs' shared prefix, times patching all 270 heads once (denoise) on the
think circuit's pairs, and on the first ``--ref-pairs`` pairs times it with and without the
shared-prefix shortcut (:mod:`thinking_sparks.circuits.resume`) and checks they agree.  Then (unless
``--no-agreement``) it builds or reads both style circuits, each of which patches all heads once
(:func:`~thinking_sparks.emergence.sweep.circuit_for`), and prints per circuit the head Spearman and
top-k recall with bootstrap intervals over pairs
(:func:`~thinking_sparks.realmodel.agreement.style_agreement`).

Usage: ``SPARKS_CACHE=... PYTHONPATH=src .venv/bin/python benchmarks/realmodel_patching.py``
(``--agreement-only``: skip the timing runs; each circuit times its own patching of every head).

Measured (page 07's defaults, shared-prefix resume, ``--agreement-only``, load 12-14 on 2 cores):
think circuit (12 pairs, 204 of 270 heads in the circuit) head Spearman 0.635 [0.577, 0.691],
top-204 recall 0.84 [0.81, 0.86], top-27 recall 0.63; exact denoising of all 270 heads 907 s wall,
attribution 417 s, the circuit 1,795 s. Direct circuit (12 pairs, 220 heads): Spearman 0.802
[0.754, 0.836], top-220 recall 0.87 [0.85, 0.90], top-27 recall 0.74; all heads 526 s, the
circuit 818 s. Both circuits 2,633 s wall, 1,237 CPU-s.
"""

from __future__ import annotations

import argparse
import logging
import time

from thinking_sparks import runtime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref-pairs", type=int, default=3, help="pairs of the with / without comparison (0: skip it)")
    ap.add_argument("--no-agreement", action="store_true", help="time the patching only (no circuits built)")
    ap.add_argument("--agreement-only", action="store_true",
                    help="only the circuits' agreement (each circuit times its own patching of all heads)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch

    from thinking_sparks.circuits.pairs import collate
    from thinking_sparks.circuits.patching import patch_nodes
    from thinking_sparks.circuits.resume import shared_prefix
    from thinking_sparks.emergence.device import load_kept
    from thinking_sparks.emergence.sweep import circuit_for, pair_set
    from thinking_sparks.pages.real_model import Params
    from thinking_sparks.realmodel.agreement import style_agreement
    from thinking_sparks.realmodel.styles import style_side

    p = Params()
    _, settings, style = p.circuit_settings()
    think, direct = style_side(p.model, "think"), style_side(p.model, "direct")
    lm = load_kept(p.model, settings.dtype)
    for name, (cl, co) in {"think": (think, direct), "direct": (direct, think)}.items():
        pairs = pair_set(cl, co, style).pairs
        b = collate(pairs)
        print(f"{name}: {len(pairs)} pairs, {b.clean.shape[1]} positions, shared prefix "
              f"{shared_prefix(b.clean, b.corrupted, b.cols)}, reads {int(b.cols.min())}..{int(b.cols.max())}")
    if args.agreement_only:
        args.ref_pairs = 0
    pairs = pair_set(think, direct, style).pairs
    t1, c1 = time.perf_counter(), runtime.cpu_seconds()
    full = None if args.agreement_only else patch_nodes(lm, pairs, metric=settings.metric, direction="denoise", batch_size=8)
    if full is not None:
        print(f"think, all {len(pairs)} pairs, 270 heads, denoise: {time.perf_counter() - t1:.1f} s, "
              f"{runtime.cpu_seconds() - c1:.1f} CPU-s")
    if args.ref_pairs:
        few = pairs[: args.ref_pairs]
        out = {}
        for prefix in (True, False):
            t1, c1 = time.perf_counter(), runtime.cpu_seconds()
            out[prefix] = patch_nodes(lm, few, metric=settings.metric, direction="denoise", batch_size=8,
                                      prefix=prefix)
            print(f"{len(few)} pairs, prefix={prefix}: {time.perf_counter() - t1:.1f} s, "
                  f"{runtime.cpu_seconds() - c1:.1f} CPU-s")
        diff = float((out[True].per_example - out[False].per_example).abs().max())
        print(f"max |difference| of the per-pair effects: {diff:.2e} (effects up to "
              f"{float(out[False].per_example.abs().max()):.3f})")
        assert torch.isfinite(full.effects).all()
    if args.no_agreement:
        return
    t0, c0 = time.perf_counter(), runtime.cpu_seconds()
    ag = style_agreement(p.model, style, settings)
    print(f"both circuits (built or read): {time.perf_counter() - t0:.0f} s, {runtime.cpu_seconds() - c0:.0f} CPU-s")
    for name, (cl, co) in {"think": (think, direct), "direct": (direct, think)}.items():
        c = circuit_for(p.model, cl, co, style, settings)
        r = getattr(ag, name).row("denoise")
        print(f"{name}: {c.n_pairs} pairs, {len(c.heads)} heads in circuit; seconds {c.seconds}; "
              f"Spearman {r['spearman']:.3f} [{r['spearman_low']:.3f}, {r['spearman_high']:.3f}], "
              f"top-{r['k']} recall {r['recall']:.2f} [{r['recall_low']:.2f}, {r['recall_high']:.2f}], "
              f"top-{r['k_tenth']} recall {r['recall_tenth']:.2f}")


if __name__ == "__main__":
    main()
