"""Edge attribution: EAP, EAP-IG (inputs / activations), clean-corrupted, and exact patching.

For one example, with ``Delta_u = z_u(corrupted) - z_u(clean)`` (source outputs from two plain
runs, ``[pos, d_model]``) and ``g_v(run) = dL/d(input of destination v)``::

    eap                  <Delta_u, g_v(clean)>
    clean-corrupted      <Delta_u, (g_v(clean) + g_v(corrupted)) / 2>
    eap-ig-inputs        <Delta_u, mean_k g_v(embeddings = e_corr + a_k (e_clean - e_corr))>
    eap-ig-joint-activations
                         <Delta_u, mean_k g_v(every source output = z'_u + a_k (z_u - z'_u))>
                         (values replaced straight-through, gradients flow as in the model)
    exact                L(clean run, this one edge reading z_u(corrupted)) - L(clean run)

``<.,.>`` sums over all positions and d_model; scores are averaged over examples.

``eap-ig-joint-activations`` interpolates *every* source output at once along one path from the
corrupted to the clean activations (so, unlike ``eap-ig-inputs``, its scores into ``logits`` sum
to ``L(corrupted) - L(clean)``). It is not the reference library's ``ig-activations`` (EAP-IG's
``get_scores_ig_activations``), which interpolates one layer's outputs at a time, with every other
layer computed from the clean input, and averages over layers as well as steps; that method is
not implemented here, and the old name ``eap-ig-activations`` is refused with this explanation.  Riemann rules
for ``a_k``: ``left`` k/m, k=0..m-1 (the reference library's default: includes the corrupted
point, excludes the clean one), ``right`` k/m, k=1..m (the papers' formula), ``midpoint``
(k+1/2)/m.  Everything is accumulated in float32 whatever the model dtype.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import Tensor
from tqdm.auto import tqdm

from thinking_sparks.circuits.forward import CircuitModel, Patch, RunOutput
from thinking_sparks.circuits.grads import DstGradAccumulator
from thinking_sparks.circuits.graph import Graph
from thinking_sparks.circuits.metrics import check_metric, loss
from thinking_sparks.circuits.pairs import Pair, PairBatch, collate
from thinking_sparks.circuits.prefixed import SharedPrefix

log = logging.getLogger(__name__)

METHODS = ("eap", "eap-ig-inputs", "eap-ig-joint-activations", "clean-corrupted", "exact")
#: names that are refused with a reason
RENAMED = {"eap-ig-activations": "renamed 'eap-ig-joint-activations': it interpolates every source at once, "
                                 "unlike the reference library's ig-activations (one layer at a time)"}


def check_method(method: str) -> None:
    """Raise ``ValueError`` for a method this engine does not compute."""
    if method in RENAMED:
        raise ValueError(f"method {method!r} was {RENAMED[method]}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
RULES = ("left", "right", "midpoint")


def riemann_alphas(steps: int, rule: str = "left") -> list[float]:
    """Interpolation points a_k in [0, 1] (0 = corrupted, 1 = clean)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if rule == "left":
        return [k / steps for k in range(steps)]
    if rule == "right":
        return [k / steps for k in range(1, steps + 1)]
    if rule == "midpoint":
        return [(k + 0.5) / steps for k in range(steps)]
    raise ValueError(f"unknown Riemann rule {rule!r}; choose one of {', '.join(RULES)}")


@dataclass
class Attribution:
    """Edge scores. ``scores``/``abs_scores``: ``[n_src, n_dst]`` float32 (mean over examples of
    the signed / absolute per-example score; 0 off the graph's edges)."""

    graph: Graph
    scores: Tensor
    abs_scores: Tensor
    n_examples: int
    method: str
    metric: str
    steps: int | None = None
    rule: str | None = None
    seconds: float = 0.0
    batch_size: int = 0
    extra: dict = field(default_factory=dict)
    per_example: Tensor | None = None  # [n_examples, n_src, n_dst] (keep_per_example=True), pair order

    def score(self, src: str, dst: str) -> float:
        return float(self.scores[self.graph.src_index(src), self.graph.dst_index(dst)])

    def to_frame(self):
        """Tidy DataFrame: src, dst, score, abs_score (|mean|), mean_abs_score, rank (by |score|)."""
        mask = self.graph.edge_mask()
        d_idx, s_idx = mask.T.nonzero(as_tuple=True)
        sc = self.scores[s_idx, d_idx]
        df = pd.DataFrame(
            {
                "src": [self.graph.src_names[i] for i in s_idx.tolist()],
                "dst": [self.graph.dst_names[i] for i in d_idx.tolist()],
                "score": sc.numpy(),
                "abs_score": sc.abs().numpy(),
                "mean_abs_score": self.abs_scores[s_idx, d_idx].numpy(),
            }
        )
        df["rank"] = df["abs_score"].rank(ascending=False, method="first").astype(int)
        return df


