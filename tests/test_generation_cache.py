"""KV-cached generation equals a slow cache-free reference, on every architecture, with and without
head interventions, batched with left padding and unbatched.

These are the tests that would have caught transformers 5.24 renaming the attention's
``past_key_values`` argument to ``cache`` (TransformerLens 4.3's bridge kept reading the old name,
so cached decoding through the bridge attended to one token only).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from thinking_sparks.evaluation.generation import SamplingConfig, generate
from thinking_sparks.interventions import output_projections, parse_edits

PROMPTS = ["what is 3 plus 4 ?", "let's solve 1 + 2 * ( 3 - 4 ) step by step", "sum of 9 and 8", "7"]
GREEDY = SamplingConfig(n=1, temperature=0.0, max_new_tokens=10, stop=(), batch_size=4)


def _lively(tmp_path_factory, arch: str):
    """A tiny seeded model with a large init, so greedy continuations are long and varied."""
    from thinking_sparks.models import load_model
    from thinking_sparks.tiny import build_tiny

    path = build_tiny(tmp_path_factory.mktemp(f"lively-{arch}"), arch=arch, seed=1, init_range=0.4, n_layers=3)
    return load_model(str(path), device="cpu")


@pytest.fixture(scope="module", params=["qwen2", "qwen3", "llama"])
def lm(request, tmp_path_factory):
    return _lively(tmp_path_factory, request.param)


def reference_greedy(lm, prompt_ids: list[int], n_tokens: int, intervention=None) -> list[int]:
    """Full forward over the whole sequence at every step: no cache, no padding, no batching.

    An intervention is applied by editing ``o_proj``'s columns (zero / scale) for the duration,
    independently of the hooks under test.
    """
    d_head = lm.d_head
    projs = output_projections(lm)
    saved = [p.weight.detach().clone() for p in projs]
    try:
        with torch.no_grad():
            for edit in (intervention.edits if intervention else ()):
                cols = slice(edit.head * d_head, (edit.head + 1) * d_head)
                projs[edit.layer].weight[:, cols] *= 0.0 if edit.mode == "zero" else edit.factor
            ids = torch.tensor([prompt_ids])
            out = []
            for _ in range(n_tokens):
                nxt = int(lm.hf_model(ids).logits[0, -1].argmax())
                out.append(nxt)
                ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
        return out
    finally:
        with torch.no_grad():
            for p, w in zip(projs, saved):
                p.weight.copy_(w)


def _text(lm, ids: list[int]) -> str:
    return lm.tokenizer.decode(ids, skip_special_tokens=False)


INTERVENTIONS = {
    "none": None,
    "zero": "L1H0,L1H2,L0H1",
    "scale": ["L1H1=0.5", "L2H0=1.3"],
}


@pytest.mark.parametrize("which", list(INTERVENTIONS))
@pytest.mark.parametrize("batch_size", [1, 4])
def test_cached_greedy_equals_cache_free_reference(lm, which, batch_size):
    spec = INTERVENTIONS[which]
    iv = None if spec is None else parse_edits(spec) if which == "zero" else parse_edits(scale=spec)
    prompts = [lm.encode(lm.chat(p))[0].tolist() for p in PROMPTS]
    cfg = dataclasses.replace(GREEDY, batch_size=batch_size)
    gens = generate(lm, prompts, cfg, intervention=iv, progress=False)
    lengths = {len(p) for p in prompts}
    assert len(lengths) > 1  # the batch really is left-padded
    for p, g in zip(prompts, gens):
        ref = reference_greedy(lm, p, g.n_tokens, iv)
        if g.finish_reason == "eos":
            ref = ref[:-1]
        assert g.text == _text(lm, ref), f"prompt {PROMPTS[prompts.index(p)]!r}"
    assert max(g.n_tokens for g in gens) >= 6  # decoding ran several steps through the cache


def test_hf_generate_with_cache_equals_without(lm):
    """The plain HF model's own cached ``generate`` agrees with its cache-free one."""
    ids = lm.encode(lm.chat(PROMPTS[1]))
    kw = dict(attention_mask=torch.ones_like(ids), max_new_tokens=10, do_sample=False,
              pad_token_id=lm.tokenizer.pad_token_id, eos_token_id=lm.tokenizer.eos_token_id)
    with torch.no_grad():
        cached = lm.hf_model.generate(ids, use_cache=True, **kw)
        free = lm.hf_model.generate(ids, use_cache=False, **kw)
    assert cached.tolist() == free.tolist()
    assert cached.shape[1] > ids.shape[1] + 3


def test_interventions_change_the_text_and_undo(lm):
    prompts = [lm.chat(p) for p in PROMPTS]
    base = [g.text for g in generate(lm, prompts, GREEDY, progress=False)]
    every = ",".join(f"L{l}H{h}" for l in range(lm.n_layers) for h in range(lm.n_heads))
    ablated = [g.text for g in generate(lm, prompts, GREEDY, intervention=parse_edits(every), progress=False)]
    assert ablated != base
    assert [g.text for g in generate(lm, prompts, GREEDY, progress=False)] == base


# ---- real models: SmolLM2 (slow) and an organism checkpoint (tiny profile) -------------------------------------------


def _check_cached_greedy(lm) -> None:
    """Batched KV-cache greedy decoding of two prompts equals the reference (no cache, one token at a time)."""
    prompts = [lm.encode(lm.chat(q))[0].tolist() for q in ("What is 7 + 5?", "What is 12 * 3 - 4?")]
    cfg = dataclasses.replace(GREEDY, max_new_tokens=12, batch_size=2)
    gens = generate(lm, prompts, cfg, progress=False)
    for p, g in zip(prompts, gens):
        ref = reference_greedy(lm, p, g.n_tokens)
        if g.finish_reason == "eos":
            ref = ref[:-1]
        assert g.text == _text(lm, ref)


@pytest.mark.slow
def test_smollm2_cached_greedy_equals_reference(smollm2):
    _check_cached_greedy(smollm2)


def test_organism_checkpoint_cached_greedy_equals_reference(tiny_zoo):
    """The organism case, on the tiny profile's SFT checkpoint (built by the ``tiny_zoo`` fixture)."""
    from thinking_sparks.models import load_model

    _check_cached_greedy(load_model("organism/tiny/sft@final", device="cpu", dtype="float32"))
