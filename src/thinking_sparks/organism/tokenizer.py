"""The organism's word-level tokenizer and its Qwen-shaped chat template.

Built with ``tokenizers`` from a closed vocabulary (the task's words, symbols and digits) and
saved as a ``PreTrainedTokenizerFast`` beside every checkpoint.

Numbers are spelled digit by digit so arithmetic is learnable: a number's first digit is one of
``0``..``9`` and every further digit a continuation token ``##0``..``##9`` (the WordPiece
convention, so ``decode`` glues them back: ``"-45"`` -> ``- ##4 ##5`` -> ``"-45"``). A minus sign
written against a number (``-45``) is a unary minus; written apart (``3 - 45``) a binary one.
Every other word is one token; unknown words become ``[UNK]``.

Tokens: specials ``<|endoftext|>`` (pad), ``<|im_start|>``, ``<|im_end|>`` (eos), ``[UNK]``;
non-special added tokens ``<think> </think> <answer> </answer>`` (kept by
``decode(skip_special_tokens=True)``) and the Qwen3-style soft switches ``/think`` ``/no_think``.

Chat template (Qwen's shape; newlines are dropped by the word-level pre-tokenizer)::

    <|im_start|>system\\n{system}<|im_end|>\\n<|im_start|>user\\n{question}<|im_end|>\\n<|im_start|>assistant\\n

With ``enable_thinking=False`` the generation prompt is pre-filled with an empty think block
``<think> </think>`` (as Qwen3's template does).
"""

from __future__ import annotations

from pathlib import Path

from thinking_sparks.hfcompat import make_portable

__all__ = ["ADDED_TOKENS", "CHAT_TEMPLATE", "EOS", "PAD", "SPECIAL_TOKENS", "WORDS", "build_tokenizer"]

PAD, BOS, EOS, UNK = "<|endoftext|>", "<|im_start|>", "<|im_end|>", "[UNK]"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK]
ADDED_TOKENS = ["<think>", "</think>", "<answer>", "</answer>", "/think", "/no_think"]
SYMBOLS = list("+-*/()=?.,:;!'\"#%$") + ["\\boxed", "{", "}"]
WORDS = sorted(set(
    ["system", "user", "assistant", "What", "is", "Compute", "Calculate", "Evaluate", "Solve", "The", "answer", "the", "a", "an", "of", "and", "then", "You", "are", "helpful", "A", "conversation", "between", "User", "Assistant", "first", "thinks", "about", "reasoning", "process", "in", "mind", "provides", "with", "it", "step", "by", "Think", "Reason", "inside", "give", "final", "tags"]
))
# Pre-tokenizer: a signed number, a word, or any single other symbol (after whitespace split).
_PIECE = r"-?\d+|\\?[A-Za-z_]+|[^\sA-Za-z\d]"

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "<|im_start|>assistant\n{% generation %}{{ message['content'] }}<|im_end|>{% endgeneration %}{{ '\\n' }}"
    "{% else %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}"
    "<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think> </think> {% endif %}"
    "{% endif %}"
)


def vocabulary() -> list[str]:
    """Ordered vocabulary (ids are positions): specials, digits, continuation digits, symbols, words."""
    digits = [str(d) for d in range(10)]
    return SPECIAL_TOKENS + digits + ["##" + d for d in digits] + SYMBOLS + WORDS


def build_tokenizer():
    """The organism tokenizer as a ``transformers.PreTrainedTokenizerFast`` (deterministic)."""
    # deferred: tokenizers is heavy or optional, loaded only here
    # deferred: tokenizers is heavy or optional, loaded only here
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast  # deferred: transformers is heavy or optional, loaded only here

    vocab = {tok: i for i, tok in enumerate(vocabulary())}
    core = Tokenizer(models.WordPiece(vocab=vocab, unk_token=UNK, continuing_subword_prefix="##",
                                      max_input_chars_per_word=64))
    core.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Split(Regex(_PIECE), behavior="isolated"),
    ])
    core.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    core.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    core.add_tokens([AddedToken(t, special=False, normalized=False) for t in ADDED_TOKENS])
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, eos_token=EOS, unk_token=UNK,
                                  bos_token=None, model_max_length=512, padding_side="left")
    tok.chat_template = CHAT_TEMPLATE
    return tok


def save_tokenizer(directory: Path | str):
    """Build and save the tokenizer into ``directory`` (tokenizer_class PreTrainedTokenizerFast, and
    the ``auto_map`` that makes stock ``AutoTokenizer`` honour it)."""
    tok = build_tokenizer()
    tok.save_pretrained(str(directory))

    make_portable(directory)  # AutoTokenizer would otherwise build Qwen2's BPE next to a qwen2 config
    return tok
