"""Circuits at every checkpoint: one cached EAP-IG circuit per (model, clean side, corrupted side).

:func:`circuit_for` builds (or fetches) one circuit: pairs (:mod:`.pairs`), attribution with
per-example scores kept, the pruned top-n circuit, its faithfulness, per-head maps and bootstrap
inclusion probabilities.  The cache key holds the analysed model's weights fingerprint, both
sides' fingerprints, :class:`~.pairs.PairParams` and the
:class:`~thinking_sparks.circuits.config.CircuitConfig`, so a warm rebuild
loads no model and recomputes nothing.  :func:`trace` runs it over the checkpoints of a run
against one fixed base circuit (the cost shows as a progress bar and in the ``seconds`` column).

Head maps are ``[n_layers, n_heads]`` float32 arrays:

* ``score``: the head's node score, the sum of its outgoing edges' ranking keys ``|mean score|``;
* ``importance``: the paper's §A.6 ``I(l, h)`` from per-example top-n circuits, summing to 1;
* ``inclusion``: the share of bootstrap circuits (pairs resampled) that contain the head;
* ``exact``: the head's exact denoising effect (:data:`AGREEMENT`: restore the head's clean output
  in the corrupted run, :func:`~thinking_sparks.circuits.patching.patch_nodes`), the ground truth
  EAP-IG approximates from the corrupted end; ``patch_spearman`` / ``patch_recall`` compare it with
  the heads' signed node scores (Spearman; top-k recall at the circuit's number of heads).

Cost: the circuit uses every pair; exact patching and faithfulness are read on a fixed seeded
subsample of ``plan.PLAN.circuits.patch_pairs`` pairs (:func:`check_pairs`, recorded as
``patch_index`` and in the key through :data:`AGREEMENT`); one bridge-free
:class:`~thinking_sparks.circuits.forward.CircuitModel` serves every step of a circuit.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from thinking_sparks.cache import ResultCache, cache_key, library_versions
from thinking_sparks.circuits.agreement import head_scores as agreement_scores
from thinking_sparks.circuits.attribute import Attribution, attribute
from thinking_sparks.circuits.circuit import head_importance, top_n
from thinking_sparks.circuits.config import PAPER_EDGES, PAPER_TOP_N, CircuitConfig, scaled_top_n
from thinking_sparks.circuits.faithfulness import evaluate_circuit
from thinking_sparks.circuits.forward import CircuitModel
from thinking_sparks.circuits.graph import Graph
from thinking_sparks.circuits.patching import NodePatching, agreement, patch_nodes
from thinking_sparks.emergence.device import load_kept
from thinking_sparks.emergence.headstats import memberships
from thinking_sparks.emergence.pairs import (
    SPAN_RULE,
    PairParams,
    PairSet,
    Side,
    build_pairs,
    key_params,
    prefix_key,
    questions,
    sample_prefixes,
    side_fingerprint,
)
from thinking_sparks.heads import sort_heads
from thinking_sparks.models import checkpoint_steps, fingerprint, resolve_spec
from thinking_sparks.organism import config, zoo
from thinking_sparks.plan import PLAN

log = logging.getLogger(__name__)

@dataclass
class CircuitResult:
    """One circuit and what the head analyses need (maps ``[n_layers, n_heads]``)."""

    model: str
    clean: str
    corrupted: str
    n_layers: int
    n_heads: int
    top_n: int
    heads: list[str]
    score: np.ndarray
    importance: np.ndarray
    inclusion: np.ndarray
    n_pairs: int
    n_identical: int
    n_short: int
    faithfulness: float
    circuit_kl: float
    n_edges: int
    seconds: dict = field(default_factory=dict)
    cached: bool = False
    question_index: list[int] = field(default_factory=list)
    path: Path | None = None
    exact: np.ndarray | None = None   # [n_layers, n_heads] exact denoising effects (AGREEMENT)
    patch_spearman: float = float("nan")
    patch_recall: float = float("nan")
    patch_index: list[int] = field(default_factory=list)  # pairs (positions) patched and faithfulness read on

    @property
    def has_signal(self) -> bool:
        """False when fewer than 2 pairs differed (the circuit is empty by construction)."""
        return self.n_pairs >= 2

    def per_example(self) -> torch.Tensor:
        """``[n_pairs, n_src, n_dst]`` per-example edge scores (from the cache entry)."""
        return torch.load(self.path / "per_example.pt", weights_only=True)

    def exact_per_example(self) -> torch.Tensor:
        """``[len(patch_index), n_layers * n_heads]`` exact denoising effects of the patched pairs
        (:attr:`patch_index`; from the cache entry)."""
        return torch.load(self.path / "exact_per_example.pt", weights_only=True)

    def checked_per_example(self) -> torch.Tensor:
        """``[len(patch_index), n_src, n_dst]`` per-example edge scores of the patched pairs (rows
        aligned with :meth:`exact_per_example`)."""
        pe = self.per_example()
        return pe if len(self.patch_index) == pe.shape[0] else pe[self.patch_index]

    def meta(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if not isinstance(v, np.ndarray) and k != "path"}
        return d


def head_scores(abs_scores: torch.Tensor, graph) -> np.ndarray:
    """``[n_layers, n_heads]``: each head's sum of outgoing ranking keys."""
    out = abs_scores.sum(1)
    idx = [graph.head_src(layer, h) for layer in range(graph.n_layers) for h in range(graph.n_heads)]
    return out[idx].reshape(graph.n_layers, graph.n_heads).numpy().astype(np.float32)


