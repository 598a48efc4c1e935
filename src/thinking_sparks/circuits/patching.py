"""Exact activation patching, batched: whole source nodes (heads) and single edges.

Two directions (``L`` is the per-example loss of :mod:`.metrics`, ``kl`` against the clean run):

* ``noise`` (default): run the *clean* input; the patched node (edge) takes its *corrupted*-run
  value.  effect = ``L(patched) - L(clean)``: what EAP / EAP-IG scores estimate.
* ``denoise``: run the *corrupted* input; the patched node (edge) takes its *clean*-run value.
  effect = ``L(corrupted) - L(patched)`` (the loss it restores; same sign convention).

Node patching (:func:`patch_nodes`) replaces a source's output (a head's ``hook_z`` seen through
its slice of ``o_proj``, i.e. the head's write into the residual) in the residual stream, so every
destination downstream reads the replaced value and everything after it is recomputed.  Many
nodes are patched in one forward: the pair batch is stacked once per node along the batch axis,
and the forward's ``override`` swaps the one source of each stacked block.  Head patches resume
from their layer (the unpatched run cached) and compute only the positions after the clean and
corrupted inputs part (:mod:`.resume`): exact, and on a chat model's long shared prompt far cheaper.

Edge patching (:func:`patch_edges`) replaces a sender's contribution into *one* destination's
input only (:class:`~.forward.Patch`, one edge per stacked block), for every edge of the graph or
a given subset (:func:`sample_edges`: stratified by attribution rank, the top-n all included).

Agreement of attributions with exact effects: :func:`agreement` (Spearman, top-k recall).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm.auto import tqdm

from thinking_sparks.circuits.attribute import _batches, _repeat_batch, _Runner
from thinking_sparks.circuits.circuit import spearman
from thinking_sparks.circuits.forward import CircuitModel
from thinking_sparks.circuits.metrics import check_metric, loss
from thinking_sparks.circuits.pairs import Pair
from thinking_sparks.circuits.resume import attn_z as _attn_z
from thinking_sparks.circuits.resume import finish as _finish
from thinking_sparks.circuits.resume import prefix_kv, resume, shared_prefix
from thinking_sparks.circuits.resume import trace as _trace
from thinking_sparks.circuits.weights import rms_norm

log = logging.getLogger(__name__)

DIRECTIONS = ("noise", "denoise")
#: stacked rows x positions per patched forward (bounds memory: the forward keeps every source)
ROW_BUDGET = 8192


def check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown patching direction {direction!r}; choose one of {', '.join(DIRECTIONS)}")


@dataclass
class NodePatching:
    """Exact node effects. ``per_example``: ``[n_pairs, n_nodes]`` float32 (pair order);
    ``effects``: ``[n_nodes]``, their mean over pairs."""

    nodes: list[str]
    effects: Tensor
    per_example: Tensor
    metric: str
    direction: str
    clean_loss: float       # mean L(clean run)
    corrupted_loss: float   # mean L(corrupted run)
    seconds: float

    def as_dict(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.nodes, self.effects.tolist(), strict=True)}


@dataclass
class EdgePatching:
    """Exact edge effects. ``edges``: ``[n, 2]`` long (src index, dst index into the graph);
    ``per_example``: ``[n_pairs, n]``; ``effects``: ``[n]`` mean over pairs."""

    graph: object
    edges: Tensor
    effects: Tensor
    per_example: Tensor
    metric: str
    direction: str
    seconds: float

    def names(self) -> list[tuple[str, str]]:
        g = self.graph
        return [(g.src_names[s], g.dst_names[d]) for s, d in self.edges.tolist()]

    def dense(self) -> Tensor:
        """``[n_src, n_dst]`` with the patched effects, nan where an edge was not patched."""
        out = torch.full((self.graph.n_src, self.graph.n_dst), float("nan"))
        out[self.edges[:, 0], self.edges[:, 1]] = self.effects
        return out


class _Base:
    """The run being patched and the values patched in, for one pair batch."""

    def __init__(self, r: _Runner, direction: str) -> None:
        self.r = r
        if direction == "noise":
            self.emb, self.other, self.target, self.ref = r.emb_clean, r.emb_corr, r.src_corr, r.clean_loss
        else:
            self.emb, self.other, self.target = r.emb_corr, r.emb_clean, r.src_clean
        with torch.no_grad():
            corr = r.loss(r.cm.run(r.emb_corr, positions=r.cols).logits)
        self.corrupted_loss = corr
        if direction == "denoise":
            self.ref = corr
        self.sign = 1.0 if direction == "noise" else -1.0

    def effect(self, logits: Tensor, n: int) -> Tensor:
        """Stacked logits of ``n`` blocks -> effects ``[b, n]``."""
        r = self.r
        lp = None if r.clean_logprobs is None else r.clean_logprobs.repeat(n, 1, 1)
        losses = loss(r.metric, logits, _repeat_batch(r.batch, n), lp).view(n, -1)
        return (self.sign * (losses - self.ref)).T


def _chunk(b: int, p: int, chunk: int | None) -> int:
    return chunk or max(1, ROW_BUDGET // max(1, b * p))


def patch_nodes(model, pairs: list[Pair], *, nodes: list[str] | dict[str, list[str]] | None = None,
                metric: str = "kl", direction: str = "noise", gqa: str = "ungrouped", batch_size: int = 16,
                chunk: int | None = None, circuit_model: CircuitModel | None = None,
                progress: bool = False, prefix: bool = True) -> NodePatching:
    """Patch each node (default: every head) alone, all pairs; see the module docstring.

    Args:
        nodes: source node names (``L{l}H{h}``, ``MLP{l}``, ``input``), or label -> node names to
            patch together (e.g. ``{"L3": ["L3H0", .., "L3H7"]}``: the whole attention output).
        chunk: nodes (groups) patched per forward (default: as many as :data:`ROW_BUDGET` allows).
        prefix: heads only: skip the positions where clean and corrupted agree from the start
            (exact; :mod:`.resume`).  False recomputes them (the reference).
    """
    check_metric(metric)
    check_direction(direction)
    if not pairs:
        raise ValueError("no pairs")
    cm = circuit_model if circuit_model is not None else CircuitModel(model, gqa=gqa)
    g = cm.graph
    nodes = nodes or [f"L{l}H{h}" for l in range(g.n_layers) for h in range(g.n_heads)]
    groups = {n: [n] for n in nodes} if not isinstance(nodes, dict) else dict(nodes)
    labels = list(groups)
    sel_all = torch.zeros(len(labels), g.n_src, dtype=torch.bool, device=cm.device)  # [n_groups, n_src]
    for i, label in enumerate(labels):
        sel_all[i, [g.src_index(n) for n in groups[label]]] = True
    by_layer = _head_groups(g, sel_all)
    per = torch.zeros(len(pairs), len(labels))
    clean_sum = corr_sum = 0.0
    t0 = time.perf_counter()
    with torch.no_grad():
        for batch in tqdm(_batches(pairs, batch_size), desc=f"patch nodes ({direction})", disable=not progress):
            check_metric(metric, batch)
            # heads only: the patched values come from the traced runs, the corrupted sources are not read
            base = _Base(_Runner(cm, batch, metric, need_corrupted=by_layer is None), direction)
            clean_sum += float(base.r.clean_loss.sum())
            corr_sum += float(base.corrupted_loss.sum())
            b, p = batch.clean.shape
            step = _chunk(b, p, chunk)
            if by_layer is not None:  # heads only: patch hook_z, start at the layer from the cached run
                run, other = _trace(cm, base.emb), _trace(cm, base.other)
                s = shared_prefix(base.r.batch.clean, base.r.batch.corrupted, base.r.cols) if prefix else 0
                pkv = prefix_kv(cm, run, s) if s else None
                step = _chunk(b, int(base.r.cols.max()) + 1 - s, chunk)
                for layer, (cols, heads) in by_layer.items():
                    for start in range(0, len(cols), step):
                        hm = heads[start : start + step]
                        logits = resume(cm, run, other, layer, hm.repeat_interleave(b, 0), base.r.cols, s, pkv)
                        per[torch.tensor(batch.index)[:, None], cols[start : start + step][None, :]] = (
                            base.effect(logits, len(hm)).cpu())
                continue
            for start in range(0, len(labels), step):
                sel = sel_all[start : start + step]
                n = len(sel)
                out = cm.run(base.emb.repeat(n, 1, 1), override=_swap(sel.repeat_interleave(b, 0), base.target, n),
                             positions=base.r.cols)
                per[batch.index, start : start + n] = base.effect(out.logits, n).cpu()
    return NodePatching(labels, per.mean(0), per, metric, direction, clean_sum / len(pairs), corr_sum / len(pairs),
                        time.perf_counter() - t0)


def _head_groups(g, sel: Tensor) -> dict[int, tuple[Tensor, Tensor]] | None:
    """If every group (row of ``sel`` ``[n_groups, n_src]``) is heads of one layer: layer -> (group
    indices ``[m]`` long, head masks ``[m, H]`` bool); else None."""
    out: dict[int, tuple[list[int], list[Tensor]]] = {}
    for i, row in enumerate(sel):
        hits = [l for l in range(g.n_layers) if bool(row[g.head_src(l, 0) : g.head_src(l, 0) + g.n_heads].any())]
        if len(hits) != 1:
            return None
        heads = row[g.head_src(hits[0], 0) : g.head_src(hits[0], 0) + g.n_heads]
        if int(heads.sum()) != int(row.sum()):  # also other nodes (input, MLPs)
            return None
        cols, masks = out.setdefault(hits[0], ([], []))
        cols.append(i)
        masks.append(heads)
    return {l: (torch.tensor(c), torch.stack(m)) for l, (c, m) in sorted(out.items())}


def _swap(rows: Tensor, target: Tensor, n: int):
    """``override`` for :meth:`CircuitModel.run` on ``n`` stacked copies of a batch: stacked row
    ``i`` writes ``target`` (``[b, p, n_src, D]``, un-stacked) for the sources where ``rows[i]``
    (``[n * b, n_src]`` bool) is set; the other sources keep their computed values."""

    def override(start: int, outs: Tensor) -> Tensor:  # outs [n b, p, k, D]: sources start .. start + k - 1
        k = outs.shape[2]
        m = rows[:, start : start + k]  # [n b, k]
        if not bool(m.any()):
            return outs
        t = target[:, :, start : start + k].to(outs.dtype).repeat(n, 1, 1, 1)
        return torch.where(m[:, None, :, None], t, outs)

    return override


def patch_edges(model, pairs: list[Pair], *, edges: Tensor | None = None, metric: str = "kl",
                direction: str = "noise", gqa: str = "ungrouped", batch_size: int = 16, chunk: int | None = None,
                circuit_model: CircuitModel | None = None, progress: bool = False) -> EdgePatching:
    """Patch each edge alone (default: every edge of the graph), all pairs.

    Args:
        edges: ``[n, 2]`` long (src, dst) graph indices.  Edges are patched in blocks of one
            destination layer; each forward starts at that layer from the cached unpatched run.
        chunk: edges per forward (default: from :data:`ROW_BUDGET`).
    """
    check_metric(metric)
    check_direction(direction)
    if not pairs:
        raise ValueError("no pairs")
    cm = circuit_model if circuit_model is not None else CircuitModel(model, gqa=gqa)
    g = cm.graph
    mask = g.edge_mask()
    if edges is None:
        edges = mask.T.nonzero()[:, [1, 0]]  # destination-major
    edges = edges.long().cpu()
    if not bool(mask[edges[:, 0], edges[:, 1]].all()):
        raise ValueError("edges: some (src, dst) pairs are not edges of the graph")
    order = torch.argsort(edges[:, 1], stable=True)  # destination-major
    blocks: dict[tuple[int, str], list[int]] = {}  # (layer, attn | mlp | logits) -> edge indices
    for i in order.tolist():
        blocks.setdefault(_dst_block(g, int(edges[i, 1])), []).append(i)
    per = torch.zeros(len(pairs), len(edges))
    t0 = time.perf_counter()
    with torch.no_grad():
        for batch in tqdm(_batches(pairs, batch_size), desc=f"patch edges ({direction})", disable=not progress):
            check_metric(metric, batch)
            base = _Base(_Runner(cm, batch, metric), direction)
            run = _trace(cm, base.emb)
            delta = base.target - (base.r.src_clean if direction == "noise" else base.r.src_corr)  # [b, p, S, D]
            b, p = batch.clean.shape
            step = _chunk(b, p, chunk)
            for (layer, kind), idx in blocks.items():
                for start in range(0, len(idx), step):
                    part = torch.tensor(idx[start : start + step])
                    logits = _resume_edges(cm, run, delta, layer, kind, edges[part], base.r.cols)
                    per[torch.tensor(batch.index)[:, None], part[None, :]] = base.effect(logits, len(part)).cpu()
    return EdgePatching(g, edges, per.mean(0), per, metric, direction, time.perf_counter() - t0)


def _dst_block(g, d: int) -> tuple[int, str]:
    """Where destination ``d`` reads: (layer, ``attn`` | ``mlp``) or (n_layers, ``logits``)."""
    if d == g.logits_dst:
        return g.n_layers, "logits"
    layer = d // g.dst_per_layer
    return layer, "mlp" if d == g.mlp_dst(layer) else "attn"


def _qkv_masks(g, layer: int, dst: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per edge, the query heads whose q / k / v read the patched input: three ``[n, H]`` bool."""
    local = dst - g.attn_dst_slice(layer).start  # [n]: q heads, then k inputs, then v inputs
    H, K = g.n_heads, g.n_kv_inputs
    heads = torch.arange(H)
    q = local[:, None] == heads
    who = heads if g.gqa == "ungrouped" else heads // g.group_size  # k / v input each head reads
    k = (local[:, None] - H) == who
    v = (local[:, None] - H - K) == who
    return q, k, v


