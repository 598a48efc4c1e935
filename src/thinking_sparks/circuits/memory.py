"""Memory planner: predict the bytes one attribution batch needs and pick the batch size.

Per batch of ``b`` examples x ``p`` positions (float32 accumulators, model-dtype activations of
``e`` bytes; S sources, N destinations, m gradient runs)::

    source outputs (clean, corrupted) + delta    b p S D (2 e + 4)
    d_head-space gradient accumulators           4 b p L (3H dh + m (3H + D) + D)
    one layer's destination gradients            4 b p 3H D          (materialised one layer at a time)
    per-example scores                           3 * 4 b S N
    autograd activations of one gradient run     e L b p (c_res D + c_attn H p + c_mlp I) + logits

The autograd constants are deliberately generous; the planner also leaves a safety margin.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

#: Fallback budget on CPU when available memory cannot be read.
DEFAULT_CPU_BUDGET = 4 * 2**30


@dataclass(frozen=True)
class MemoryEstimate:
    """Predicted peak bytes for one batch, by component."""

    sources: int
    dst_grads: int
    scores: int
    autograd: int

    @property
    def total(self) -> int:
        return self.sources + self.dst_grads + self.scores + self.autograd


def estimate_bytes(
    n_layers: int,
    n_heads: int,
    n_kv_heads: int,
    d_model: int,
    d_head: int,
    d_mlp: int,
    n_pos: int,
    batch: int,
    dtype_bytes: int = 4,
    grouped: bool = False,
    vocab: int = 0,
    steps: int = 5,
) -> MemoryEstimate:
    """Bytes for one attribution batch of ``batch`` examples x ``n_pos`` positions."""
    kv = n_kv_heads if grouped else n_heads
    n_src = 1 + n_layers * (n_heads + 1)
    n_dst = n_layers * (n_heads + 2 * kv + 1) + 1
    bp = batch * n_pos
    h3 = 3 * n_heads
    sources = bp * n_src * d_model * (4 + 2 * dtype_bytes)
    dst_grads = 4 * bp * (n_layers * (h3 * d_head + steps * (h3 + d_model) + d_model) + 2 * h3 * d_model)
    scores = 3 * 4 * batch * n_src * n_dst
    per_layer = bp * (12 * d_model + 8 * n_heads * d_head + 4 * n_heads * n_pos + 4 * d_mlp)
    autograd = dtype_bytes * n_layers * per_layer + 3 * 4 * bp * vocab
    return MemoryEstimate(sources, dst_grads, scores, autograd)


def available_bytes(device: torch.device) -> int:
    """Free memory on ``device`` (CUDA: free device memory; CPU: MemAvailable / 2)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except OSError:
        pass
    return DEFAULT_CPU_BUDGET


def plan_batch_size(cm, n_pos: int, method: str = "eap-ig-inputs", n_examples: int | None = None,
                    budget: int | None = None, margin: float = 0.7, max_batch: int = 64, steps: int = 5) -> int:
    """Largest batch whose :func:`estimate_bytes` fits ``margin * budget`` (at least 1).

    ``budget`` defaults to :func:`available_bytes`; ``SPARKS_CIRCUIT_BATCH`` overrides the result.
    """
    env = os.environ.get("SPARKS_CIRCUIT_BATCH")
    if env:
        return max(1, int(env))
    budget = available_bytes(cm.device) if budget is None else budget
    d_mlp = getattr(cm.config, "intermediate_size", 4 * cm.d_model)
    cap = max_batch if n_examples is None else max(1, min(max_batch, n_examples))
    best = 1
    for b in range(1, cap + 1):
        est = estimate_bytes(cm.n_layers, cm.n_heads, cm.n_kv_heads, cm.d_model, cm.d_head, d_mlp, n_pos, b,
                             cm.embed_w.element_size(), cm.graph.gqa == "grouped", cm.vocab, steps)
        if est.total > margin * budget:
            break
        best = b
    return best