def _batches(pairs: list[Pair], batch_size: int) -> list[PairBatch]:
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].clean_ids))  # less padding
    return [
        collate([pairs[i] for i in order[s : s + batch_size]], order[s : s + batch_size])
        for s in range(0, len(pairs), batch_size)
    ]


class _Runner:
    """Per-batch state shared by the methods."""

    def __init__(self, cm: CircuitModel, batch: PairBatch, metric: str, need_corrupted: bool = True,
                 shared_prefix: bool = False) -> None:
        self.cm, self.metric = cm, metric
        self.batch = batch.to(cm.device)
        self.cols = self.batch.cols
        self.emb_clean = cm.embed(self.batch.clean)
        self.emb_corr = cm.embed(self.batch.corrupted)
        self.valid = self.batch.valid
        self.prefix: SharedPrefix | None = None
        with torch.no_grad():
            clean = self._clean_run(shared_prefix)
        self.clean_logprobs = torch.log_softmax(clean.logits.float(), -1) if metric == "kl" else None
        self.src_clean = clean.sources
        self.clean_loss = self.loss(clean.logits)
        self.src_corr = self.delta = None
        if need_corrupted:
            with torch.no_grad():
                self._set_corrupted(self._run(self.emb_corr, record=True).sources)

    def _clean_run(self, shared_prefix: bool) -> RunOutput:
        """The clean run (no grad), recording every source; ``shared_prefix``: later runs start at
        the batch's first differing position (:mod:`.prefixed`), sources and inputs kept from there."""
        if not shared_prefix:
            return self.cm.run(self.emb_clean, record=True, positions=self.cols)
        b = self.batch
        self.prefix, out = SharedPrefix.clean_run(self.cm, self.emb_clean, b.clean, b.corrupted, self.cols)
        s = self.prefix.s
        self.valid, self.emb_clean, self.emb_corr = self.valid[:, s:], self.emb_clean[:, s:], self.emb_corr[:, s:]
        return RunOutput(out.logits, out.sources[:, s:])

    def _run(self, emb: Tensor, **kw) -> RunOutput:
        """A run from embeddings ``emb`` with logits at the metric columns."""
        if self.prefix is not None:
            return self.prefix.run(self.cm, emb, **kw)
        return self.cm.run(emb, positions=self.cols, **kw)

    def _set_corrupted(self, sources: Tensor) -> None:
        self.src_corr = sources
        b, p, S, D = sources.shape
        # delta laid out [b, S, p, D] (contiguous) for the batched matmuls in `contract`
        delta = torch.empty(b, S, p, D, device=sources.device, dtype=torch.float32)
        torch.sub(sources.permute(0, 2, 1, 3), self.src_clean.permute(0, 2, 1, 3), out=delta)
        if not bool(self.valid.all()):
            delta *= self.valid[:, None, :, None]
        self.delta = delta
    def loss(self, logits: Tensor) -> Tensor:
        return loss(self.metric, logits, self.batch, self.clean_logprobs)

    def grads(self, acc: DstGradAccumulator, emb: Tensor, weight: float, override=None, record=False) -> None:
        """Add the destination-input gradients of the summed loss at embeddings ``emb`` to ``acc``."""
        e = emb.detach().requires_grad_(True)
        with torch.enable_grad():
            out = self._run(e, capture=True, override=override, record=record)
            total = self.loss(out.logits).sum()
            inputs = acc.inputs(out.captured)
            g = torch.autograd.grad(total, inputs, allow_unused=True)
        g = [torch.zeros_like(t) if gi is None else gi for t, gi in zip(inputs, g, strict=True)]
        acc.add(out.captured, g, weight)
        if record:
            self._set_corrupted(out.sources)

    def contract(self, acc: DstGradAccumulator) -> Tensor:
        """Per-example scores ``[b, S, N]`` from accumulated destination gradients."""
        g = self.cm.graph
        b, S, p, D = self.delta.shape
        dt = self.delta.view(b, S, p * D)
        out = torch.zeros(b, g.n_src, g.n_dst, device=self.delta.device)
        for li in range(self.cm.n_layers):
            lg = acc.layer_grads(li).permute(1, 2, 0)  # [b, p * D, n_attn + 1]; last column = MLP input
            sl = g.attn_dst_slice(li)
            na, nm = g.n_upstream_attn(li), g.n_upstream_mlp(li)
            both = torch.bmm(dt[:, :na], lg)  # [b, na, n_attn + 1]
            out[:, :na, sl] = both[:, :, :-1]
            out[:, :na, g.mlp_dst(li)] = both[:, :, -1]
            out[:, na:nm, g.mlp_dst(li)] = torch.bmm(dt[:, na:nm], lg[:, :, -1:]).squeeze(-1)
        out[:, :, g.logits_dst] = torch.bmm(dt, acc.logits_grad().reshape(b, p * D, 1)).squeeze(-1)
        return out

    @staticmethod
    def points(method: str, steps: int, rule: str) -> list[tuple[float, float]]:
        """(alpha, weight) of each gradient run; alpha 1 = clean input, 0 = corrupted."""
        if method == "eap":
            return [(1.0, 1.0)]
        if method == "clean-corrupted":
            return [(0.0, 0.5), (1.0, 0.5)]
        return [(a, 1.0 / steps) for a in riemann_alphas(steps, rule)]

    def gradient_scores(self, method: str, steps: int, rule: str) -> Tensor:
        acc = DstGradAccumulator(self.cm)
        d = self.emb_clean - self.emb_corr
        for alpha, weight in self.points(method, steps, rule):
            if method == "eap-ig-joint-activations":
                self.grads(acc, self.emb_clean, weight, override=self._interp(alpha))
            elif alpha == 0.0:  # the corrupted run itself: also record its source outputs
                self.grads(acc, self.emb_corr, weight, record=self.src_corr is None)
            elif alpha == 1.0:
                self.grads(acc, self.emb_clean, weight)
            else:
                self.grads(acc, self.emb_corr + alpha * d, weight)
        if self.src_corr is None:
            with torch.no_grad():
                self._set_corrupted(self._run(self.emb_corr, record=True).sources)
        return self.contract(acc)

    def _interp(self, alpha: float):
        zc, zx = self.src_corr, self.src_clean

        def override(start: int, outs: Tensor) -> Tensor:
            n = outs.shape[2]
            want = zc[:, :, start : start + n] + alpha * (zx[:, :, start : start + n] - zc[:, :, start : start + n])
            return outs + (want.to(outs.dtype) - outs).detach()

        return override

    def exact_scores(self, chunk: int | None = None) -> Tensor:
        """Single-edge patching, ``chunk`` edges per forward (stacked along the batch; >1 pays off
        only where forwards are launch-bound, e.g. tiny models on GPU)."""
        g = self.cm.graph
        dev = self.delta.device
        b = self.delta.shape[0]
        edges = g.edge_mask(dev).nonzero().tolist()
        chunk = chunk or 1
        out = torch.zeros(b, g.n_src, g.n_dst, device=dev)
        with torch.no_grad():
            for start in range(0, len(edges), chunk):
                part = edges[start : start + chunk]
                n = len(part)
                m = torch.zeros(n, b, g.n_src, g.n_dst, device=dev)
                for i, (s, d) in enumerate(part):
                    m[i, :, s, d] = 1.0
                def rep(t, n=n):
                    return t.repeat(n, *([1] * (t.dim() - 1)))

                logits = self.cm.run(rep(self.emb_clean), patch=Patch(m.reshape(n * b, g.n_src, g.n_dst),
                                                                        rep(self.src_corr)), positions=self.cols).logits
                losses = loss(self.metric, logits, _repeat_batch(self.batch, n),
                              None if self.clean_logprobs is None else rep(self.clean_logprobs))
                diff = (losses.view(n, b) - self.clean_loss).T  # [b, n]
                for i, (s, d) in enumerate(part):
                    out[:, s, d] = diff[:, i]
        return out