def _resume_edges(cm: CircuitModel, run, delta: Tensor, layer: int, kind: str, edges: Tensor, cols: Tensor) -> Tensor:
    """Logits ``[n b, len(cols), vocab]`` of ``run`` with, in stacked block ``j``, the input of
    destination ``edges[j, 1]`` shifted by source ``edges[j, 0]``'s ``delta`` (``[b, p, S, D]``:
    patched-in minus own output); layers before the destination's are reused."""
    rs, zs, rope = run
    n, (b, p, _) = len(edges), rs[0].shape
    dev = rs[0].device
    d_rows = delta[:, :, edges[:, 0].to(dev)].permute(2, 0, 1, 3).reshape(n * b, p, -1).to(rs[0].dtype)
    if kind == "logits":
        final = _finish(cm, cm.n_layers - 1, rs[-1], zs[-1]).repeat(n, 1, 1)
        return cm.unembed((final + d_rows)[:, cols])
    lw = cm.layers[layer]
    x = rs[layer].repeat(n, 1, 1)
    if kind == "mlp":
        attn = torch.nn.functional.linear(zs[layer].flatten(2), lw.wo_flat)
        mid = (rs[layer] + (attn if lw.bo is None else attn + lw.bo)).repeat(n, 1, 1)
        resid = mid + cm._mlp_fns[layer](rms_norm(mid + d_rows, lw.ln2, lw.ln2_eps))
    else:
        H, G = cm.n_heads, cm.n_kv_heads
        parts = []
        for inp in (x, x + d_rows):
            qkv = torch.nn.functional.linear(rms_norm(inp, lw.ln1, lw.ln1_eps), lw.w_qkv, lw.b_qkv)
            q, k, v = qkv.view(n * b, p, H + 2 * G, -1).split([H, G, G], dim=2)
            parts.append((q, cm._expand_kv(k), cm._expand_kv(v)))
        masks = [m.to(dev).repeat_interleave(b, 0)[:, None, :, None] for m in _qkv_masks(cm.graph, layer, edges[:, 1])]
        q, k, v = (torch.where(m, new, old) for m, old, new in zip(masks, parts[0], parts[1], strict=True))
        resid = _finish(cm, layer, x, cm._attention(lw, q, k, v, *rope))
    for li in range(layer + 1, cm.n_layers):
        resid = _finish(cm, li, resid, _attn_z(cm, li, resid, rope))
    return cm.unembed(resid[:, cols])


