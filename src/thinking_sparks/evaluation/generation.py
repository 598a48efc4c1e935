"""Batched sampled generation with a KV cache, with head interventions active.

The loop runs the plain Hugging Face model (``lm.hf_model``, never the TransformerBridge): head
interventions (:mod:`thinking_sparks.interventions`) are forward pre-hooks on each attention
block's ``o_proj`` and fire at every decoding step, prompt and new tokens alike. The cache object
is ours (a ``DynamicCache``) and is passed under whichever argument name the installed
transformers release uses (``past_key_values`` up to 5.23, ``cache`` from 5.24).

Determinism: sample ``j`` of prompt ``i`` draws from its own ``torch.Generator`` seeded from
``(seed, i, j)``, so a sample does not depend on the batch it ran in nor on the batch size (up to
float differences from padding). ``temperature == 0`` is greedy decoding.

Stopping: per row, at an EOS-like token (the tokenizer's EOS, ``<|im_end|>``, ``<|endoftext|>``,
the generation config's EOS ids), at a stop string (default ``</answer>``; kept in the text), or
after ``max_new_tokens``. Finished rows leave the batch (their KV-cache rows are dropped).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from thinking_sparks.heads.edits import apply

log = logging.getLogger(__name__)

#: Token strings treated as end-of-sequence when the vocabulary has them.
EOS_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|end_of_text|>", "<|eot_id|>", "</s>")


@dataclass(frozen=True)
class SamplingConfig:
    """How completions are drawn (paper §5.10: n 4..64, T 0.6, top-p 0.95).

    Attributes:
        n: samples per prompt (>= 1).
        temperature: softmax temperature; 0 means greedy (argmax) decoding.
        top_p: nucleus mass kept (1.0 = off).
        top_k: keep only the k most likely tokens (0 = off).
        min_p: drop tokens whose probability is below ``min_p`` x the top probability (0 = off).
        max_new_tokens: generation budget per sample.
        stop: stop strings; generation ends after the first one (kept in the completion).
        seed: base seed; sample j of prompt i uses a generator seeded from (seed, i, j).
        batch_size: sequences decoded together (samples of one or more prompts).
        ignore_eos: decode exactly ``max_new_tokens`` per sample (EOS tokens are kept as text and
            stop strings still apply); for benchmarks that need equal work across conditions.
    """

    n: int = 1
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = 0
    min_p: float = 0.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ("</answer>",)
    seed: int = 0
    batch_size: int = 16
    ignore_eos: bool = False

    def __post_init__(self) -> None:
        checks = [
            (self.n >= 1, f"n must be >= 1, got {self.n}"),
            (self.temperature >= 0, f"temperature must be >= 0, got {self.temperature}"),
            (0 < self.top_p <= 1, f"top_p must be in (0, 1], got {self.top_p}"),
            (self.top_k >= 0, f"top_k must be >= 0 (0 = off), got {self.top_k}"),
            (0 <= self.min_p < 1, f"min_p must be in [0, 1), got {self.min_p}"),
            (self.max_new_tokens >= 1, f"max_new_tokens must be >= 1, got {self.max_new_tokens}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)
        object.__setattr__(self, "stop", tuple(self.stop))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class Generation:
    """One sampled completion.

    Attributes:
        prompt_index: position of its prompt in the input list.
        sample_index: j in 0..n-1, in generation order (success@k reads this order).
        text: the completion without the prompt, cut after the first stop string, no EOS token.
        n_tokens: tokens generated (EOS included when it ended the sample).
        finish_reason: "eos", "stop" (a stop string) or "length".
    """

    prompt_index: int
    sample_index: int
    text: str
    n_tokens: int
    finish_reason: str


@dataclass
class GenerationStats:
    """Throughput of one :func:`generate` call."""

    n_sequences: int = 0
    n_new_tokens: int = 0
    n_forward_steps: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.n_new_tokens / self.seconds if self.seconds > 0 else float("nan")



def sample_seed(seed: int, prompt_index: int, sample_index: int) -> int:
    """A well-mixed 63-bit seed for sample ``sample_index`` of prompt ``prompt_index``."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, prompt_index, sample_index])
    return int(state.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def stop_token_ids(tokenizer: Any, hf_model: torch.nn.Module | None = None) -> set[int]:
    """Ids that end a sample: the tokenizer's EOS, known end-of-turn tokens, the config's EOS."""
    ids: set[int] = set()
    if getattr(tokenizer, "eos_token_id", None) is not None:
        ids.add(int(tokenizer.eos_token_id))
    vocab = tokenizer.get_vocab()
    ids.update(int(vocab[t]) for t in EOS_TOKENS if t in vocab)
    gen_cfg = getattr(hf_model, "generation_config", None)
    eos = getattr(gen_cfg, "eos_token_id", None)
    if eos is not None:
        ids.update(int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos]))
    return ids


