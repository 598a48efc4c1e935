"""``sparks circuit``: edge attribution on a pairs file -> DIR/edges.parquet + DIR/meta.json.

Registered in :mod:`thinking_sparks.cli`; import-light (torch loads only when the verb runs).
Results are cached under ``thinking_sparks.cache`` keyed on the parameters, the model's spec and
weights fingerprint, and the pairs file's content hash.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer

from thinking_sparks.circuits.config import CircuitConfig

#: what ``sparks circuit`` writes into ``--out``
OUTPUTS = ("edges.parquet", "meta.json")


def run_circuit(lm, pairs_path: Path, params: CircuitConfig, out: Path, use_cache: bool = True) -> dict:
    """Compute (or fetch) the attribution and write ``out/edges.parquet`` and ``out/meta.json``.

    Edges only, unless ``params.top_n`` is given: then also the pruned top-n circuit and its
    faithfulness (the command scores edges; it does not apply the paper's fraction by itself).
    """
    from thinking_sparks.cache import (  # deferred: loaded only when this verb runs
        ResultCache,
        cache_key,
        library_versions,
    )
    from thinking_sparks.circuits.attribute import attribute  # deferred: loaded only when this verb runs
    from thinking_sparks.circuits.circuit import top_n  # deferred: loaded only when this verb runs
    from thinking_sparks.circuits.faithfulness import evaluate_circuit  # deferred: loaded only when this verb runs
    from thinking_sparks.circuits.pairs import load_pairs  # deferred: loaded only when this verb runs

    params.validate(edges_only=True)
    pairs = load_pairs(pairs_path, lm.tokenizer)
    pairs_hash = hashlib.sha256(Path(pairs_path).read_bytes()).hexdigest()[:16]
    cache = ResultCache()
    key = cache_key("circuit", params, model=lm, extra={"pairs": pairs_hash})
    out.mkdir(parents=True, exist_ok=True)
    hit = cache.get(key) if use_cache else None
    if hit is not None:
        for name in ("edges.parquet", "meta.json"):
            shutil.copyfile(hit / name, out / name)
        meta = json.loads((out / "meta.json").read_text())
        meta["cached"] = True
        return meta
    t0 = time.perf_counter()
    a = attribute(lm, pairs, method=params.method, metric=params.metric, steps=params.steps, rule=params.rule,
                  gqa=params.gqa, batch_size=params.batch_size)
    t_attr = time.perf_counter() - t0
    df = a.to_frame()
    meta = {
        "params": asdict(params),
        "model": {"spec": lm.spec, "fingerprint": lm.fingerprint, "n_layers": lm.n_layers, "n_heads": lm.n_heads,
                  "n_kv_heads": lm.n_kv_heads},
        "pairs": {"path": str(pairs_path), "sha256_16": pairs_hash, "n": len(pairs)},
        "graph": {"n_src": a.graph.n_src, "n_dst": a.graph.n_dst, "n_edges": a.graph.n_edges},
        "versions": library_versions(),
        "timings": {"attribute_s": round(t_attr, 4), "ms_per_example": round(1000 * t_attr / len(pairs), 3),
                    "batch_size": a.batch_size},
        "cached": False,
    }
    if params.top_n is not None:
        c = top_n(a, params.top_n, params.aggregation)
        kept = set(c.edge_list())
        df["in_circuit"] = [(s, d) in kept for s, d in zip(df.src, df.dst, strict=True)]
        t1 = time.perf_counter()
        faith_metric = params.metric if params.metric != "logit-diff" or _has_answers(pairs) else "kl"
        f = evaluate_circuit(lm, pairs, c, metric=faith_metric, batch_size=a.batch_size or 8)
        meta["circuit"] = {"top_n": params.top_n, "n_edges": c.n_edges, "n_nodes": c.n_nodes,
                           "heads": sorted(c.heads()), "faithfulness_metric": faith_metric,
                           "normalized_faithfulness": f.normalized, "circuit_kl": f.circuit_kl}
        meta["timings"]["faithfulness_s"] = round(time.perf_counter() - t1, 4)
    with cache.write(key, meta={"kind": "circuit", "model": lm.spec}) as tmp:
        df.to_parquet(tmp / "edges.parquet", index=False)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        shutil.copyfile(tmp / "edges.parquet", out / "edges.parquet")
        shutil.copyfile(tmp / "meta.json", out / "meta.json")
    return meta


def _has_answers(pairs) -> bool:
    return all(p.correct_id is not None and p.wrong_id is not None for p in pairs)


def circuit_command(
    model: str = typer.Option(..., "--model", "-m", help="Model spec (dir, hub name, smollm2-135m-instruct, organism/[<profile>/]<run>@<step|final>)."),
    pairs: Path = typer.Option(..., "--pairs", "-p", help="JSONL pairs (clean_ids/corrupted_ids or clean/corrupted text)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory for edges.parquet and meta.json."),
    method: str = typer.Option("eap-ig-inputs", "--method",
                               help="eap | eap-ig-inputs | eap-ig-joint-activations | clean-corrupted | exact."),
    steps: int = typer.Option(5, "--steps", help="IG steps m."),
    rule: str = typer.Option("left", "--rule",
                             help="Riemann rule for a_k: left = k/m, k=0..m-1 (the reference library's and the "
                                  "bench's; default) | right = k/m, k=1..m (the paper's Eq. 3) | midpoint."),
    metric: str = typer.Option("kl", "--metric",
                               help="kl | logit-diff | answer-logprob (each a mean over target positions)."),
    gqa: str = typer.Option("ungrouped", "--gqa", help="ungrouped (k/v input per query head) | grouped (per KV group)."),
    top_n: Optional[int] = typer.Option(None, "--top-n", help="Also build the pruned top-n circuit and its faithfulness."),
    aggregation: str = typer.Option("mean", "--aggregation", help="Ranking for top-n: mean (|mean score|) | mean_abs."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Examples per batch (default: memory planner)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, ... (default: auto)."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="float32, bfloat16, ... (default: auto)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute even if a cached result exists."),
) -> None:
    """Edge attribution (EAP / EAP-IG) -> DIR/edges.parquet (src, dst, score, ...) + DIR/meta.json."""
    if not pairs.exists():
        raise FileNotFoundError(f"pairs file not found: {pairs}")
    from thinking_sparks.atomic import atomic_dir, check_replaceable  # deferred: loaded only when this verb runs

    check_replaceable(out, OUTPUTS)
    params = CircuitConfig(method=method, steps=steps, rule=rule, metric=metric, gqa=gqa, top_n=top_n,
                           aggregation=aggregation, batch_size=batch_size, dtype=dtype).validate(edges_only=True)
    from thinking_sparks.circuits.pairs import load_pairs  # deferred: loaded only when this verb runs

    try:  # id-form pairs can be checked before the model loads
        load_pairs(pairs, None)
    except ValueError as err:
        if "need a model with a tokenizer" not in str(err):
            raise
    from thinking_sparks.models import load_model  # deferred: loaded only when this verb runs

    lm = load_model(model, device=device, dtype=params.dtype)
    load_pairs(pairs, lm.tokenizer)  # fail on bad pairs before the long part
    with atomic_dir(out) as tmp:  # --out appears whole at the end, or not at all
        meta = run_circuit(lm, pairs, params, tmp, use_cache=not no_cache)
    line = f"{meta['graph']['n_edges']} edges scored on {meta['pairs']['n']} pairs"
    if "circuit" in meta:
        c = meta["circuit"]
        line += (f"; top-{c['top_n']} circuit: {c['n_edges']} edges, {len(c['heads'])} heads, "
                 f"faithfulness {c['normalized_faithfulness']:.3f}")
    typer.echo(line)
    typer.echo(f"wrote {out / 'edges.parquet'} and {out / 'meta.json'}" + (" (from cache)" if meta.get("cached") else ""))
