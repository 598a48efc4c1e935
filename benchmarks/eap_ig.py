"""Benchmark EAP-IG-inputs (m=5) against the bare cost m x (forward + backward).

Runs on the EAP-IG bench model (../shared/bench/induction-qwen2; 64 pairs, batch 16 as in the
reference timings) and, if it loads, on SmolLM2-135M-Instruct with a few text pairs.  For each it
prints ms/example (median of repeats after a warm-up), the ratio to a plain Hugging Face eager
model's m x (forward + backward to the input embeddings) on the same batches, measured in the same
run, peak memory (tracemalloc on CPU / torch.cuda.max_memory_allocated), and the Spearman
correlation with the reference scores (bench) or with an m=50 midpoint run (SmolLM2, 8 short
factual / sequence pairs that differ in one or two words, KL at the last position).

Last line: ``spearman_vs_reference=<x> ratio_to_bare=<y>`` (bench model figures).

Usage: ``.venv/bin/python benchmarks/eap_ig.py [--repeats 3] [--no-smollm] [--device cpu]``
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from pathlib import Path

import torch

from thinking_sparks import runtime

BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "induction-qwen2"
STEPS = 5

SMOL_PAIRS = [  # (clean, corrupted): same token count, metric on the next token (KL)
    ("The capital of France is", "The capital of Italy is"),
    ("Two plus three equals", "Two plus seven equals"),
    ("The opposite of hot is", "The opposite of big is"),
    ("Monday, Tuesday, Wednesday,", "Monday, Friday, Sunday,"),
    ("One, two, three, four,", "One, two, nine, four,"),
    ("The color of the sky is", "The color of the grass is"),
    ("A dog says woof and a cat says", "A cow says moo and a cat says"),
    ("January, February, March,", "January, October, March,"),
]


STYLE_QUESTIONS = [  # paper-style pairs (§4.3): question in the chat template + an answer prefix
    "What is 17 + 25?",
    "A train travels 60 miles in 1.5 hours. What is its average speed?",
    "How many positive divisors does 36 have?",
    "Solve for x: 3x + 7 = 22.",
]
STYLE_CLEAN = [  # "reasoning model" style
    "Okay, so I need to add 17 and 25. Let me think step by step.",
    "Okay, so I need to find the average speed of the train. Let me think.",
    "Okay, so I need to count the divisors of 36. Let me think about it.",
    "Okay, so I need to solve this linear equation for x. Let me think.",
]
STYLE_CORRUPTED = [  # "base model" style
    "To solve this problem, we simply compute the sum of the two numbers.",
    "To solve this problem, we use the formula speed equals distance over time.",
    "To solve this problem, we write the prime factorization of the number 36.",
    "To solve this problem, we subtract 7 from both sides of the equation.",
]


def smollm_faithfulness(lm, pairs_sets: dict, sizes: list[int]) -> None:
    """Faithfulness (KL-normalized) of pruned top-n EAP-IG-inputs (m=5) circuits."""
    from thinking_sparks.circuits.attribute import attribute
    from thinking_sparks.circuits.faithfulness import faithfulness_curve

    for label, pairs in pairs_sets.items():
        a = attribute(lm, pairs, method="eap-ig-inputs", metric="kl", steps=STEPS, batch_size=8, progress=False)
        n_all = a.graph.n_edges
        df = faithfulness_curve(lm, pairs, a, [n for n in sizes if n < n_all] + [n_all], metric="kl", batch_size=8)
        print(f"[smollm2-faithfulness] pairs={label} n_pairs={len(pairs)} edges={n_all} metric=kl")
        for row in df.itertuples():
            print(f"[smollm2-faithfulness]   top-{row.n_requested}: {row.n_edges} edges after prune, {row.n_nodes} nodes,"
                  f" normalized faithfulness {row.normalized_faithfulness:.4f} (circuit KL {row.circuit_kl:.4f},"
                  f" corrupted KL {row.corrupted_loss:.4f})")


def _time(fn, repeats: int, warmup: bool = False) -> tuple[list[float], list[float]]:
    """(wall, cpu) seconds per call; CPU time is robust to a shared machine."""
    if warmup:
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu


def _rss_hwm() -> int:
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM:")).split()[1]) * 1024


def _peak(fn, device: torch.device) -> tuple[float, str]:
    """Peak memory (MiB) during one call: CUDA allocator peak; on CPU the process's peak RSS
    (reset via /proc/self/clear_refs) minus the RSS before, plus tracemalloc's Python peak."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20, "cuda max_memory_allocated above baseline"
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        with open("/proc/self/status") as f:
            base = int(next(line for line in f if line.startswith("VmRSS:")).split()[1]) * 1024
        tracemalloc.start()
        fn()
        py = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return (_rss_hwm() - base) / 2**20, f"peak RSS above baseline (tracemalloc python peak {py / 2**20:.1f} MiB)"
    except OSError:
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak / 2**20, "tracemalloc (python allocations only)"