def filter_probs(logits: torch.Tensor, cfg: SamplingConfig) -> torch.Tensor:
    """Sampling distribution from next-token logits, after temperature, top-k, top-p, min-p.

    The plain full-vocabulary reference (HF's warper order); :func:`candidate_probs` is the fast
    path that generation uses, and tests check that the two agree.

    Args:
        logits: ``[batch, vocab]`` (any float dtype; computed in float32).
    Returns:
        ``[batch, vocab]`` float32 probabilities, each row summing to 1.
    """
    logits = logits.float() / cfg.temperature
    vocab = logits.shape[-1]
    if 0 < cfg.top_k < vocab:
        kth = torch.topk(logits, cfg.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if cfg.top_p < 1.0:
        sorted_p, order = torch.sort(probs, dim=-1, descending=True)
        mass_before = sorted_p.cumsum(dim=-1) - sorted_p  # the top token always stays
        sorted_p = sorted_p.masked_fill(mass_before >= cfg.top_p, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p)
    if cfg.min_p > 0:
        floor = probs.max(dim=-1, keepdim=True).values * cfg.min_p
        probs = probs.masked_fill(probs < floor, 0.0)
    return probs / probs.sum(dim=-1, keepdim=True)


def candidate_probs(logits: torch.Tensor, cfg: SamplingConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The drawable tokens and their probabilities: :func:`filter_probs` without a full-vocab sort.

    With top-k, only the k best logits are kept; with top-p, the smallest top-K (K = 64, 256, ...,
    vocab) whose mass reaches ``top_p`` in every row holds the whole nucleus. A full sort of a
    49k vocabulary costs ~50 ms per step on one CPU thread; this costs a few.

    Args:
        logits: ``[batch, vocab]``.
    Returns:
        ``(probs, ids)``, both ``[batch, K]``: float32 probabilities (rows sum to 1; dropped
        tokens have 0) and the vocabulary ids they belong to.
    """
    logits = logits.float() / cfg.temperature
    n_rows, vocab = logits.shape
    if 0 < cfg.top_k < vocab:
        values, ids = torch.topk(logits, cfg.top_k, dim=-1)  # sorted, descending
        probs = torch.softmax(values, dim=-1)
    elif cfg.top_p < 1.0:
        full = torch.softmax(logits, dim=-1)
        k = min(64, vocab)
        while True:
            probs, ids = torch.topk(full, k, dim=-1)
            if k == vocab or bool((probs.sum(dim=-1) >= cfg.top_p).all()):
                break
            k = min(vocab, k * 4)
    else:
        probs = torch.softmax(logits, dim=-1)
        ids = torch.arange(vocab, device=logits.device).expand(n_rows, vocab)
    if cfg.top_p < 1.0:
        mass_before = probs.cumsum(dim=-1) - probs  # probs are sorted here; the top token stays
        probs = probs.masked_fill(mass_before >= cfg.top_p, 0.0)
    if cfg.min_p > 0:
        floor = probs.max(dim=-1, keepdim=True).values * cfg.min_p
        probs = probs.masked_fill(probs < floor, 0.0)
    return probs / probs.sum(dim=-1, keepdim=True), ids


def next_tokens(logits: torch.Tensor, cfg: SamplingConfig, generators: Sequence[torch.Generator]) -> torch.Tensor:
    """One token per row: argmax when greedy, else a draw from each row's own generator.

    Args:
        logits: ``[batch, vocab]``.
    Returns:
        ``[batch]`` long token ids.
    """
    if cfg.greedy:
        return logits.argmax(dim=-1)
    probs, ids = candidate_probs(logits, cfg)
    picks = torch.stack([torch.multinomial(probs[r], 1, generator=g) for r, g in enumerate(generators)])
    return ids.gather(-1, picks).squeeze(-1)


def _contexts(context: Any) -> contextlib.ExitStack:
    stack = contextlib.ExitStack()
    contexts: Iterable[ContextManager] = context if isinstance(context, (list, tuple)) else [context]
    for ctx in contexts:
        if ctx is not None:
            stack.enter_context(ctx)
    return stack


@functools.lru_cache(maxsize=32)
def _cache_arg(forward_cls: type) -> str:
    """The keyword a model's forward takes its KV cache by: ``cache`` (transformers >= 5.24) or
    ``past_key_values`` (earlier releases)."""
    params = inspect.signature(forward_cls.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def generate(
    model: Any,
    prompts: Sequence[str] | Sequence[Sequence[int]],
    cfg: SamplingConfig,
    *,
    intervention: Any = None,
    context: ContextManager | Sequence[ContextManager] | None = None,
    progress: bool = True,
    stats: GenerationStats | None = None,
) -> list[Generation]:
    """``cfg.n`` completions for every prompt.

    Args:
        model: a :class:`~thinking_sparks.models.LoadedModel` (anything with ``hf_model``,
            ``tokenizer``).
        prompts: prompt texts, already chat-templated (tokenized without adding special tokens,
            so no second BOS), or token-id lists.
        cfg: sampling settings.
        intervention: an :class:`~thinking_sparks.interventions.Intervention` (heads zeroed, mean-
            ablated or scaled) active for every batch; its hooks are removed afterwards.
        context: extra context manager(s) entered around generation.
        progress: show a tqdm bar over sequences.
        stats: filled in with token counts and wall time when given.
    Returns:
        ``len(prompts) * cfg.n`` generations ordered by (prompt_index, sample_index).
    """
    hf_model, tok = model.hf_model, model.tokenizer
    if tok is None:
        raise ValueError("generation needs a tokenizer to decode completions")
    device = next(hf_model.parameters()).device
    encoded = [
        list(p) if not isinstance(p, str) else tok(p, add_special_tokens=False).input_ids for p in prompts
    ]
    for i, ids in enumerate(encoded):
        if not ids:
            raise ValueError(f"prompt {i} is empty")
    work = [(i, j) for i in range(len(encoded)) for j in range(cfg.n)]
    # Longest prompts first: fewer pad tokens per batch; results are re-sorted at the end.
    work.sort(key=lambda ij: -len(encoded[ij[0]]))
    stops = stop_token_ids(tok, hf_model)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else min(stops) if stops else 0
    stats = stats if stats is not None else GenerationStats()
    out: list[Generation] = []
    was_training = hf_model.training
    start, seconds_before = time.perf_counter(), stats.seconds
    bar = tqdm(total=len(work), desc="generate", unit="seq", disable=not progress, leave=False)
    try:
        hf_model.eval()
        with _contexts(context), torch.inference_mode():
            for b0 in range(0, len(work), cfg.batch_size):
                batch = work[b0 : b0 + cfg.batch_size]
                gens = []
                for i, j in batch:
                    g = torch.Generator(device=device)
                    g.manual_seed(sample_seed(cfg.seed, i, j))
                    gens.append(g)
                rows = [encoded[i] for i, _ in batch]

                def on_step(step: int, n_live: int) -> None:
                    if progress and step % 16 == 0:
                        stats.seconds = seconds_before + time.perf_counter() - start
                        bar.set_postfix(step=step, live=n_live, tok_s=f"{stats.tokens_per_second:.1f}")

                with apply(hf_model, intervention):  # hooks live for this batch only
                    results = _generate_batch(hf_model, tok, rows, gens, cfg, stops, pad_id, device, stats, on_step)
                for (i, j), (ids, reason) in zip(batch, results):
                    out.append(Generation(i, j, _completion_text(tok, ids, reason, stops, cfg.stop),
                                          len(ids), reason))
                bar.update(len(batch))
                stats.seconds = seconds_before + time.perf_counter() - start
                bar.set_postfix(tok_s=f"{stats.tokens_per_second:.1f}")
    finally:
        bar.close()
        hf_model.train(was_training)
    stats.n_sequences += len(work)
    stats.seconds = seconds_before + time.perf_counter() - start
    out.sort(key=lambda g: (g.prompt_index, g.sample_index))
    return out


def _completion_text(tok: Any, ids: list[int], reason: str, stops: set[int], stop_strings: Sequence[str]) -> str:
    if reason == "eos" and ids and ids[-1] in stops:
        ids = ids[:-1]
    text = tok.decode(ids, skip_special_tokens=False)
    cuts = [text.find(s) + len(s) for s in stop_strings if s and s in text]
    return text[: min(cuts)] if cuts else text


def _generate_batch(
    hf_model: torch.nn.Module,
    tok: Any,
    rows: list[list[int]],
    gens: list[torch.Generator],
    cfg: SamplingConfig,
    stops: set[int],
    pad_id: int,
    device: torch.device,
    stats: GenerationStats,
    on_step: Callable[[int, int], None] | None = None,
) -> list[tuple[list[int], str]]:
    """Decode one left-padded batch with a KV cache; rows leave the batch as they finish."""
    n_rows, width = len(rows), max(len(r) for r in rows)
    input_ids = torch.full((n_rows, width), pad_id, dtype=torch.long)
    mask = torch.zeros((n_rows, width), dtype=torch.long)
    for r, ids in enumerate(rows):
        input_ids[r, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        mask[r, width - len(ids) :] = 1
    input_ids, mask = input_ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # [batch, pos]; pads sit at 0
    from transformers import DynamicCache  # deferred: transformers is heavy or optional, loaded only here

    cache = DynamicCache(config=hf_model.config)
    cache_kw = {_cache_arg(type(hf_model)): cache}
    outputs = hf_model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                       use_cache=True, logits_to_keep=1, **cache_kw)
    logits = outputs.logits[:, -1, :]
    next_pos = positions[:, -1] + 1  # [batch]
    stats.n_forward_steps += 1

    max_stop_chars = max((len(s) for s in cfg.stop), default=0)
    generated: list[list[int]] = [[] for _ in rows]
    reasons = ["length"] * n_rows
    active = list(range(n_rows))  # original row index of each live batch row
    for step in range(cfg.max_new_tokens):
        chosen = next_tokens(logits, cfg, [gens[a] for a in active])
        stats.n_new_tokens += len(active)
        token_list = chosen.tolist()
        keep: list[int] = []
        for k, (a, t) in enumerate(zip(active, token_list)):
            generated[a].append(t)
            if t in stops and not cfg.ignore_eos:
                reasons[a] = "eos"
            elif max_stop_chars and _ends_with_stop(tok, generated[a], cfg.stop, max_stop_chars):
                reasons[a] = "stop"
            else:
                keep.append(k)
        if not keep or step == cfg.max_new_tokens - 1:
            break
        if len(keep) < len(active):
            index = torch.tensor(keep, dtype=torch.long, device=device)
            cache.batch_select_indices(index)
            mask, next_pos, chosen = mask[index], next_pos[index], chosen[index]
            active = [active[k] for k in keep]
        mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
        outputs = hf_model(input_ids=chosen[:, None], attention_mask=mask, position_ids=next_pos[:, None],
                           use_cache=True, **cache_kw)
        logits = outputs.logits[:, -1, :]
        next_pos = next_pos + 1
        stats.n_forward_steps += 1
        if on_step is not None:
            on_step(step + 1, len(active))
    return list(zip(generated, reasons))


def _ends_with_stop(tok: Any, ids: list[int], stop: Sequence[str], max_chars: int) -> bool:
    """Whether a stop string appears in the decoded tail (a window of ``max_chars + 2`` tokens)."""
    tail = tok.decode(ids[-(max_chars + 2) :], skip_special_tokens=False)
    return any(s and s in tail for s in stop)