def sample_edges(scores: Tensor, edge_mask: Tensor, n: int = 1000, top_n: int = 0, strata: int = 10,
                 seed: int = 0) -> Tensor:
    """Edges to patch: the ``top_n`` best by ``|scores|``, plus ``n`` more drawn evenly from
    ``strata`` bins of the |score| rank (so weak edges are represented as well as strong ones).

    Args:
        scores: ``[n_src, n_dst]`` attribution scores; edge_mask: ``[n_src, n_dst]`` bool.
    Returns:
        ``[m, 2]`` long (src, dst), ``m <= top_n + n``; every edge if the graph has fewer.
    """
    all_edges = edge_mask.nonzero()
    if len(all_edges) <= n + top_n:
        return all_edges
    key = scores[all_edges[:, 0], all_edges[:, 1]].abs()
    ranked = all_edges[torch.argsort(key, descending=True, stable=True)]
    chosen, rest = [ranked[:top_n]], ranked[top_n:]
    gen = torch.Generator().manual_seed(seed)
    bins = torch.tensor_split(torch.arange(len(rest)), strata)
    for i, b in enumerate(bins):
        pick = b[torch.randperm(len(b), generator=gen)[: n // strata + (i < n % strata)]]
        chosen.append(rest[pick])
    return torch.cat(chosen)


@dataclass
class Agreement:
    """How well attributions rank exact effects. ``recall``: share of the ``k`` largest exact
    effects (by |effect|) among the ``k`` largest attributions (by |score|)."""

    spearman: float        # signed values
    spearman_abs: float    # |values|
    recall: float
    k: int
    n: int


def top_k(values: Tensor, k: int) -> set[int]:
    """Indices of the ``k`` largest ``|values|`` (ties: lower index first)."""
    order = sorted(range(len(values)), key=lambda i: (-abs(float(values[i])), i))
    return set(order[:k])


def agreement(attributed, exact, k: int) -> Agreement:
    """Spearman (signed and absolute) and top-``k`` recall of two aligned 1-D sequences."""
    a = torch.as_tensor(attributed, dtype=torch.float64).flatten()
    e = torch.as_tensor(exact, dtype=torch.float64).flatten()
    if a.shape != e.shape:
        raise ValueError(f"agreement: {a.numel()} attributions vs {e.numel()} exact effects")
    if not 1 <= k <= len(a):
        raise ValueError(f"agreement: k must be in 1..{len(a)}, got {k}")
    recall = len(top_k(a, k) & top_k(e, k)) / k
    return Agreement(spearman(a.tolist(), e.tolist()), spearman(a.abs().tolist(), e.abs().tolist()), recall, k, len(a))
