"""Reference means for mean ablation: each head's average output, position by position.

Mean ablation (paper §A.7, defined there but not used) replaces head ``h``'s output at token
position ``t`` by its mean over a reference set, ``E_{x' ~ D_ref}[a_{h,t}(x')]``. Here the output
is the head's slice of its layer's ``o_proj`` input (the hook point of :mod:`.core`), and the mean
at position ``t`` averages every reference sequence that is at least ``t + 1`` tokens long.

Positions with little support are pooled: the means keep one row per position while at least
``min(min_support, n_sequences)`` sequences reach it; the last row is the mean over *every*
reference token from that position on, and serves every later position too (generated tokens past
the reference length included). Use prompts *with completions* as the reference (e.g. the model's
own greedy answers, :func:`reference_texts`) so that generated positions have their own means.

    texts = reference_texts(lm, "organism/easy", limit=32)
    iv = mean_ablation(lm, ["L1H0", "L2H3"], texts)
    with apply(lm, iv):
        ...
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import torch

from thinking_sparks.evaluation.datasets import load_eval_set
from thinking_sparks.evaluation.generation import SamplingConfig
from thinking_sparks.evaluation.harness import EvalParams, build_prompt, run_eval
from thinking_sparks.heads import parse_head
from thinking_sparks.heads.edits import HeadEdit, Intervention, output_projections

log = logging.getLogger(__name__)

__all__ = ["mean_ablation", "means_key", "reference_means", "reference_texts"]


def _encode(model: Any, prompts: Sequence[str] | Sequence[Sequence[int]]) -> list[list[int]]:
    tok = getattr(model, "tokenizer", None)
    out = []
    for i, p in enumerate(prompts):
        if isinstance(p, str):
            if tok is None:
                raise ValueError("reference prompts are text but the model has no tokenizer; pass token ids")
            ids = tok(p, add_special_tokens=False).input_ids
        else:
            ids = [int(t) for t in p]
        if not ids:
            raise ValueError(f"reference prompt {i} is empty")
        out.append(ids)
    if not out:
        raise ValueError("mean ablation needs at least one reference prompt")
    return out


def reference_means(model: Any, prompts: Sequence[str] | Sequence[Sequence[int]], heads: Sequence[str], *,
                    batch_size: int = 8, min_support: int = 4) -> dict[str, torch.Tensor]:
    """Each head's mean output by position over the reference sequences.

    Args:
        model: a :class:`~thinking_sparks.models.LoadedModel` (or a plain HF causal LM with token ids).
        prompts: reference texts (tokenized without special tokens, like generation prompts:
            apply the chat template first) or token-id lists.
        heads: head names (``L3H1``).
        batch_size: sequences per forward (right-padded; padding does not enter the means).
        min_support: positions reached by fewer sequences than this (or than all of them, if
            fewer) are pooled into the last row.
    Returns:
        ``{head: [n_pos, d_head]}`` float32 tensors on the CPU.
    """
    if min_support < 1:
        raise ValueError(f"min_support must be >= 1, got {min_support}")
    hf = getattr(model, "hf_model", model)
    cfg = hf.config
    n_layers, n_heads = int(cfg.num_hidden_layers), int(cfg.num_attention_heads)
    d_head = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // n_heads)
    parsed = {h: parse_head(h) for h in dict.fromkeys(heads)}
    bad = [h for h, (layer, head) in parsed.items() if layer >= n_layers or head >= n_heads]
    if bad:
        raise ValueError(f"head(s) {', '.join(bad)} not in this model ({n_layers} layers x {n_heads} heads)")
    if not parsed:
        return {}
    seqs = _encode(model, prompts)
    width = max(len(s) for s in seqs)
    sums = {h: torch.zeros(width, d_head, dtype=torch.float64) for h in parsed}
    counts = torch.zeros(width, dtype=torch.float64)
    device = next(hf.parameters()).device
    projs = output_projections(hf)
    current: dict[str, torch.Tensor] = {}

    def make_hook(layer: int):
        mine = [(h, slice(hd * d_head, (hd + 1) * d_head)) for h, (ly, hd) in parsed.items() if ly == layer]

        def hook(module: torch.nn.Module, args: tuple) -> None:
            x = args[0].detach().double().cpu()  # [batch, pos, n_heads * d_head]
            w = current["mask"]  # [batch, pos]
            for name, span in mine:
                sums[name][: x.shape[1]] += (x[..., span] * w[..., None]).sum(0)

        return hook

    layers = sorted({layer for layer, _ in parsed.values()})
    handles = [projs[layer].register_forward_pre_hook(make_hook(layer)) for layer in layers]
    was_training = hf.training
    try:
        hf.eval()
        with torch.no_grad():
            for b0 in range(0, len(seqs), batch_size):
                batch = seqs[b0:b0 + batch_size]
                n = max(len(s) for s in batch)
                ids = torch.zeros(len(batch), n, dtype=torch.long)
                mask = torch.zeros(len(batch), n, dtype=torch.long)
                for r, s in enumerate(batch):  # right padding: column == real position
                    ids[r, :len(s)] = torch.tensor(s)
                    mask[r, :len(s)] = 1
                current["mask"] = mask.double()
                counts[:n] += mask.sum(0).double()
                hf(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False)
    finally:
        for h in handles:
            h.remove()
        hf.train(was_training)
    support = min(min_support, len(seqs))
    n_pos = int((counts >= support).sum())  # counts never increase with position
    out = {}
    for name, total in sums.items():
        rows = total[:n_pos].clone()
        rows[n_pos - 1] = total[n_pos - 1:].sum(0)
        c = counts[:n_pos].clone()
        c[n_pos - 1] = counts[n_pos - 1:].sum()
        out[name] = (rows / c[:, None]).float()
    log.info("reference means of %d head(s) from %d sequences: %d positions (min support %d)",
             len(out), len(seqs), n_pos, support)
    return out


def means_key(model: Any, prompts: Sequence[str] | Sequence[Sequence[int]], min_support: int = 4) -> str:
    """A stable name for reference means: model fingerprint (+ dtype) and a hash of the reference set."""
    hf = getattr(model, "hf_model", model)
    dtype = str(next(hf.parameters()).dtype).replace("torch.", "")
    blob = json.dumps([p if isinstance(p, str) else [int(t) for t in p] for p in prompts]).encode()
    ref = hashlib.sha256(blob).hexdigest()[:16]
    fp = getattr(model, "fingerprint", None) or type(hf).__name__
    return f"{fp}/{dtype}/ref-{ref}-n{len(prompts)}-s{min_support}"


def mean_ablation(model: Any, heads: Sequence[str], prompts: Sequence[str] | Sequence[Sequence[int]], *,
                  batch_size: int = 8, min_support: int = 4, label: str = "") -> Intervention:
    """An :class:`Intervention` that mean-ablates ``heads`` with means over ``prompts``."""
    means = reference_means(model, prompts, heads, batch_size=batch_size, min_support=min_support)
    edits = tuple(HeadEdit(*parse_head(h), "mean") for h in means)
    return Intervention(edits, means=means, label=label, means_key=means_key(model, prompts, min_support))


def reference_texts(model: Any, dataset: str, *, limit: int | None = 32, max_new_tokens: int = 256,
                    system: str | None = None, enable_thinking: bool | None = None,
                    batch_size: int = 16) -> list[str]:
    """Prompts of an eval set followed by the model's own greedy completions (no intervention).

    The default reference set of ``--ablate-mode mean``: it covers prompt and generated positions
    alike, in the format the model writes. The greedy run goes through the evaluation cache.
    """
    greedy = SamplingConfig(n=1, temperature=0.0, max_new_tokens=max_new_tokens, batch_size=batch_size)
    params = EvalParams(dataset=dataset, sampling=greedy, limit=limit, system=system, enable_thinking=enable_thinking,
                        n_boot=0)
    problems = load_eval_set(dataset, limit=limit)
    result = run_eval(model, params, progress=False, problems=problems)
    by_id = {p.id: build_prompt(model, p, params) for p in problems}
    return [by_id[row.problem_id] + row.completion for row in result.samples.itertuples()]
