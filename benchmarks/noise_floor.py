"""Is the organism big enough for head-level claims? Emergent heads (sft vs base) against a noise floor.

The circuit settings of the emergence pages: EAP-IG (inputs, m = 5), KL, the top ``--fraction`` of
edges (default 2.6 %: the paper's 5000 of ~190k edges of Qwen2.5-Math-1.5B), pruned. Pairs as the
paper builds them (§4.3): a hard question in the chat template plus the analysed model's own greedy
answer prefix (clean) or the other model's (corrupted), both cut to the same number of tokens.
Questions whose two prefixes agree carry no signal and are dropped.

- **emergent**: heads in sft's circuit but not in base's (all questions);
- **noise floor**: for one model, circuits on two disjoint random halves of the questions; heads in
  one half's circuit but not in the other's (mean of both directions), over ``--splits`` splits.
  Halves hold half the questions, so this floor is, if anything, too high.

Attribution runs once per model (per-example scores kept); half circuits average the examples.

Usage: ``PYTHONPATH=src .venv/bin/python benchmarks/noise_floor.py [--questions 512] [--profile full]``
Last line: ``emergent=<n> noise_floor=<mean> ratio=<emergent / noise>``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from thinking_sparks import runtime


def greedy_answers(lm, questions: list[str], max_new_tokens: int) -> list[str]:
    """Each question's greedy completion (to ``</answer>``) by ``lm``."""
    from thinking_sparks.evaluation.generation import SamplingConfig, generate

    cfg = SamplingConfig(n=1, temperature=0.0, max_new_tokens=max_new_tokens, stop=("</answer>",), batch_size=64)
    gens = generate(lm, [lm.chat(q) for q in questions], cfg, progress=False)
    return [g.text for g in sorted(gens, key=lambda g: g.prompt_index)]


def style_pairs(lm, questions, clean, corrupted, max_tokens: int | None):
    """Paper-style pairs for ``lm`` (questions whose prefixes are identical or empty are dropped)."""
    from thinking_sparks.circuits.pairs import build_style_pairs

    enc = lambda t: lm.tokenizer.encode(t, add_special_tokens=False)
    keep = []
    for q, c, r in zip(questions, clean, corrupted, strict=True):
        ci, ri = enc(c), enc(r)
        n = min(len(ci), len(ri), max_tokens or 10**9)
        if n >= 1 and ci[:n] != ri[:n]:
            keep.append((q, c, r))
    qs, cs, rs = (list(x) for x in zip(*keep, strict=True)) if keep else ([], [], [])
    pairs = build_style_pairs(lambda q: enc(lm.chat(q)), enc, qs, cs, rs,
                              n_answer_tokens=None)
    if max_tokens:
        from thinking_sparks.circuits.pairs import Pair

        pairs = [_cut(p, max_tokens, Pair) for p in pairs]
    return pairs


def _cut(pair, max_tokens: int, cls):
    """Keep at most ``max_tokens`` answer tokens of a style pair (its target span shrinks with it)."""
    start = pair.target_pos[0] + 1  # first answer token
    n = min(max_tokens, len(pair.clean_ids) - start)
    return cls(pair.clean_ids[: start + n], pair.corrupted_ids[: start + n],
               target_pos=tuple(range(start - 1, start + n - 1)))


def subset(attr, idx: torch.Tensor):
    """The attribution of a subset of examples (mean of their per-example scores)."""
    from thinking_sparks.circuits.attribute import Attribution

    pe = attr.per_example[idx]  # [k, n_src, n_dst]
    return Attribution(attr.graph, pe.mean(0), pe.abs().mean(0), len(idx), attr.method, attr.metric, attr.steps,
                       attr.rule)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="full")
    ap.add_argument("--models", nargs=2, default=["base", "sft"], metavar=("BEFORE", "AFTER"),
                    help="zoo runs (their final checkpoints) or model specs / checkpoint dirs")
    ap.add_argument("--questions", type=int, default=512, help="hard (level 4-5) eval-split questions")
    ap.add_argument("--fraction", type=float, default=0.026, help="share of edges kept (top-n)")
    ap.add_argument("--splits", type=int, default=10, help="random half splits for the noise floor")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--answer-tokens", type=int, default=24, help="answer-prefix tokens kept per pair (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="also write the numbers as JSON here")
    args = ap.parse_args()
    runtime.setup(level=30)
    from thinking_sparks.circuits.attribute import attribute
    from thinking_sparks.circuits.circuit import top_n
    from thinking_sparks.models import load_model
    from thinking_sparks.organism import task

    t0 = time.perf_counter()
    questions = [p.question for p in task.make_problems(args.questions, (4, 5), 2001, "eval")]
    names = args.models
    spec = lambda n: n if "/" in n or "@" in n else f"organism/{args.profile}/{n}@final"
    lms = {n: load_model(spec(n), device="cpu", dtype="float32") for n in names}
    answers = {n: greedy_answers(lms[n], questions, args.max_new_tokens) for n in names}
    heads, attrs, info = {}, {}, {}
    for name in names:
        other = names[1] if name == names[0] else names[0]
        pairs = style_pairs(lms[name], questions, answers[name], answers[other], args.answer_tokens or None)
        attrs[name] = attribute(lms[name], pairs, method="eap-ig-inputs", metric="kl", steps=5, progress=False,
                                keep_per_example=True)
        g = attrs[name].graph
        n_top = max(1, round(args.fraction * g.n_edges))
        heads[name] = top_n(attrs[name], n_top).heads()
        info[name] = {"pairs": len(pairs), "edges": g.n_edges, "top_n": n_top, "circuit_heads": len(heads[name]),
                      "model_heads": g.n_layers * g.n_heads}
    before, after = names
    emergent = sorted(heads[after] - heads[before])
    gen = torch.Generator().manual_seed(args.seed)
    noise = {}
    for name in names:
        a = attrs[name]
        n_top = info[name]["top_n"]
        diffs = []
        for _ in range(args.splits):
            perm = torch.randperm(a.n_examples, generator=gen)
            half = a.n_examples // 2
            ha, hb = (top_n(subset(a, idx), n_top).heads() for idx in (perm[:half], perm[half : 2 * half]))
            diffs.append((len(ha - hb) + len(hb - ha)) / 2)
        noise[name] = {"mean": statistics.mean(diffs), "max": max(diffs), "min": min(diffs)}
    floor = max(noise[n]["mean"] for n in names)
    print(f"questions {len(questions)} (hard, eval split), EAP-IG inputs m=5, KL, top {100 * args.fraction:.1f}% "
          f"of edges, answer prefixes <= {args.answer_tokens or 'all'} tokens, {time.perf_counter() - t0:.0f} s")
    for name in names:
        i, nz = info[name], noise[name]
        print(f"{name:6s} pairs {i['pairs']:4d}  edges {i['edges']}  top-n {i['top_n']}  circuit heads "
              f"{i['circuit_heads']}/{i['model_heads']}  noise floor (heads in one half's circuit, not the other's) "
              f"mean {nz['mean']:.1f} [min {nz['min']:.1f}, max {nz['max']:.1f}] over {args.splits} splits")
    print(f"emergent ({after} circuit heads not in {before}'s): {len(emergent)}  {' '.join(emergent)}")
    print(f"lost ({before} circuit heads not in {after}'s): {len(heads[before] - heads[after])}")
    ratio = len(emergent) / floor if floor else float("inf")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"args": vars(args), "info": info, "noise": noise, "emergent": emergent,
                       "ratio": ratio}, fh, indent=1)
    print(f"emergent={len(emergent)} noise_floor={floor:.1f} ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
