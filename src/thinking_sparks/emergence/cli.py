"""``sparks heads`` (one model vs a base on a pairs file) and ``sparks trace`` (a run's checkpoints).

Registered in :mod:`thinking_sparks.cli`; import-light (torch loads only when a verb runs).

``sparks heads`` builds both circuits on the given pairs — the base's on the same pairs with clean
and corrupted swapped, unless ``--base-pairs`` gives it its own (line ``i`` of both files is the
same question; a model compared with itself on the same pairs has effect 0 everywhere) — and
writes ``DIR/heads.csv`` (``head, layer, index, status, importance_model, importance_base, effect,
score_model, score_base, inclusion_model, inclusion_base, p_model, p_base``) and ``DIR/meta.json``.

``p_model`` / ``p_base`` are the heads' inclusion probabilities over a paired bootstrap by question
(:mod:`~thinking_sparks.emergence.headstats`); meta.json's ``emergent`` is the analysis plan's rule
count (p_model >= 0.8, p_base <= 0.2; heads in ``emergent_heads``), ``emergent_ci`` its interval,
``floor_mean`` / ``floor_p95`` its same-size null — the model's circuit on ``--null-pairs`` (an
independent question sample of the same size) against its circuit on ``--pairs``, or, without
``--null-pairs``, on two disjoint halves of ``--pairs`` (half the size: a conservative floor) —
and ``verdict`` whether the count's interval lies above ``floor_p95``.

``sparks trace`` sweeps checkpoints (organism specs, model dirs, or a directory of TRL
``checkpoint-N`` folders) against one base and writes ``heads.parquet`` (tidy head x checkpoint),
``summary.csv``, ``cohorts.csv`` (bands), ``counts.csv``, ``frequency.csv`` and ``meta.json``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import List, Optional

import typer

from thinking_sparks.atomic import atomic_dir, check_replaceable

HEADS_OUTPUTS = ("heads.csv", "meta.json")
TRACE_OUTPUTS = ("heads.parquet", "summary.csv", "cohorts.csv", "counts.csv", "frequency.csv", "meta.json")


def _settings(method, steps, metric, top_n, n_boot):
    """The :class:`~thinking_sparks.circuits.config.CircuitConfig` of the options, checked."""
    from thinking_sparks.circuits.config import CircuitConfig  # deferred: loaded only when this verb runs

    return CircuitConfig(method=method, steps=steps, metric=metric, top_n=top_n, n_boot=n_boot).validate()


def heads_command(
    model: str = typer.Option(..., "--model", "-m", help="Model spec (dir, hub name, organism/<run>@<step>)."),
    base: str = typer.Option(..., "--base", "-b", help="Base model spec."),
    pairs: Path = typer.Option(..., "--pairs", "-p", help="JSONL pairs, clean = the model's style (see sparks circuit)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory for heads.csv and meta.json."),
    base_pairs: Optional[Path] = typer.Option(None, "--base-pairs", help="Pairs for the base circuit, line i = the question of --pairs' line i (default: --pairs swapped)."),
    null_pairs: Optional[Path] = typer.Option(None, "--null-pairs", help="Pairs of the model on independent questions, as many as --pairs: the same-size null (default: halves of --pairs)."),
    method: str = typer.Option("eap-ig-inputs", "--method", help="eap | eap-ig-inputs | eap-ig-joint-activations | clean-corrupted."),
    steps: int = typer.Option(5, "--steps", help="IG steps m."),
    metric: str = typer.Option("kl", "--metric", help="kl | logit-diff | answer-logprob."),
    top_n: Optional[int] = typer.Option(None, "--top-n", help="Edges kept (default: the paper's 5000/183,555 of the graph)."),
    n_boot: int = typer.Option(100, "--n-boot", help="Bootstrap resamples: inclusion probabilities, p_model / p_base, and at most this many outer resamples of the count (the plan: 200, 100)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute even if cached."),
) -> None:
    """Emergent / base-only / retained heads of MODEL against BASE -> DIR/heads.csv + DIR/meta.json."""
    from thinking_sparks.circuits.pairs import load_pairs  # deferred: loaded only when this verb runs

    for f in (pairs, base_pairs, null_pairs):
        if f is not None and not f.exists():
            raise FileNotFoundError(f"pairs file not found: {f}")
        if f is not None and f.is_dir():
            raise IsADirectoryError(f"pairs file {f} is a directory; pass a JSONL file")
    check_replaceable(out, HEADS_OUTPUTS)
    settings = _settings(method, steps, metric, top_n, n_boot)
    from thinking_sparks.emergence.device import load_kept as _load  # deferred: loaded only when this verb runs
    from thinking_sparks.emergence.pairs import PairParams, PairSet, Side  # deferred: loaded only when this verb runs
    from thinking_sparks.emergence.sweep import circuit_for  # deferred: loaded only when this verb runs

    lm, lb = _load(model), _load(base)
    if (lm.n_layers, lm.n_heads) != (lb.n_layers, lb.n_heads):
        raise ValueError(f"model ({lm.n_layers}x{lm.n_heads} heads) and base ({lb.n_layers}x{lb.n_heads}) differ in shape")
    mp = load_pairs(pairs, lm.tokenizer)
    m_set = PairSet(mp, list(range(len(mp))), 0, 0, Side(model), Side(base))
    b_set = (PairSet(bp := load_pairs(base_pairs, lb.tokenizer), list(range(len(bp))), 0, 0, Side(base), Side(model))
             if base_pairs is not None else m_set.swapped())
    params = PairParams(dataset=str(pairs))
    t0 = time.perf_counter()
    with atomic_dir(out) as tmp:  # --out appears whole at the end, or not at all
        rm = circuit_for(model, m_set.clean, m_set.corrupted, params, settings, not no_cache, pairs=m_set)
        rb = circuit_for(base, b_set.clean, b_set.corrupted, params, settings, not no_cache, pairs=b_set)
        rn = None
        if null_pairs is not None:
            npairs = load_pairs(null_pairs, lm.tokenizer)
            if len(npairs) != len(mp):
                raise ValueError(f"--null-pairs has {len(npairs)} pairs, --pairs {len(mp)}: the null needs the same size")
            n_set = PairSet(npairs, list(range(len(npairs))), 0, 0, Side(model), Side(base))
            rn = circuit_for(model, n_set.clean, n_set.corrupted, params, settings, not no_cache, pairs=n_set)
        sets, meta = _write_heads(tmp, rm, rb, rn, model, base, pairs, base_pairs, settings, t0)
    c = sets.counts()
    typer.echo(f"{c['emergent']} emergent, {c['base_only']} base-only, {c['retained']} retained heads "
               f"(model circuit faithfulness {rm.faithfulness:.3f}, base {rb.faithfulness:.3f})")
    typer.echo(f"rule (p_model >= 0.8, p_base <= 0.2): {meta['emergent']} emergent heads "
               f"[{meta['emergent_ci'][0]:.0f}, {meta['emergent_ci'][1]:.0f}], same-size null "
               f"{meta['floor_mean']:.1f} (95th percentile {meta['floor_p95']:.1f}): {meta['verdict']}")
    typer.echo(f"wrote {out / 'heads.csv'} and {out / 'meta.json'}")


def _write_heads(tmp: Path, rm, rb, rn, model: str, base: str, pairs: Path, base_pairs: Optional[Path], settings,
                 t0: float):
    """heads.csv and meta.json of ``sparks heads`` into ``tmp`` (``rn``: the model's circuit on the
    null's independent questions, or None); returns (HeadSets, meta)."""
    from thinking_sparks.emergence.sets import (  # deferred: loaded only when this verb runs
        HeadSets,
        head_table,
        score_dict,
    )

    sets = HeadSets.from_sets(rm.heads, rb.heads, score_dict(rm.score), score_dict(rb.score))
    table = head_table(sets, rm.n_layers, rm.n_heads, rm.importance, rb.importance)
    table["score_model"], table["score_base"] = rm.score.ravel(), rb.score.ravel()
    table["inclusion_model"], table["inclusion_base"] = rm.inclusion.ravel(), rb.inclusion.ravel()
    stats = _rule_stats(rm, rb, rn, settings)
    table["p_model"], table["p_base"] = stats.pop("p_model"), stats.pop("p_base")
    meta = {"model": model, "base": base, "pairs": str(pairs), "base_pairs": str(base_pairs) if base_pairs else "swapped",
            "settings": asdict(settings), **stats, "counts": sets.counts(),
            "circuit_sets": {"emergent": list(sets.emergent), "base_only": list(sets.base_only),
                             "retained": list(sets.retained)},
            "circuits": {"model": rm.meta(), "base": rb.meta()}, "seconds": round(time.perf_counter() - t0, 3)}
    table.to_csv(tmp / "heads.csv", index=False)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    return sets, meta


def _rule_stats(rm, rb, rn, settings) -> dict:
    """The plan's rule on the two circuits and the same-size null (see the module docstring)."""
    import dataclasses

    import numpy as np

    from thinking_sparks.emergence.drawing import edge_graph  # deferred: loaded only when this verb runs
    from thinking_sparks.emergence.headstats import Scores, halves  # deferred: loaded only when this verb runs
    from thinking_sparks.emergence.tables import count_row  # deferred: loaded only when this verb runs
    from thinking_sparks.plan import PLAN  # deferred: loaded only when this verb runs
    from thinking_sparks.verdicts import decide  # deferred: loaded only when this verb runs

    n_h = rm.n_layers * rm.n_heads
    if not (rm.has_signal and rb.has_signal):
        nan = float("nan")
        return {"p_model": np.full(n_h, nan), "p_base": np.full(n_h, nan), "emergent": None, "emergent_heads": [],
                "emergent_ci": [nan, nan], "floor_mean": nan, "floor_p95": nan, "null": "none",
                "verdict": "inconclusive"}
    graph = edge_graph(rm, settings)
    model = Scores.of(rm)
    null = ((model, Scores.of(rn), "null pairs") if rn is not None and rn.has_signal
            else (*halves(model), "halves of the pairs"))
    plan = dataclasses.replace(PLAN.circuits, n_boot=settings.n_boot, n_outer=min(PLAN.circuits.n_outer, settings.n_boot))
    row, hs = count_row(model, Scores.of(rb), null, graph, rm.top_n, plan, PLAN.stats, settings.aggregation,
                        score=rm.score)
    return {"p_model": hs.p_model, "p_base": hs.p_base, "emergent": int(row["emergent"]),
            "emergent_heads": row["emergent_heads"].split(), "emergent_ci": [row["ci_low"], row["ci_high"]],
            "floor_mean": row["floor_mean"], "floor_p95": row["floor_q95"], "null": row["null"],
            "base_only": int(row["base_only"]), "retained": int(row["retained"]),
            "verdict": decide(row["emergent"], row["ci_low"], row["ci_high"], above=row["floor_q95"])}


def _expand(values: list[str]) -> list[str]:
    """Comma-separated specs, each directory of TRL ``checkpoint-N`` folders expanded (as pages do)."""
    from thinking_sparks.emergence.modelruns import expand  # deferred: loaded only when this verb runs

    return [s for value in values for v in value.split(",") if v.strip() for s in expand(v)]


def trace_command(
    out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
    base: Optional[str] = typer.Option(None, "--base", "-b", help="Base model spec (default with --run: the run's parent)."),
    checkpoints: Optional[List[str]] = typer.Option(None, "--checkpoints", "-c", help="Checkpoint specs (repeat or comma-separate); a directory of TRL checkpoint-N folders expands to them."),
    run: Optional[str] = typer.Option(None, "--run", help="An organism run, e.g. organism/sft: all its checkpoints against its parent."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Organism profile for --run (default: $SPARKS_ORGANISM_PROFILE or full)."),
    dataset: str = typer.Option("organism/hard", "--dataset", help="Circuit questions: organism/<set> or a JSONL file."),
    n_questions: int = typer.Option(32, "--n-questions", help="First questions of the set."),
    answer_tokens: Optional[int] = typer.Option(24, "--answer-tokens", help="Cap on answer-prefix tokens per pair."),
    reasoning_side: str = typer.Option("own", "--reasoning-side", help="own | final: whose answers are a checkpoint's clean side."),
    method: str = typer.Option("eap-ig-inputs", "--method"),
    steps: int = typer.Option(5, "--steps", help="IG steps m."),
    metric: str = typer.Option("kl", "--metric"),
    top_n: Optional[int] = typer.Option(None, "--top-n", help="Edges kept (default: the paper's fraction)."),
    n_boot: int = typer.Option(100, "--n-boot"),
    no_cache: bool = typer.Option(False, "--no-cache"),
) -> None:
    """Circuits at every checkpoint against one base -> heads.parquet, cohorts.csv, summary.csv, ..."""
    from thinking_sparks.emergence.pairs import PairParams, prefix_sampling  # deferred: loaded only when this verb runs
    from thinking_sparks.emergence.sweep import run_checkpoints  # deferred: loaded only when this verb runs
    from thinking_sparks.emergence.trace import trace  # deferred: loaded only when this verb runs

    check_replaceable(out, TRACE_OUTPUTS)
    settings = _settings(method, steps, metric, top_n, n_boot)
    params = PairParams(dataset=dataset, n_questions=n_questions, answer_tokens=answer_tokens,
                        sampling=prefix_sampling(answer_tokens), reasoning_side=reasoning_side)
    if run:
        run_base, specs = run_checkpoints(run, profile)
        base = base or run_base
        specs = specs + _expand(checkpoints or [])
    else:
        if not checkpoints or not base:
            raise ValueError("give --base and --checkpoints, or --run organism/<run>")
        specs = _expand(checkpoints)
    name = run.removeprefix("organism/") if run else None
    with atomic_dir(out) as tmp:  # --out appears whole at the end, or not at all
        tr = trace(base, specs, params, settings, run=name, use_cache=not no_cache, progress=True)
        tr.heads.to_parquet(tmp / "heads.parquet", index=False)
        tr.summary.to_csv(tmp / "summary.csv", index=False)
        tr.bands.to_csv(tmp / "cohorts.csv", index=False)
        tr.counts.to_csv(tmp / "counts.csv", index=False)
        tr.frequency.to_csv(tmp / "frequency.csv", index=False)
        meta = {"run": tr.run, "base": base, "checkpoints": specs, "params": asdict(params), "settings": asdict(settings),
                "base_circuit": tr.base.meta(), "seconds": round(tr.seconds, 3),
                "circuits_computed": int((~tr.summary.cached).sum()) + int(not tr.base.cached)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    typer.echo(tr.summary[["step", "heads", "emergent", "retained", "faithfulness", "pairs", "seconds",
                           "cached"]].to_string(index=False))
    typer.echo(f"{len(specs) + 1} circuits in {tr.seconds:.1f} s ({meta['circuits_computed']} computed); wrote {out}")
