"""``sparks patch``: exact activation patching next to attributions, with agreement statistics.

``--level heads`` writes ``DIR/heads.parquet`` (head, attribution, exact, in_circuit, sampled): every
head when the model has at most ``top-k + --sample`` of them, else (a real model) the ``k`` heads
with the largest |attribution| (``k``: the circuit's heads) and a seeded random ``--sample`` of the
rest (:func:`sample_heads`; ``sampled`` marks those; the agreement is over the patched heads, so a
sample's Spearman weighs the top heads more than a full patch would); ``--level edges``
writes ``DIR/edges.parquet`` (src, dst, attribution, exact, in_top_n) for every edge of a small
graph or a stratified sample (:func:`~.patching.sample_edges`, the top-n all included).  Both
write ``DIR/meta.json`` (parameters, Spearman, top-k recall, timings); the directory appears whole
(:func:`thinking_sparks.atomic.atomic_dir`).  Import-light: torch loads only when the verb runs.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch
import typer

from thinking_sparks.atomic import atomic_dir, write_frame, write_json
from thinking_sparks.circuits.agreement import HEAD_SCORES, head_scores
from thinking_sparks.circuits.attribute import attribute
from thinking_sparks.circuits.circuit import top_n
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.circuits.forward import CircuitModel
from thinking_sparks.circuits.pairs import load_pairs
from thinking_sparks.circuits.patching import (
    agreement,
    check_direction,
    patch_edges,
    patch_nodes,
    sample_edges,
    top_k,
)
from thinking_sparks.models import load_model

LEVELS = ("heads", "edges")


@dataclass(frozen=True)
class PatchParams:
    """Everything that determines the output: the attribution's circuit settings (the one
    :class:`~thinking_sparks.circuits.config.CircuitConfig`) and what is patched and compared."""

    circuit: CircuitConfig = CircuitConfig(batch_size=8)
    level: str = "heads"
    direction: str = "noise"
    head_score: str = "node"
    sample: int = 1000
    seed: int = 0


def validate(p: PatchParams) -> None:
    """Raise ValueError on a bad parameter (before a model is loaded)."""
    if p.level not in LEVELS:
        raise ValueError(f"unknown --level {p.level!r}; choose one of {', '.join(LEVELS)}")
    if p.circuit.method == "exact":
        raise ValueError("--method exact is the patching itself; choose an attribution method")
    p.circuit.validate()
    check_direction(p.direction)
    if p.head_score not in HEAD_SCORES:
        raise ValueError(f"unknown --head-score {p.head_score!r}; choose one of {', '.join(HEAD_SCORES)}")
    if p.sample < 1:
        raise ValueError(f"--sample must be >= 1, got {p.sample}")


def sample_heads(attr, k: int, sample: int, seed: int = 0) -> tuple[list[int], list[bool]]:
    """Head indices to patch (ascending) and whether each was sampled: the ``k`` largest
    ``|attr|`` (``[n_heads]``; ties: lower index) and ``sample`` of the others drawn without
    replacement (seeded); every head when there are at most ``k + sample``."""
    n = len(attr)
    if n <= k + sample:
        return list(range(n)), [False] * n
    top = sorted(top_k(attr, k))
    rest = torch.tensor([i for i in range(n) if i not in set(top)])
    drawn = rest[torch.randperm(len(rest), generator=torch.Generator().manual_seed(seed))[:sample]].tolist()
    chosen = sorted(top + drawn)
    return chosen, [i in set(drawn) for i in chosen]


def run_patch(lm, pairs: list, p: PatchParams, out: Path) -> dict:
    """Attribute, patch, compare; write ``out`` atomically; return the meta dict."""
    validate(p)
    c = p.circuit
    cm = CircuitModel(lm, gqa=c.gqa)
    g = cm.graph
    n = c.n_for(g)
    a = attribute(lm, pairs, method=c.method, metric=c.metric, steps=c.steps, rule=c.rule, gqa=c.gqa,
                  batch_size=c.batch_size, circuit_model=cm, keep_per_example=p.head_score == "abs-node")
    circuit = top_n(a, n)
    meta = {"params": asdict(p), "model": {"spec": lm.spec, "fingerprint": lm.fingerprint},
            "pairs": len(pairs), "graph": {"n_edges": g.n_edges, "top_n": n},
            "timings": {"attribute_s": round(a.seconds, 3)}}
    if p.level == "heads":
        attr_all = head_scores(a, p.head_score)
        k = max(1, len(circuit.heads()))
        idx, sampled = sample_heads(attr_all, k, p.sample, p.seed)
        names = [f"L{l}H{h}" for l in range(g.n_layers) for h in range(g.n_heads)]
        e = patch_nodes(lm, pairs, nodes=[names[i] for i in idx], metric=c.metric, direction=p.direction, gqa=c.gqa,
                        batch_size=c.batch_size, circuit_model=cm)
        attr = attr_all[idx]
        frame = pd.DataFrame({"head": e.nodes, "attribution": attr.numpy(), "exact": e.effects.numpy(),
                              "in_circuit": [h in circuit.heads() for h in e.nodes], "sampled": sampled})
        meta["timings"]["patch_s"] = round(e.seconds, 3)
        meta["losses"] = {"clean": e.clean_loss, "corrupted": e.corrupted_loss}
        meta["heads_patched"], meta["heads_sampled"] = len(idx), sum(sampled)
        meta["n_heads"] = len(names)
    else:
        edges = sample_edges(a.scores, g.edge_mask(), n=p.sample, top_n=n, seed=p.seed)
        e = patch_edges(lm, pairs, edges=edges, metric=c.metric, direction=p.direction, gqa=c.gqa,
                        batch_size=c.batch_size, circuit_model=cm)
        attr = a.scores[edges[:, 0], edges[:, 1]]
        k = min(n, len(edges))
        names = e.names()
        frame = pd.DataFrame({"src": [s for s, _ in names], "dst": [d for _, d in names], "attribution": attr.numpy(),
                              "exact": e.effects.numpy(), "in_top_n": [i < n for i in range(len(edges))]})
        meta["timings"]["patch_s"] = round(e.seconds, 3)
        meta["edges_patched"] = len(edges)
        meta["edges_sampled"] = len(edges) < g.n_edges
    s = agreement(attr, e.effects, k)
    meta["agreement"] = asdict(s)
    with atomic_dir(out) as tmp:
        write_frame(tmp / f"{p.level}.parquet", frame)
        write_json(tmp / "meta.json", meta)
    return meta


def patch_command(
    model: str = typer.Option(..., "--model", "-m", help="Model spec (dir, hub name, organism/[<profile>/]<run>@<step|final>)."),
    pairs: Path = typer.Option(..., "--pairs", "-p", help="JSONL pairs (as for `sparks circuit`)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (written whole): <level>.parquet + meta.json."),
    level: str = typer.Option("heads", "--level", help="heads (every head patched alone) | edges (single edges)."),
    method: str = typer.Option("eap-ig-inputs", "--method", help="Attribution: eap | eap-ig-inputs | eap-ig-joint-activations | clean-corrupted."),
    steps: int = typer.Option(5, "--steps", help="IG steps m."),
    rule: str = typer.Option("left", "--rule", help="Riemann rule: left | right | midpoint."),
    metric: str = typer.Option("kl", "--metric", help="kl | logit-diff | answer-logprob."),
    direction: str = typer.Option("noise", "--direction", help="noise (clean run, corrupted value patched in) | denoise (the opposite)."),
    gqa: str = typer.Option("ungrouped", "--gqa", help="ungrouped | grouped."),
    top_n: int | None = typer.Option(None, "--top-n", help="Circuit size: top-k is its heads (or its edges). Default: the paper's share of the graph."),
    head_score: str = typer.Option("node", "--head-score", help="node | abs-edges | mean-abs-edges | abs-node (see circuits.agreement)."),
    sample: int = typer.Option(1000, "--sample", help="Edges (--level edges) or heads (--level heads) drawn at random beyond the top ones; every one if there are fewer."),
    batch_size: int = typer.Option(8, "--batch-size", help="Pairs per batch."),
    seed: int = typer.Option(0, "--seed", help="Seed of the edge or head sample."),
    device: str | None = typer.Option(None, "--device", help="cpu, cuda, ... (default: auto)."),
) -> None:
    """Exact head or edge patching beside the attribution, with Spearman and top-k recall."""
    if not pairs.exists():
        raise FileNotFoundError(f"pairs file not found: {pairs}")
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out exists and is not a directory: {out}")
    circuit = CircuitConfig(method=method, steps=steps, rule=rule, metric=metric, gqa=gqa, top_n=top_n,
                            batch_size=batch_size)
    params = PatchParams(circuit, level=level, direction=direction, head_score=head_score, sample=sample, seed=seed)
    validate(params)

    lm = load_model(model, device=device, dtype="float32")
    loaded = load_pairs(pairs, lm.tokenizer)
    t0 = time.perf_counter()
    meta = run_patch(lm, loaded, params, out)
    s = meta["agreement"]
    typer.echo(f"{level}: Spearman {s['spearman']:.3f} (|.| {s['spearman_abs']:.3f}), top-{s['k']} recall "
               f"{s['recall']:.2f} on {len(loaded)} pairs in {time.perf_counter() - t0:.1f} s; wrote {out}")