def _repeat_batch(batch: PairBatch, n: int) -> PairBatch:
    """The batch stacked ``n`` times (for stacked patch runs)."""
    def rep(t):
        return t.repeat(n, *([1] * (t.dim() - 1)))

    return PairBatch(rep(batch.clean), rep(batch.corrupted), rep(batch.valid), rep(batch.target),
                     rep(batch.correct), rep(batch.wrong), batch.index * n)

def attribute(
    model,
    pairs: list[Pair],
    *,
    method: str = "eap-ig-inputs",
    metric: str = "kl",
    steps: int = 5,
    rule: str = "left",
    gqa: str = "ungrouped",
    batch_size: int | None = None,
    progress: bool = True,
    circuit_model: CircuitModel | None = None,
    keep_per_example: bool = False,
    shared_prefix: bool = True,
) -> Attribution:
    """Score every edge of the graph on ``pairs``.

    Args:
        model: a ``LoadedModel`` or ``TransformerBridge`` (Llama-family weights).
        pairs: equal-length clean / corrupted pairs.
        method: one of :data:`METHODS`.
        metric: ``kl``, ``logit-diff`` or ``answer-logprob`` (see ``metrics``).
        steps, rule: IG steps and Riemann rule (IG methods only).
        gqa: ``ungrouped`` (k/v input per query head) or ``grouped`` (per KV group).
        batch_size: examples per batch; default from the memory planner.
        keep_per_example: also return every example's scores (for per-example circuits and
            head importance, paper §A.6); ``n x n_src x n_dst`` float32 on the CPU.
        shared_prefix: ``eap``, ``eap-ig-inputs``, ``clean-corrupted``: run the gradient passes
            only from the batch's first position where clean and corrupted differ (the same
            scores, :mod:`.prefixed`); False runs every position (the reference).
    """
    check_method(method)
    riemann_alphas(steps, rule)  # validates
    check_metric(metric)
    if not pairs:
        raise ValueError("no pairs")
    cm = circuit_model if circuit_model is not None else CircuitModel(model, gqa=gqa)
    if cm.graph.gqa != gqa:
        raise ValueError(f"circuit_model was built for gqa={cm.graph.gqa!r}, not {gqa!r}")
    if batch_size is None:
        from thinking_sparks.circuits.memory import plan_batch_size

        batch_size = plan_batch_size(cm, max(len(p.clean_ids) for p in pairs), method, n_examples=len(pairs),
                                     steps=steps if method.startswith("eap-ig") else 2)
    prefix = shared_prefix and method in ("eap", "eap-ig-inputs", "clean-corrupted")
    g = cm.graph
    total = torch.zeros(g.n_src, g.n_dst)
    total_abs = torch.zeros(g.n_src, g.n_dst)
    per_example = torch.zeros(len(pairs), g.n_src, g.n_dst) if keep_per_example else None
    t0 = time.perf_counter()
    for batch in tqdm(_batches(pairs, batch_size), desc=f"{method} {metric}", disable=not progress):
        check_metric(metric, batch)
        zero_first = method in ("clean-corrupted", "eap-ig-inputs") and 0.0 in [a for a, _ in _Runner.points(method, steps, rule)]
        r = _Runner(cm, batch, metric, need_corrupted=not zero_first, shared_prefix=prefix)
        per_ex = r.exact_scores() if method == "exact" else r.gradient_scores(method, steps, rule)
        total += per_ex.sum(0).cpu()
        total_abs += per_ex.abs().sum(0).cpu()
        if per_example is not None:
            per_example[batch.index] = per_ex.cpu() * g.edge_mask()
    n = len(pairs)
    mask = g.edge_mask()
    return Attribution(
        graph=g,
        scores=(total / n) * mask,
        abs_scores=(total_abs / n) * mask,
        n_examples=n,
        method=method,
        metric=metric,
        steps=steps if method.startswith("eap-ig") else None,
        rule=rule if method.startswith("eap-ig") else None,
        seconds=time.perf_counter() - t0,
        batch_size=batch_size,
        per_example=per_example,
    )


