"""Model specs -> TransformerBridge: numerics, tokenizer traps, fingerprints, clear errors."""

from __future__ import annotations

import shutil

import pytest
import torch

from thinking_sparks.heads import all_heads, head_name, head_write_norms, parse_head, sort_heads
from thinking_sparks.models import ModelNotFound, fingerprint, load_hf, load_model, resolve_spec


@pytest.mark.parametrize("fixture", ["tiny_qwen2", "tiny_qwen3", "tiny_llama"])
def test_bridge_matches_hf_logits(fixture, request):
    lm = request.getfixturevalue(fixture)
    ids = torch.randint(0, lm.config.vocab_size, (2, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        bridge_logits = lm.bridge(ids)
        hf_logits = lm.hf_model(ids).logits
    assert bridge_logits.shape == (2, 9, lm.config.vocab_size)
    assert torch.allclose(bridge_logits, hf_logits, atol=1e-5)
    assert lm.n_kv_heads < lm.n_heads  # GQA is kept, not ungrouped at load time


def test_word_level_tokenizer_loads_as_fast_and_no_second_bos(tiny_qwen2):
    tok = tiny_qwen2.tokenizer
    assert type(tok).__name__ in ("PreTrainedTokenizerFast", "TokenizersBackend")
    text = tiny_qwen2.chat("what is 3 + 4 ?")
    assert text.startswith("<|im_start|>user") and text.endswith("<|im_start|>assistant\n")
    ids = tiny_qwen2.encode(text)[0].tolist()
    start = tok.convert_tokens_to_ids("<|im_start|>")
    assert ids[0] == start and ids[1] != start  # exactly the template's specials, nothing prepended
    assert [tok.convert_ids_to_tokens(i) for i in ids[2:7]] == ["what", "is", "3", "+", "4"]


def test_fingerprint_tracks_weights(tiny_model_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    assert fingerprint(copy) == fingerprint(tiny_model_dir)
    model, _, _ = load_hf(str(copy))  # plain HF model: a bridged one cannot be saved
    with torch.no_grad():
        model.lm_head.weight.add_(1.0)
    model.save_pretrained(copy)
    assert fingerprint(copy) != fingerprint(tiny_model_dir)


@pytest.mark.parametrize("change", ["chat-template", "tokenizer-config", "tokenizer-vocab", "generation-eos"])
def test_fingerprint_tracks_tokenizer_template_and_eos(tiny_model_dir, tmp_path, change):
    """Same weights, other tokens or stop ids: other results, so another fingerprint."""
    import json

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    before = fingerprint(copy)
    if change == "chat-template":
        (copy / "chat_template.jinja").write_text((copy / "chat_template.jinja").read_text() + "{# edited #}")
    elif change == "tokenizer-config":
        cfg = json.loads((copy / "tokenizer_config.json").read_text())
        cfg["eos_token"] = "<|im_start|>"
        (copy / "tokenizer_config.json").write_text(json.dumps(cfg))
    elif change == "tokenizer-vocab":
        tok = json.loads((copy / "tokenizer.json").read_text())
        vocab = tok["model"]["vocab"]
        a, b = sorted(vocab)[-2:]
        vocab[a], vocab[b] = vocab[b], vocab[a]
        (copy / "tokenizer.json").write_text(json.dumps(tok))
    else:
        gen = json.loads((copy / "generation_config.json").read_text())
        gen["eos_token_id"] = [gen.get("eos_token_id") or 0, 3]
        (copy / "generation_config.json").write_text(json.dumps(gen))
    assert fingerprint(copy) != before


def test_bad_specs_fail_with_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFound, match="no such directory"):
        resolve_spec(str(tmp_path / "missing" / "x"))
    with pytest.raises(ModelNotFound, match="no config.json"):
        resolve_spec(str(tmp_path))
    with pytest.raises(ModelNotFound, match="empty model spec"):
        resolve_spec("  ")
    with pytest.raises(ModelNotFound, match="offline") as info:
        load_model("nobody-here/not-a-model-xyz")
    assert "\n" not in str(info.value)
    # a relative path with one slash could be either: say that neither was found
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelNotFound, match="neither a local path nor a hub model found") as info:
        load_model("runs/grp")
    assert "runs/grp" in str(info.value) and "\n" not in str(info.value)


def test_head_names_round_trip():
    assert head_name(5, 1) == "L5H1" and parse_head("L5H1") == (5, 1)
    assert sort_heads(["L10H0", "L2H3", "L2H1"]) == ["L2H1", "L2H3", "L10H0"]
    assert all_heads(2, 2) == ["L0H0", "L0H1", "L1H0", "L1H1"]
    for bad in ("L5", "H1L5", "L-1H2", "l5h1"):
        with pytest.raises(ValueError):
            parse_head(bad)


def test_head_writes_sum_to_attention_output(tiny_qwen2):
    """The per-head decomposition behind head_write_norms is exact (o_proj has no bias)."""
    lm = tiny_qwen2
    ids = lm.encode(lm.chat("what is 3 + 4 ?"))
    names = ("blocks.1.attn.hook_z", "blocks.1.hook_attn_out")
    _, cache = lm.bridge.run_with_cache(ids, names_filter=lambda n: n in names)
    w_o = lm.hf_model.model.layers[1].self_attn.o_proj.weight.view(lm.d_model, lm.n_heads, lm.d_head)
    per_head = torch.einsum("bphd,mhd->bphm", cache[names[0]], w_o)
    assert torch.allclose(per_head.sum(2), cache[names[1]], atol=1e-5)
    df = head_write_norms(lm, ["what is 3 + 4 ?", "let's think"])
    assert len(df) == lm.n_layers * lm.n_heads and (df.write_norm > 0).all()
    expected = per_head[0, :, 2].norm(dim=-1).mean().item()
    single = head_write_norms(lm, ["what is 3 + 4 ?"])
    assert single.set_index("name").write_norm["L1H2"] == pytest.approx(expected, rel=1e-4)


@pytest.mark.slow
def test_smollm2_from_gguf_wheel_answers_arithmetic(smollm2):
    lm = smollm2
    assert (lm.n_layers, lm.n_heads, lm.n_kv_heads, lm.d_head) == (30, 9, 3, 64)
    ids = lm.encode(lm.chat("What is 7 + 5?"))
    start = lm.tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert ids[0, 0] == start and ids[0, 1] != start  # no BOS stacked before the template's own
    assert int((ids[0] == start).sum()) == 3  # system, user, assistant header
    out = lm.hf_model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=24, do_sample=False,
                               pad_token_id=lm.tokenizer.eos_token_id)
    assert "12" in lm.decode(out[0, ids.shape[1]:])
