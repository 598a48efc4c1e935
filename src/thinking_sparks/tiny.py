"""Tiny random models (Qwen2, Qwen3, Llama shapes) with a small word-level tokenizer.

For tests and smoke runs: ``sparks`` verbs and notebooks accept the directory these write, so a
whole pipeline can be exercised in seconds without any download.
"""

from __future__ import annotations

from pathlib import Path

import torch

from thinking_sparks.hfcompat import make_portable

ARCHS = ("qwen2", "qwen3", "llama")
_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<answer>", "</answer>", "<unk>"]
_WORDS = ("system user assistant what is the answer plus minus times of and a an to = + - * ( ) ? . , : "
          "think step by let's solve problem final number sum product result so we get").split()
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
#: Qwen3's thinking switch: ``enable_thinking=False`` opens the reply with an empty think block
#: (thinking on, the default, adds nothing), as Qwen3's own template does
THINKING_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}"
    "{% endif %}"
)
#: tiny stand-ins shaped like the paper's models: architecture class, query / KV heads (the GQA
#: ratio of the real model), RoPE settings, tied embeddings, and the chat template's thinking switch
PAPER_SHAPES: dict[str, dict] = {
    # Qwen2.5-Math-1.5B and DeepSeek-R1-Distill-Qwen-1.5B: Qwen2, 12 query / 2 KV heads, qkv bias,
    # rope_theta 10k (Math) / 1e4..1e6, tied embeddings
    "qwen2.5-math-1.5b": dict(arch="qwen2", n_heads=6, n_kv_heads=1, rope_theta=10000.0, tie=True),
    # Qwen3-8B: Qwen3 (q/k RMS norms), 32 query / 8 KV heads, head_dim 128 != d_model / heads,
    # rope_theta 1e6, untied, a template with enable_thinking
    "qwen3-8b": dict(arch="qwen3", n_heads=4, n_kv_heads=1, head_dim=24, rope_theta=1_000_000.0, tie=False,
                     thinking=True),
    # Llama-3.2-1B-Instruct: Llama, 32 query / 8 KV heads, llama3 rope scaling (factor 32), tied
    "llama-3.2-1b": dict(arch="llama", n_heads=4, n_kv_heads=1, rope_theta=500000.0, tie=True,
                         rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                       "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
}


def tiny_tokenizer(thinking: bool = False):
    """A word-level ``PreTrainedTokenizerFast``: specials, digits 0-9 and a few words.

    ``thinking``: a chat template with Qwen3's ``enable_thinking`` switch (:data:`THINKING_CHAT_TEMPLATE`).
    """
    # deferred: tokenizers is heavy or optional, loaded only here
    # deferred: tokenizers is heavy or optional, loaded only here
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast  # deferred: transformers is heavy or optional, loaded only here

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
    fast.chat_template = THINKING_CHAT_TEMPLATE if thinking else CHAT_TEMPLATE
    return fast


def tiny_config(arch: str = "qwen2", vocab_size: int = 128, n_layers: int = 2, n_heads: int = 4,
                n_kv_heads: int = 2, d_model: int = 64, head_dim: int | None = None, rope_theta: float | None = None,
                rope_scaling: dict | None = None, tie: bool = False):
    """A small HF config of the given architecture (GQA by default).

    ``head_dim`` (Qwen3 only) may differ from ``d_model // n_heads``; ``rope_scaling`` (e.g. Llama
    3's ``{"rope_type": "llama3", ...}``) and ``rope_theta`` set the RoPE variant.
    """
    # deferred: transformers is heavy or optional, loaded only here
    # deferred: transformers is heavy or optional, loaded only here
    from transformers import LlamaConfig, Qwen2Config, Qwen3Config

    common = dict(vocab_size=vocab_size, hidden_size=d_model, intermediate_size=2 * d_model,
                  num_hidden_layers=n_layers, num_attention_heads=n_heads, num_key_value_heads=n_kv_heads,
                  max_position_embeddings=256, tie_word_embeddings=tie)
    if rope_theta is not None or rope_scaling:  # else the architecture's own default
        common["rope_parameters"] = {"rope_type": "default", **(rope_scaling or {}),
                                     "rope_theta": rope_theta if rope_theta is not None else 10000.0}
    if arch == "qwen2":
        return Qwen2Config(**common)
    if arch == "qwen3":
        return Qwen3Config(head_dim=head_dim or d_model // n_heads, **common)
    if arch == "llama":
        return LlamaConfig(**common)
    raise ValueError(f"unknown tiny architecture {arch!r}; choose one of {ARCHS}")


def build_tiny(out_dir: Path | str, arch: str = "qwen2", seed: int = 0, init_range: float | None = None,
               thinking: bool = False, **shape) -> Path:
    """Write a seeded random model + tokenizer to ``out_dir`` and return it.

    ``init_range`` overrides the config's ``initializer_range`` (0.02): a large one (0.4) gives
    long, varied greedy continuations instead of an immediate EOS, which generation tests need.
    """
    from transformers import AutoModelForCausalLM  # deferred: transformers is heavy or optional, loaded only here

    out = Path(out_dir)
    tok = tiny_tokenizer(thinking)
    config = tiny_config(arch, vocab_size=len(tok), **shape)
    if init_range is not None:
        config.initializer_range = init_range
    config.eos_token_id = tok.eos_token_id
    config.pad_token_id = tok.pad_token_id
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    make_portable(out)  # tokenizer.json as is, under stock AutoTokenizer too
    return out


def build_paper_like(out_dir: Path | str, name: str, seed: int = 0, **overrides) -> Path:
    """A tiny random model shaped like one of the paper's models (:data:`PAPER_SHAPES`)."""
    if name not in PAPER_SHAPES:
        raise ValueError(f"unknown paper shape {name!r}; choose one of {', '.join(PAPER_SHAPES)}")
    shape = {**PAPER_SHAPES[name], **overrides}
    return build_tiny(out_dir, seed=seed, d_model=48, **shape)