def circuit_heads(per_example: torch.Tensor, graph, n: int, rows=None, aggregation: str = "mean") -> set[str]:
    """Heads of the pruned top-``n`` circuit built from the mean of ``per_example[rows]`` (rows may
    repeat: a bootstrap resample; computed as a weighted sum, without copying the rows)."""
    k = per_example.shape[0]
    w = torch.full((k,), 1.0 / k) if rows is None else torch.bincount(torch.as_tensor(rows), minlength=k).float() / len(rows)
    flat = per_example.reshape(k, -1)
    mean = (w @ flat).reshape(per_example.shape[1:])
    abs_mean = (w @ flat.abs()).reshape(per_example.shape[1:]) if aggregation == "mean_abs" else mean.abs()
    a = Attribution(graph, mean, abs_mean, k, "bootstrap", "kl")
    return top_n(a, n, aggregation).heads()


def inclusion(per_example: torch.Tensor, graph, n: int, n_boot: int, seed: int = 0,
              aggregation: str = "mean") -> np.ndarray:
    """``[n_layers, n_heads]`` share of ``n_boot`` circuits on resampled pairs holding each head
    (deterministic by ``seed``). The resamples' circuits are built at once
    (:func:`~.headstats.memberships`: the circuits of :func:`circuit_heads`, batched)."""
    g = torch.Generator().manual_seed(seed)
    k = per_example.shape[0]
    rows = [torch.randint(0, k, (k,), generator=g) for _ in range(n_boot)]  # one draw per resample, in turn
    weights = torch.stack([torch.bincount(r, minlength=k) for r in rows]).float() if rows else torch.zeros(0, k)
    counts = memberships(per_example, weights, graph, n, aggregation).float().sum(0)
    return (counts.reshape(graph.n_layers, graph.n_heads) / max(n_boot, 1)).numpy().astype(np.float32)


#: the exact patching every sweep circuit is checked against (part of the cache key): every head
#: patched alone, denoising, on ``pairs`` seeded pairs of the circuit (:func:`check_pairs`; the
#: circuit's faithfulness is measured on the same pairs)
AGREEMENT = {"patch": "heads", "direction": "denoise", "head_score": "node", "k": "circuit heads",
             "pairs": PLAN.circuits.patch_pairs}
