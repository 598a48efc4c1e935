"""Tiny random models (Qwen2, Qwen3, Llama shapes) with a small word-level tokenizer.

For tests and smoke runs: ``sparks`` verbs and notebooks accept the directory these write, so a
whole pipeline can be exercised in seconds without any download.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

ARCHS = ("qwen2", "qwen3", "llama")
_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<answer>", "</answer>", "<unk>"]
_WORDS = ("system user assistant what is the answer plus minus times of and a an to = + - * ( ) ? . , : "
          "think step by let's solve problem final number sum product result so we get").split()
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_tokenizer():
    """A word-level ``PreTrainedTokenizerFast``: specials, digits 0-9 and a few words."""
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(_SPECIALS + [str(d) for d in range(10)] + _WORDS + ["\n"])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split("\n", behavior="isolated"),
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.Punctuation(),
    ])
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<|endoftext|>",
                                   eos_token="<|im_end|>", bos_token=None)
    fast.add_special_tokens({"additional_special_tokens": _SPECIALS[1:7]})
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_config(arch: str = "qwen2", vocab_size: int = 128, n_layers: int = 2, n_heads: int = 4,
                n_kv_heads: int = 2, d_model: int = 64):
    """A small HF config of the given architecture (GQA by default)."""
    from transformers import LlamaConfig, Qwen2Config, Qwen3Config

    common = dict(vocab_size=vocab_size, hidden_size=d_model, intermediate_size=2 * d_model,
                  num_hidden_layers=n_layers, num_attention_heads=n_heads, num_key_value_heads=n_kv_heads,
                  max_position_embeddings=256, tie_word_embeddings=False)
    if arch == "qwen2":
        return Qwen2Config(**common)
    if arch == "qwen3":
        return Qwen3Config(head_dim=d_model // n_heads, **common)
    if arch == "llama":
        return LlamaConfig(**common)
    raise ValueError(f"unknown tiny architecture {arch!r}; choose one of {ARCHS}")


def build_tiny(out_dir: Path | str, arch: str = "qwen2", seed: int = 0, init_range: float | None = None,
               **shape) -> Path:
    """Write a seeded random model + tokenizer to ``out_dir`` and return it.

    ``init_range`` overrides the config's ``initializer_range`` (0.02): a large one (0.4) gives
    long, varied greedy continuations instead of an immediate EOS, which generation tests need.
    """
    from transformers import AutoModelForCausalLM

    out = Path(out_dir)
    tok = tiny_tokenizer()
    config = tiny_config(arch, vocab_size=len(tok), **shape)
    if init_range is not None:
        config.initializer_range = init_range
    config.eos_token_id = tok.eos_token_id
    config.pad_token_id = tok.pad_token_id
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg_path.write_text(json.dumps(cfg, indent=2))
    return out