def node_scores(attribution: Attribution) -> dict[str, float]:
    """Source-node attribution: the sum of a node's outgoing edge scores.  For the gradient
    methods this equals the node-level score (patching the node's output everywhere), since the
    gradient w.r.t. a node's output is the sum of the gradients at the inputs it feeds."""
    total = attribution.scores.sum(1)
    return {n: float(v) for n, v in zip(attribution.graph.src_names, total.tolist(), strict=True)}


def exact_node_scores(
    model,
    pairs: list[Pair],
    *,
    metric: str = "logit-diff",
    nodes: list[str] | None = None,
    gqa: str = "ungrouped",
    batch_size: int = 32,
    circuit_model: CircuitModel | None = None,
) -> dict[str, float]:
    """Activation patching of whole nodes: mean ``L(node's output corrupted) - L(clean)``.

    ``nodes`` defaults to every head.  The node's output is replaced by its corrupted-run value
    in every destination it feeds; everything downstream is recomputed.
    """
    check_metric(metric)
    cm = circuit_model if circuit_model is not None else CircuitModel(model, gqa=gqa)
    g = cm.graph
    if nodes is None:
        nodes = [f"L{l}H{h}" for l in range(g.n_layers) for h in range(g.n_heads)]
    idx = [g.src_index(n) for n in nodes]
    mask = g.edge_mask(cm.device).float()
    sums = torch.zeros(len(nodes), dtype=torch.float64)
    with torch.no_grad():
        for batch in _batches(pairs, batch_size):
            check_metric(metric, batch)
            r = _Runner(cm, batch, metric)
            for i, s in enumerate(idx):
                m = torch.zeros_like(mask)
                m[s] = mask[s]
                logits = cm.run(r.emb_clean, patch=Patch(m, r.src_corr), positions=r.cols).logits
                sums[i] += float((r.loss(logits) - r.clean_loss).sum())
    return {n: float(v) / len(pairs) for n, v in zip(nodes, sums.tolist(), strict=True)}