def bare_fn(hf, batches, metric_fn, steps: int, last_only: bool = False):
    """m x (forward + backward to the embeddings) of the plain HF model on the same batches
    (``last_only``: logits only at the last position, HF's ``logits_to_keep=1``)."""
    emb_layer = hf.get_input_embeddings()
    kw = {"logits_to_keep": 1} if last_only else {}

    def run():
        for clean, corrupted, extra in batches:
            for _ in range(steps):
                e = emb_layer(clean).detach().requires_grad_(True)
                logits = hf(inputs_embeds=e, **kw).logits
                loss = metric_fn(logits, extra).sum()
                torch.autograd.grad(loss, e)

    return run


def bench_model(name, lm_or_bridge, hf, pairs, metric, batch_size, reference, repeats, device, bare_metric):
    from thinking_sparks.circuits.attribute import attribute
    from thinking_sparks.circuits.forward import CircuitModel
    from thinking_sparks.circuits.pairs import collate

    cm = CircuitModel(lm_or_bridge)
    n = len(pairs)
    res = {}

    def ours():
        res["a"] = attribute(lm_or_bridge, pairs, method="eap-ig-inputs", metric=metric, steps=STEPS,
                             batch_size=batch_size, progress=False, circuit_model=cm)

    batches = []
    for s in range(0, n, batch_size):
        b = collate(pairs[s : s + batch_size]).to(device)
        batches.append((b.clean, b.corrupted, b))
    bare = bare_fn(hf, batches, bare_metric, STEPS)
    bare_last = bare_fn(hf, batches, bare_metric, STEPS, last_only=True)
    # interleave ours / bare so all see the same machine load
    w_ours, c_ours, w_bare, c_bare, w_last, c_last = [], [], [], [], [], []
    for fn in (ours, bare, bare_last):  # warm-up
        fn()
    for _ in range(repeats):
        w, c = _time(ours, 1)
        w_ours += w
        c_ours += c
        w, c = _time(bare, 1)
        w_bare += w
        c_bare += c
        w, c = _time(bare_last, 1)
        w_last += w
        c_last += c
    peak, how = _peak(ours, device)
    med = lambda xs: statistics.median(xs) * 1000 / n
    rho = reference(res["a"])
    print(f"[{name}] eap-ig-inputs m={STEPS} metric={metric} batch={batch_size} n={n} "
          f"edges={res['a'].graph.n_edges}")
    print(f"[{name}]   ours  ms/example wall {med(w_ours):.3f} (runs {', '.join(f'{t * 1000 / n:.2f}' for t in w_ours)})"
          f"  cpu {med(c_ours):.3f}")
    print(f"[{name}]   bare  ms/example wall {med(w_bare):.3f}  cpu {med(c_bare):.3f}"
          f"  (m x (fwd+bwd to embeddings), plain HF eager model)")
    print(f"[{name}]   bare-last ms/example wall {med(w_last):.3f}  cpu {med(c_last):.3f}"
          f"  (same, logits only at the last position: logits_to_keep=1)")
    print(f"[{name}]   ratio vs bare (all logits): wall {med(w_ours) / med(w_bare):.3f} cpu {med(c_ours) / med(c_bare):.3f}")
    ratio_wall, ratio_cpu = med(w_ours) / med(w_last), med(c_ours) / med(c_last)
    print(f"[{name}]   ratio_to_bare (vs bare-last, the stricter baseline): wall {ratio_wall:.3f} cpu {ratio_cpu:.3f}")
    print(f"[{name}]   peak memory {peak:.1f} MiB ({how})   spearman {rho:.5f}")
    return rho, ratio_wall, ratio_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-smollm", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--faithfulness", action="store_true", help="Also print SmolLM2 top-n circuit faithfulness.")
    args = ap.parse_args()
    runtime.setup()
    import pandas as pd
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from thinking_sparks.circuits.circuit import spearman
    from thinking_sparks.circuits.graph import reference_name_to_ours
    from thinking_sparks.circuits.pairs import pairs_from_tensors
    from thinking_sparks.models import load_model

    device = torch.device(args.device)
    print(f"torch threads {torch.get_num_threads()}, device {device}, torch {torch.__version__}")
    if not BENCH.exists():
        raise SystemExit(f"bench data not found at {BENCH}")
    lm = load_model(str(BENCH / "model"), device=device, dtype="float32")
    hf = AutoModelForCausalLM.from_pretrained(BENCH / "model", attn_implementation="eager").to(device).eval()
    hf.requires_grad_(False)
    data = load_file(BENCH / "data.safetensors")
    pairs = pairs_from_tensors(data["clean"], data["corrupted"], data["correct_answer"], data["wrong_answer"])
    ref = pd.read_csv(BENCH / "scores" / f"eap-ig-inputs-{STEPS}__logitdiff.csv")
    names = [(reference_name_to_ours(s), reference_name_to_ours(d + (f"<{q}>" if isinstance(q, str) else "")))
             for s, d, q in zip(ref.src, ref.dst, ref.qkv, strict=True)]

    def vs_ref(a):
        return spearman([a.score(s, d) for s, d in names], ref.score)

    def ld(logits, b):
        last = logits[:, -1]
        return -(last.gather(1, b.correct[:, None]) - last.gather(1, b.wrong[:, None])).squeeze(1)

    rho, ratio, _ = bench_model("bench", lm, hf, pairs, "logit-diff", 16, vs_ref, args.repeats, device, ld)
    bench_model("bench-b64", lm, hf, pairs, "logit-diff", 64, vs_ref, args.repeats, device, ld)

    if not args.no_smollm:
        try:
            smol = load_model("smollm2-135m-instruct", device=device, dtype="float32")
        except Exception as err:  # noqa: BLE001 - report and go on
            print(f"[smollm2] skipped: could not load ({type(err).__name__}: {str(err).splitlines()[0][:120]})")
        else:
            from thinking_sparks.circuits.attribute import attribute
            from thinking_sparks.circuits.pairs import Pair

            tok = smol.tokenizer
            sp = [Pair(tuple(tok.encode(c)), tuple(tok.encode(r))) for c, r in SMOL_PAIRS]
            hf_s = AutoModelForCausalLM.from_pretrained(smol.path, attn_implementation="eager").to(device).eval()
            hf_s.requires_grad_(False)
            fine = attribute(smol, sp, method="eap-ig-inputs", metric="kl", steps=50, rule="midpoint", batch_size=8,
                             progress=False)
            mask = fine.graph.edge_mask()

            def vs_fine(a):
                return spearman(a.scores[mask].tolist(), fine.scores[mask].tolist())

            def kl(logits, b):  # bare stand-in loss with the same cost profile (log-softmax at the end)
                return -torch.log_softmax(logits[:, -1].float(), -1)[:, 0]

            bench_model("smollm2", smol, hf_s, sp, "kl", 8, vs_fine, args.repeats, device, kl)
            if args.faithfulness:
                from thinking_sparks.circuits.pairs import build_style_pairs

                style = build_style_pairs(lambda q: smol.encode(smol.chat(q))[0].tolist(),
                                          lambda t: tok.encode(" " + t, add_special_tokens=False),
                                          STYLE_QUESTIONS, STYLE_CLEAN, STYLE_CORRUPTED, n_answer_tokens=10)
                smollm_faithfulness(smol, {"factual": sp, "style": style}, [100, 500, 1000, 2000, 5000, 20000])
    print(f"spearman_vs_reference={rho:.5f} ratio_to_bare={ratio:.3f}")


if __name__ == "__main__":
    main()