#: pairs per patched batch (exact patching and faithfulness)
PATCH_BATCH = 16


def pair_set(clean: Side, corrupted: Side, params: PairParams, use_cache: bool = True) -> PairSet:
    """Pairs for a circuit whose clean side is ``clean``."""
    c = sample_prefixes(clean, params, lm=None if _cached(clean, params) else load_kept(clean.spec), use_cache=use_cache)
    r = sample_prefixes(corrupted, params, lm=None if _cached(corrupted, params) else load_kept(corrupted.spec),
                        use_cache=use_cache)
    return build_pairs(c, r, params.answer_tokens)


def _cached(side: Side, params: PairParams) -> bool:
    return ResultCache().get(prefix_key(side, params, questions(params))) is not None


def _circuit_key(params: PairParams, settings: CircuitConfig, extra: dict) -> str:
    return cache_key("emergence-circuit", {"pairs": key_params(params), "circuit": asdict(settings), "agreement": AGREEMENT},
                     extra=extra)


def circuit_for(model: str, clean: Side, corrupted: Side, params: PairParams, settings: CircuitConfig,
                use_cache: bool = True, pairs: PairSet | None = None) -> CircuitResult:
    """The circuit of ``model`` on pairs clean = ``clean``'s prefixes, corrupted = ``corrupted``'s
    (or on given ``pairs``); cached."""
    where = resolve_spec(model)
    extra = {"model": {"spec": model, "fingerprint": fingerprint(where) if not isinstance(where, str) else where},
             "clean": side_fingerprint(clean), "corrupted": side_fingerprint(corrupted)}
    if clean.mode != corrupted.mode:  # prompts of different lengths: the answer span starts after both
        extra["span"] = SPAN_RULE
    if pairs is not None:
        extra["pairs"] = [[list(p.clean_ids), list(p.corrupted_ids), list(p.target_pos or ())] for p in pairs.pairs]
    key = _circuit_key(params, settings, extra)
    cache = ResultCache()
    hit = cache.get(key) if use_cache else None
    if hit is not None:
        return _read(hit)
    t0 = time.perf_counter()
    ps = pairs if pairs is not None else pair_set(clean, corrupted, params, use_cache)
    t_pairs = time.perf_counter() - t0
    lm = load_kept(model, settings.dtype)
    if len(ps.pairs) < 2:  # the model answers (almost) exactly as the other side: no signal, no circuit
        log.info("%s vs %s: only %d usable pairs (%d identical, %d too short): empty circuit", clean.label(),
                    corrupted.label(), len(ps.pairs), ps.n_identical, ps.n_short)
        result, per_ex, exact_pe = _empty(lm, ps, settings)
    else:  # another size of a cached circuit reuses its attribution and exact patching
        result, per_ex, exact_pe = _compute(lm, ps, settings, None if pairs is not None or not use_cache else
                                            resized_donor(lambda s: _circuit_key(params, s, extra), settings))
    result.model, result.clean, result.corrupted = model, clean.label(), corrupted.label()
    result.seconds["pairs_s"] = round(t_pairs, 3)
    result.seconds["total_s"] = round(time.perf_counter() - t0, 3)
    with cache.write(key, meta={"kind": "emergence-circuit", "model": model}) as tmp:
        meta = result.meta() | {"versions": library_versions(), "params": asdict(params),
                                "settings": asdict(settings)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        np.savez(tmp / "maps.npz", score=result.score, importance=result.importance, inclusion=result.inclusion,
                 exact=result.exact)
        torch.save(per_ex, tmp / "per_example.pt")
        torch.save(exact_pe, tmp / "exact_per_example.pt")
    return _read(cache.get(key) or cache.path(key), cached=False)


def check_pairs(n_pairs: int, n: int, seed: int = 0) -> list[int]:
    """The pairs (sorted positions among ``n_pairs``) exact head patching and faithfulness are
    computed on: all of them when ``n_pairs <= n``, else ``n`` drawn without replacement with
    ``seed`` (:data:`AGREEMENT`'s ``pairs``; the circuit itself uses every pair)."""
    if n_pairs <= n:
        return list(range(n_pairs))
    g = torch.Generator().manual_seed(seed)
    return sorted(torch.randperm(n_pairs, generator=g)[:n].tolist())


def _compute(lm, ps: PairSet, settings: CircuitConfig,
             donor: CircuitResult | None = None) -> tuple[CircuitResult, torch.Tensor, torch.Tensor]:
    """Attribute, cut at ``settings``' top-n, check; with a ``donor`` (the same circuit cached at
    another size: :func:`resized_donor`) its per-pair edge scores and exact effects are reused."""
    t0 = time.perf_counter()
    cm = CircuitModel(lm, gqa=settings.gqa)  # one functional model for every step of this circuit
    if donor is None:
        a = attribute(lm, ps.pairs, method=settings.method, metric=settings.metric, steps=settings.steps,
                      rule=settings.rule, gqa=settings.gqa, batch_size=settings.batch_size, keep_per_example=True,
                      progress=False, circuit_model=cm)
    else:
        a = _reused_attribution(lm, donor, settings)
    t_attr = time.perf_counter() - t0
    g = a.graph
    n = settings.n_for(g)
    c = top_n(a, n, settings.aggregation)
    check = check_pairs(len(ps.pairs), AGREEMENT["pairs"], settings.seed)
    sub = [ps.pairs[i] for i in check]
    t1 = time.perf_counter()
    f = evaluate_circuit(lm, sub, c, metric=settings.metric if settings.metric != "logit-diff" else "kl",
                         batch_size=PATCH_BATCH, circuit_model=cm)
    t_faith = time.perf_counter() - t1
    t2 = time.perf_counter()
    inc = inclusion(a.per_example, g, n, settings.n_boot, settings.seed, settings.aggregation)
    t_boot = time.perf_counter() - t2
    if donor is None:
        p = patch_nodes(lm, sub, metric=settings.metric, direction=AGREEMENT["direction"], gqa=settings.gqa,
                        batch_size=PATCH_BATCH, circuit_model=cm)
    else:
        pe = donor.exact_per_example()
        p = NodePatching([], pe.mean(0), pe, settings.metric, AGREEMENT["direction"], float("nan"), float("nan"),
                         float(donor.seconds.get("patch_s", 0.0)))
    s = agreement(agreement_scores(a, "node"), p.effects, max(1, len(c.heads())))

    res = CircuitResult(
        model="", clean="", corrupted="", n_layers=g.n_layers, n_heads=g.n_heads, top_n=n,
        heads=sort_heads(c.heads()), score=head_scores(a.scores.abs(), g),
        importance=head_importance(a.per_example, g, top_n=n).numpy().astype(np.float32), inclusion=inc,
        n_pairs=len(ps.pairs), n_identical=ps.n_identical, n_short=ps.n_short, faithfulness=float(f.normalized),
        circuit_kl=float(f.circuit_kl), n_edges=c.n_edges, question_index=list(ps.question_index),
        seconds={"attribute_s": round(t_attr, 3), "faithfulness_s": round(t_faith, 3),
                 "bootstrap_s": round(t_boot, 3), "patch_s": round(p.seconds, 3)},
        exact=p.effects.numpy().reshape(g.n_layers, g.n_heads).astype(np.float32),
        patch_spearman=float(s.spearman), patch_recall=float(s.recall), patch_index=check,
    )
    return res, a.per_example, p.per_example


def _reused_attribution(lm, donor: CircuitResult, settings: CircuitConfig) -> Attribution:
    """The donor's attribution rebuilt from its per-pair edge scores (mean and mean |.| over pairs)."""
    per = donor.per_example().float()
    g = Graph(lm.n_layers, lm.n_heads, lm.n_kv_heads, settings.gqa)
    return Attribution(g, per.mean(0), per.abs().mean(0), per.shape[0], settings.method, settings.metric,
                       steps=settings.steps, rule=settings.rule, batch_size=settings.batch_size or 0, per_example=per)


def resized_donor(key_of, settings: CircuitConfig) -> CircuitResult | None:
    """The cached circuit that differs from ``settings`` only in its size (the default size when
    ``settings.top_n`` is set), or None; ``key_of(settings)`` gives a circuit's cache key."""
    if settings.top_n is None:
        return None
    hit = ResultCache().get(key_of(replace(settings, top_n=None)))
    return _read(hit) if hit is not None else None


def _empty(lm, ps: PairSet, settings: CircuitConfig) -> tuple[CircuitResult, torch.Tensor, torch.Tensor]:
    """A circuit without signal: no heads, zero maps, faithfulness nan (recorded, not raised, so a
    sweep goes on past checkpoints that still answer like the base)."""
    g = Graph(lm.n_layers, lm.n_heads, lm.n_kv_heads, settings.gqa)
    zero = np.zeros((g.n_layers, g.n_heads), dtype=np.float32)
    res = CircuitResult(model="", clean="", corrupted="", n_layers=g.n_layers, n_heads=g.n_heads,
                        top_n=settings.n_for(g), heads=[], score=zero, importance=zero.copy(), inclusion=zero.copy(),
                        n_pairs=len(ps.pairs), n_identical=ps.n_identical, n_short=ps.n_short,
                        faithfulness=float("nan"), circuit_kl=float("nan"), n_edges=0,
                        question_index=list(ps.question_index), seconds={}, exact=zero.copy())
    return res, torch.zeros(0, g.n_src, g.n_dst), torch.zeros(0, g.n_layers * g.n_heads)


def _read(entry: Path, cached: bool = True) -> CircuitResult:
    meta = json.loads((entry / "meta.json").read_text())
    maps = np.load(entry / "maps.npz")
    keep = {k: meta[k] for k in ("model", "clean", "corrupted", "n_layers", "n_heads", "top_n", "heads", "n_pairs",
                                 "n_identical", "n_short", "faithfulness", "circuit_kl", "n_edges", "seconds",
                                 "question_index", "patch_spearman", "patch_recall")}
    keep["patch_index"] = meta.get("patch_index", list(range(meta["n_pairs"])))
    return CircuitResult(**keep, score=maps["score"], importance=maps["importance"], inclusion=maps["inclusion"],
                         exact=maps["exact"], cached=cached, path=entry)


# ------------------------------------------------------------------ checkpoints of a run

def run_checkpoints(run: str, profile: str | None = None) -> tuple[str, list[str]]:
    """``(base spec, checkpoint specs)`` of an organism run (``sft`` or ``organism/sft``)."""
    name = run.removeprefix("organism/")
    prof = profile or os.environ.get(zoo.PROFILE_ENV, "full")
    if "/" in name:
        prof, name = name.split("/", 1)
    table = config.profile(prof)
    if name not in table:
        raise ValueError(f"unknown organism run {name!r}; runs: {', '.join(table)}")
    if not table[name].parent:
        raise ValueError(f"organism run {name!r} is not post-trained from a base")
    steps = checkpoint_steps(zoo.run_dir(prof, name))
    if not steps:
        raise FileNotFoundError(f"organism run {prof}/{name} is not built; run `sparks zoo build --profile {prof}`")
    return f"organism/{prof}/{table[name].parent}@final", [f"organism/{prof}/{name}@{s}" for s in steps]


__all__ = ["PAPER_EDGES", "PAPER_TOP_N", "CircuitResult", "circuit_for", "circuit_heads", "head_scores",
           "inclusion", "pair_set", "run_checkpoints", "scaled_top_n"]
