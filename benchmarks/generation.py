"""Benchmark the project's sampled generation against plain ``transformers`` ``generate``.

For each model and torch thread count, on the same 16 chat prompts, batch and settings (greedy,
and T 0.6 / top-p 0.95), it times:

- ``hf``: ``AutoModelForCausalLM.generate`` with left padding (the reference);
- ``ours``: :func:`thinking_sparks.evaluation.generation.generate` on the same model;
- ``fixed`` and ``fixed+iv``: ours decoding exactly ``--new-tokens`` per row (EOS ignored), without
  and with head interventions (3 heads zeroed and 2 scaled by 1.3): equal work, so their time ratio
  is the interventions' overhead alone (with natural stopping, an intervention changes where rows
  stop and so the work itself).

Throughput is new tokens per second, counting each row's tokens up to and including its EOS (HF
keeps finished rows padding along; ours drops them). Each figure is the median of ``--repeats``
runs after a warm-up; every configuration alternates the three variants so that drift on a shared
machine hits them alike. Greedy rows also check that ours and HF produce the same text.

Last line: ``generation_ratio_vs_hf=<min over configurations> intervention_overhead=<max>``
(ratio = ours tok/s / hf tok/s, higher is better; overhead = time with / time without
interventions, lower is better).

Usage: ``.venv/bin/python benchmarks/generation.py [--models smollm2-135m-instruct organism/sft@final]
[--threads 1 2] [--prompts 16] [--new-tokens 48] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import torch

from thinking_sparks import runtime

QUESTIONS = [
    "What is 7 + 5?", "What is 12 * 3 - 4?", "Compute 45 - 17 + 8.", "What is 9 * 9?",
    "A shop sells 3 apples for 2 dollars. How much do 12 apples cost?", "What is 100 / 4 + 6?",
    "Solve for x: x + 13 = 40.", "What is 15 % of 60?", "What is 2 to the power of 8?",
    "How many minutes are in 3.5 hours?", "What is 17 + 28 - 9?", "What is 6 * 7 + 8?",
    "A train goes 60 km in 1.5 hours. What is its speed?", "What is 81 / 9 * 2?",
    "What is the sum of 23, 17 and 40?", "What is 1000 - 387?",
]


def _hf_generate(lm, prompts: list[str], new_tokens: int, sampled: bool, stops: list[int]) -> tuple[int, list[str]]:
    tok = lm.tokenizer
    tok.padding_side = "left"
    batch = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    kw = dict(do_sample=True, temperature=0.6, top_p=0.95, top_k=0) if sampled else dict(do_sample=False)
    with torch.no_grad():
        out = lm.hf_model.generate(**batch, max_new_tokens=new_tokens, eos_token_id=stops,
                                   pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else stops[0], **kw)
    new = out[:, batch.input_ids.shape[1]:].tolist()
    n_tokens, texts = 0, []
    for row in new:
        cut = next((i + 1 for i, t in enumerate(row) if t in stops), len(row))
        n_tokens += cut
        texts.append(tok.decode(row[: cut - 1] if row[cut - 1] in stops else row[:cut], skip_special_tokens=False))
    return n_tokens, texts


def _ours(lm, prompts, new_tokens, sampled, intervention=None, fixed=False) -> tuple[int, list[str]]:
    from thinking_sparks.evaluation.generation import GenerationStats, SamplingConfig, generate

    cfg = SamplingConfig(n=1, temperature=0.6 if sampled else 0.0, top_p=0.95, max_new_tokens=new_tokens,
                         stop=(), batch_size=len(prompts), ignore_eos=fixed)
    stats = GenerationStats()
    gens = generate(lm, prompts, cfg, intervention=intervention, progress=False, stats=stats)
    return stats.n_new_tokens, [g.text for g in gens]


def _intervention(lm):
    from thinking_sparks.interventions import parse_edits

    last, mid = lm.n_layers - 1, lm.n_layers // 2
    return parse_edits(f"L{mid}H0,L{mid}H1,L{last}H0", scale=[f"L1H1=1.3", f"L{last}H1=1.3"])


def bench_model(spec: str, threads: int, n_prompts: int, new_tokens: int, repeats: int) -> list[dict]:
    from thinking_sparks.evaluation.generation import stop_token_ids
    from thinking_sparks.models import load_model

    torch.set_num_threads(threads)
    lm = load_model(spec, device="cpu", dtype="float32")
    prompts = [lm.chat(q) for q in (QUESTIONS * 4)[:n_prompts]]
    stops = sorted(stop_token_ids(lm.tokenizer, lm.hf_model))
    iv = _intervention(lm)
    rows = []
    for sampled in (False, True):
        variants = {
            "hf": lambda: _hf_generate(lm, prompts, new_tokens, sampled, stops),
            "ours": lambda: _ours(lm, prompts, new_tokens, sampled),
            # equal work for the overhead: both decode exactly new_tokens per row (an intervention
            # changes the text, hence where rows stop, hence the batch's shape over time)
            "fixed": lambda: _ours(lm, prompts, new_tokens, sampled, fixed=True),
            "fixed+iv": lambda: _ours(lm, prompts, new_tokens, sampled, iv, fixed=True),
        }
        for fn in variants.values():  # warm-up
            fn()
        times: dict[str, list[float]] = {k: [] for k in variants}
        toks: dict[str, int] = {}
        texts: dict[str, list[str]] = {}
        for _ in range(repeats):
            for name, fn in variants.items():
                t0 = time.perf_counter()
                toks[name], texts[name] = fn()
                times[name].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        tps = {k: toks[k] / med[k] for k in variants}
        row = {"model": spec, "threads": threads, "mode": "sampled" if sampled else "greedy",
               "hf_tok_s": tps["hf"], "ours_tok_s": tps["ours"], "iv_tok_s": tps["fixed+iv"],
               "ratio_vs_hf": tps["ours"] / tps["hf"],
               "iv_overhead": med["fixed+iv"] / med["fixed"],
               "same_text": (texts["hf"] == texts["ours"]) if not sampled else None}
        rows.append(row)
        print(f"{spec:<24} threads={threads} {row['mode']:<7} hf {tps['hf']:7.1f} tok/s  ours {tps['ours']:7.1f}"
              f"  fixed-length {tps['fixed']:7.1f} / with interventions {tps['fixed+iv']:7.1f}  ratio {row['ratio_vs_hf']:.2f}  iv overhead "
              f"{row['iv_overhead']:.3f}" + (f"  same text as hf: {row['same_text']}" if not sampled else ""),
              flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["smollm2-135m-instruct", "organism/sft@final"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runtime.setup(threads=1, level=logging.WARNING)
    from thinking_sparks.models import ModelNotFound

    rows = []
    for spec in args.models:
        for threads in args.threads:
            try:
                rows += bench_model(spec, threads, args.prompts, args.new_tokens, args.repeats)
            except ModelNotFound as err:
                print(f"skipping {spec}: {err}")
                break
    if not rows:
        raise SystemExit("no model could be benchmarked")
    print(f"generation_ratio_vs_hf={min(r['ratio_vs_hf'] for r in rows):.3f} "
          f"intervention_overhead={max(r['iv_overhead'] for r in rows):.3f}")


if __name__ == "__main__":
    main()
