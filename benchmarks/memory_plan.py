"""Memory each page needs for the paper's models, from their configs and the circuits memory planner.

Nothing is downloaded: each model's architecture numbers (from its ``config.json`` on the hub,
copied into :data:`SHAPES`) build the Hugging Face model on the ``meta`` device, which gives the
exact parameter count without allocating weights. Per page:

- ``01_models`` (and any forward-only page): the weights (bf16 on CUDA) plus a forward pass;
- evaluation / interventions (sampled generation): weights + the KV cache of a batch;
- circuits / emergence (EAP-IG): weights + one attribution batch as
  :func:`thinking_sparks.circuits.memory.estimate_bytes` predicts it (float32 accumulators,
  bf16 activations), and the largest batch the planner fits on an 80 GB GPU (the paper's H100).

Usage: ``.venv/bin/python benchmarks/memory_plan.py`` prints the Markdown table;
``--write README.md`` replaces the table between the ``memory-plan`` markers in that file
(``tests/test_docs.py`` checks that the README holds this script's output).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

#: architecture numbers of the paper's models (their config.json files)
SHAPES = {
    "Qwen2.5-Math-1.5B (and R1-Distill-Qwen-1.5B)": dict(
        arch="qwen2", hidden_size=1536, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
        intermediate_size=8960, vocab_size=151936, tie_word_embeddings=True),
    "Qwen3-8B": dict(
        arch="qwen3", hidden_size=4096, num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8,
        head_dim=128, intermediate_size=12288, vocab_size=151936, tie_word_embeddings=False),
}
GIB = 2**30
GPU_BYTES = 80 * 10**9   #: one H100 80 GB (the paper's hardware, §A.4)
DTYPE_BYTES = 2          #: bf16 weights and activations on CUDA (accumulators stay float32)
CIRCUIT_POS = 256        #: positions per circuit input (question + a 24-token answer prefix fit)
IG_STEPS = 100           #: the paper's ig-steps (§A.5)
GEN_BATCH, GEN_TOKENS = 16, 4096  #: sampled generation: sequences decoded together, prompt + new tokens
MARKERS = ("<!-- memory-plan:start -->", "<!-- memory-plan:end -->")


def _config(shape: dict):
    from transformers import Qwen2Config, Qwen3Config

    kw = dict(shape)
    cls = {"qwen2": Qwen2Config, "qwen3": Qwen3Config}[kw.pop("arch")]
    return cls(**kw)


def n_params(config) -> int:
    """Exact parameter count of the HF model of ``config`` (built on the meta device)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


def plan(name: str, shape: dict) -> dict:
    from thinking_sparks.circuits.memory import estimate_bytes

    cfg = _config(shape)
    d_head = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    weights = n_params(cfg) * DTYPE_BYTES
    kv = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * d_head * DTYPE_BYTES * GEN_BATCH * GEN_TOKENS

    def circuit(batch: int) -> int:
        return estimate_bytes(cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads,
                              cfg.hidden_size, d_head, cfg.intermediate_size, CIRCUIT_POS, batch, DTYPE_BYTES,
                              grouped=False, vocab=cfg.vocab_size, steps=IG_STEPS).total

    fits = 0
    while fits < 64 and weights + circuit(fits + 1) <= 0.7 * GPU_BYTES:  # the planner's 0.7 margin
        fits += 1
    return {"model": name, "params (B)": n_params(cfg) / 1e9, "weights": weights / GIB,
            "generation": (weights + kv) / GIB, "circuit b=1": (weights + circuit(1)) / GIB, "fits": fits}


def table() -> str:
    rows = [plan(name, shape) for name, shape in SHAPES.items()]
    head = ("| model | parameters | weights (bf16), `01_models` | evaluation / interventions: + KV cache of "
            f"{GEN_BATCH} × {GEN_TOKENS} tokens | circuits / emergence: one EAP-IG example, {CIRCUIT_POS} "
            f"positions, {IG_STEPS} IG steps | EAP-IG batch on one 80 GB GPU |\n|---|---|---|---|---|---|")
    body = [f"| {r['model']} | {r['params (B)']:.2f} B | {r['weights']:.1f} GiB | {r['generation']:.1f} GiB | "
            f"{r['circuit b=1']:.1f} GiB | {r['fits']} |" for r in rows]
    return "\n".join([head, *body])


def write(path: Path) -> None:
    text = path.read_text()
    start, end = MARKERS
    if start not in text or end not in text:
        raise SystemExit(f"{path} has no {start} ... {end} markers")
    new = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: f"{start}\n{table()}\n{end}", text,
                 flags=re.DOTALL)
    path.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="replace the table between the markers in this file")
    args = parser.parse_args()
    if args.write:
        write(args.write)
    else:
        print(table())


if __name__ == "__main__":
    main()
