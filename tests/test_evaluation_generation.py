"""Sampled generation: determinism by seed, greedy, batching, stop rules, hooks during generation."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from thinking_sparks.evaluation.generation import (
    Generation,
    GenerationStats,
    SamplingConfig,
    candidate_probs,
    filter_probs,
    generate,
    next_tokens,
    sample_seed,
)

PROMPTS = ["what is 3 plus 4 ?", "let's solve 1 + 2 * ( 3 - 4 )", "sum of 9 and 8", "7"]


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    """A tiny seeded Qwen2 with larger init than default, so greedy outputs are not degenerate."""
    from thinking_sparks.models import load_model
    from thinking_sparks.tiny import build_tiny

    out = build_tiny(tmp_path_factory.mktemp("gen-qwen2"), arch="qwen2", seed=0, init_range=0.4)
    return load_model(str(out), device="cpu")


@pytest.fixture(scope="module")
def prompts(lm):
    return [lm.chat(p) for p in PROMPTS]


def texts(gens: list[Generation]) -> list[str]:
    return [g.text for g in gens]


GREEDY = SamplingConfig(n=1, temperature=0.0, max_new_tokens=12, stop=())
SAMPLED = SamplingConfig(n=3, temperature=1.0, top_p=0.9, max_new_tokens=12, stop=(), seed=7, batch_size=5)


def test_config_validation():
    for bad in (dict(n=0), dict(temperature=-1), dict(top_p=0), dict(top_p=1.5), dict(top_k=-1),
                dict(min_p=1.0), dict(max_new_tokens=0), dict(batch_size=0)):
        with pytest.raises(ValueError):
            SamplingConfig(**bad)
    assert SamplingConfig(temperature=0).greedy


def test_output_shape_and_order(lm, prompts):
    gens = generate(lm, prompts, SAMPLED, progress=False)
    assert [(g.prompt_index, g.sample_index) for g in gens] == [(i, j) for i in range(4) for j in range(3)]
    for g in gens:
        assert 1 <= g.n_tokens <= SAMPLED.max_new_tokens
        assert g.finish_reason in {"eos", "stop", "length"}
        if g.finish_reason == "length":
            assert g.n_tokens == SAMPLED.max_new_tokens


def test_sampling_is_deterministic_by_seed(lm, prompts):
    a = generate(lm, prompts, SAMPLED, progress=False)
    b = generate(lm, prompts, SAMPLED, progress=False)
    c = generate(lm, prompts, dataclasses.replace(SAMPLED, seed=8), progress=False)
    assert a == b
    assert texts(a) != texts(c)
    # samples of one prompt differ from each other (independent per-sample generators)
    assert len(set(texts(a)[:3])) > 1


def test_sampling_does_not_depend_on_batch_size(lm, prompts):
    a = generate(lm, prompts, SAMPLED, progress=False)
    b = generate(lm, prompts, dataclasses.replace(SAMPLED, batch_size=1), progress=False)
    assert texts(a) == texts(b)


def test_greedy_equals_temperature_zero_and_hf_generate(lm, prompts):
    gens = generate(lm, prompts, GREEDY, progress=False)
    tok = lm.tokenizer
    for p, g in zip(prompts, gens):
        ids = lm.encode(p)
        ref = lm.hf_model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=GREEDY.max_new_tokens,
                                   do_sample=False, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
        new = ref[0, ids.shape[1]:].tolist()[: g.n_tokens]  # ours may stop earlier (<|endoftext|>)
        assert new == generate_ids(lm, p, g.n_tokens)  # HF's cached greedy == slow reference
        if g.finish_reason == "eos":
            new = new[:-1]
        assert tok.decode(new, skip_special_tokens=False) == g.text
    # n samples at temperature 0 are identical
    many = generate(lm, prompts[:1], dataclasses.replace(GREEDY, n=3), progress=False)
    assert len(set(texts(many))) == 1


def generate_ids(lm, prompt: str, n_tokens: int) -> list[int]:
    """Slow reference greedy decoding: full forward per step, no cache, no batching."""
    ids = lm.encode(prompt)
    out = []
    with torch.no_grad():
        for _ in range(n_tokens):
            nxt = lm.hf_model(ids).logits[0, -1].argmax().item()
            out.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    return out


def test_batched_equals_unbatched_for_greedy(lm, prompts):
    batched = generate(lm, prompts, dataclasses.replace(GREEDY, batch_size=4), progress=False)
    single = [generate(lm, [p], GREEDY, progress=False)[0] for p in prompts]
    assert texts(batched) == texts(single)
    assert len(set(texts(batched))) > 1  # the model is not degenerate


def test_token_id_prompts_match_text_prompts(lm, prompts):
    ids = [lm.encode(p)[0].tolist() for p in prompts]
    assert texts(generate(lm, ids, GREEDY, progress=False)) == texts(generate(lm, prompts, GREEDY, progress=False))


def test_stop_string_cuts_and_keeps_the_stop(lm, prompts):
    free = generate(lm, prompts, dataclasses.replace(SAMPLED, max_new_tokens=24), progress=False)
    # pick a word the free-running samples produce, use it as a stop string
    word = next(w for g in free for w in g.text.split()[1:] if w.isalpha())
    stopped = generate(lm, prompts, dataclasses.replace(SAMPLED, max_new_tokens=24, stop=(word,)), progress=False)
    hit = [s for s in stopped if s.finish_reason == "stop"]
    assert hit
    for s in hit:
        assert s.text.endswith(word) and s.text.count(word) == 1
    for f, s in zip(free, stopped):  # same seeds: the stopped text is a prefix of the free one
        assert f.text.startswith(s.text.rstrip(word).rstrip()) or s.finish_reason != "stop"


def test_eos_is_not_in_text(lm, prompts):
    gens = generate(lm, prompts, dataclasses.replace(SAMPLED, n=6, max_new_tokens=30), progress=False)
    assert any(g.finish_reason == "eos" for g in gens)
    for g in gens:
        assert "<|im_end|>" not in g.text  # the EOS token ends the sample and is dropped


def test_interventions_act_during_generation(lm, prompts):
    from thinking_sparks.interventions import output_projections, parse_edits

    base = generate(lm, prompts, GREEDY, progress=False)
    calls = []
    proj = output_projections(lm)[1]
    handle = proj.register_forward_pre_hook(lambda m, a: calls.append(tuple(a[0].shape)))
    stats = GenerationStats()
    try:
        same = generate(lm, prompts, GREEDY, progress=False, intervention=parse_edits(scale=["L1H0=1.0"]),
                        stats=stats)
    finally:
        handle.remove()
    assert texts(same) == texts(base)  # scale 1.0 is the identity
    assert len(calls) == stats.n_forward_steps > 1  # prefill + every decode step
    assert calls[0][-1] == lm.n_heads * lm.d_head and calls[-1][1] == 1  # decode steps: one new position
    every = ",".join(f"L{layer}H{h}" for layer in range(lm.n_layers) for h in range(lm.n_heads))
    ablated = generate(lm, prompts, GREEDY, progress=False, intervention=parse_edits(every))
    assert texts(ablated) != texts(base)
    # hooks are removed afterwards
    assert texts(generate(lm, prompts, GREEDY, progress=False)) == texts(base)


def test_context_manager_is_entered(lm, prompts):
    import contextlib

    events = []

    @contextlib.contextmanager
    def ctx():
        events.append("enter")
        yield
        events.append("exit")

    generate(lm, prompts[:1], GREEDY, progress=False, context=ctx())
    assert events == ["enter", "exit"]


def test_stats_are_filled(lm, prompts):
    stats = GenerationStats()
    gens = generate(lm, prompts, SAMPLED, progress=False, stats=stats)
    assert stats.n_new_tokens == sum(g.n_tokens for g in gens)
    assert stats.n_sequences == len(gens) and stats.seconds > 0


def test_filter_probs_top_k_top_p_min_p():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.15, 0.1]]))
    cfg = SamplingConfig(temperature=1.0, top_p=1.0)
    assert torch.allclose(filter_probs(logits, cfg), torch.tensor([[0.5, 0.25, 0.15, 0.1]]))
    p = filter_probs(logits, dataclasses.replace(cfg, top_k=2))
    assert torch.allclose(p, torch.tensor([[2 / 3, 1 / 3, 0.0, 0.0]]))
    p = filter_probs(logits, dataclasses.replace(cfg, top_p=0.7))  # 0.5 < 0.7, 0.75 >= 0.7 -> keep 2
    assert torch.allclose(p, torch.tensor([[2 / 3, 1 / 3, 0.0, 0.0]]))
    p = filter_probs(logits, dataclasses.replace(cfg, min_p=0.4))  # floor 0.2 -> keep 0.5, 0.25
    assert torch.allclose(p, torch.tensor([[2 / 3, 1 / 3, 0.0, 0.0]]))
    p = filter_probs(logits, dataclasses.replace(cfg, top_p=0.01))  # top token always survives
    assert torch.allclose(p, torch.tensor([[1.0, 0.0, 0.0, 0.0]]))


@pytest.mark.parametrize(
    "kw",
    [dict(top_p=1.0), dict(top_p=0.95), dict(top_p=0.5, temperature=0.6), dict(top_k=20, top_p=0.9),
     dict(top_k=5, top_p=1.0), dict(top_p=0.95, min_p=0.05), dict(top_p=0.999, temperature=2.0)],
)
def test_fast_candidates_match_full_vocab_reference(kw):
    torch.manual_seed(0)
    logits = torch.randn(6, 3000) * 4
    cfg = SamplingConfig(**{"temperature": 1.0, **kw})
    probs, ids = candidate_probs(logits, cfg)
    dense = torch.zeros(6, 3000).scatter_(-1, ids, probs)
    assert torch.allclose(dense, filter_probs(logits, cfg), atol=1e-6)


def test_next_tokens_uses_per_row_generators():
    logits = torch.zeros(2, 50)
    cfg = SamplingConfig(temperature=1.0, top_p=1.0)
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    a = next_tokens(logits, cfg, gens)
    gens2 = [torch.Generator().manual_seed(s) for s in (1, 2)]
    b = next_tokens(logits, cfg, gens2)
    assert a.tolist() == b.tolist()
    assert sample_seed(0, 1, 2) == sample_seed(0, 1, 2) != sample_seed(0, 2, 1)


def test_next_tokens_follow_the_filtered_distribution():
    logits = torch.log(torch.tensor([[0.05, 0.5, 0.3, 0.15]])).repeat(2000, 1)
    gens = [torch.Generator().manual_seed(s) for s in range(2000)]
    draws = next_tokens(logits, SamplingConfig(temperature=1.0, top_p=0.9), gens)  # nucleus: 1, 2, 3
    freq = torch.bincount(draws, minlength=4).float() / 2000
    assert freq[0] == 0
    assert torch.allclose(freq[1:], torch.tensor([0.5, 0.3, 0.15]) / 0.95, atol=0.04)


@pytest.mark.parametrize("fixture", ["tiny_qwen3", "tiny_llama"])
def test_other_architectures_batch_and_intervene(fixture, request):
    from thinking_sparks.interventions import parse_edits

    model = request.getfixturevalue(fixture)
    prompts = [model.chat(p) for p in PROMPTS[:3]]
    cfg = dataclasses.replace(GREEDY, max_new_tokens=6)
    batched = generate(model, prompts, cfg, progress=False)
    assert texts(batched) == [generate(model, [p], cfg, progress=False)[0].text for p in prompts]
    every = ",".join(f"L0H{h}" for h in range(model.n_heads))
    ablated = generate(model, prompts, cfg, progress=False, intervention=parse_edits(every))
    assert len(ablated) == len(prompts)


def test_ignore_eos_decodes_the_whole_budget(lm, prompts):
    free = generate(lm, prompts, dataclasses.replace(SAMPLED, max_new_tokens=20), progress=False)
    assert any(g.finish_reason == "eos" for g in free)
    fixed = generate(lm, prompts, dataclasses.replace(SAMPLED, max_new_tokens=20, ignore_eos=True), progress=False)
    assert all(g.n_tokens == 20 and g.finish_reason == "length" for g in fixed)
    for f, g in zip(free, fixed):  # same draws up to the first EOS
        if f.finish_reason == "eos":
            assert g.text.startswith(f.text)


def test_two_conditions_share_sampling_seeds(lm, prompts):
    """Conditions on the same problems draw sample j of problem i from the same generator, so a paired
    difference is paired by problem and by sampling seed: an identity intervention (scale 1.0) at
    temperature 0.6 gives exactly the unmodified model's samples (issue 21)."""
    from thinking_sparks.interventions import parse_edits

    sampled = SamplingConfig(n=3, temperature=0.6, top_p=0.95, max_new_tokens=6, seed=7)
    plain = generate(lm, prompts, sampled, progress=False)
    same = generate(lm, prompts, sampled, progress=False, intervention=parse_edits(scale=["L1H0=1.0"]))
    assert texts(same) == texts(plain)
    assert len(set(texts(plain))) > len(prompts)  # the samples do differ by j
