"""Clean / corrupted prompt pairs: dataclasses, JSONL loading, batching, and the paper's builder.

JSONL, one pair per line, either token ids::

    {"clean_ids": [...], "corrupted_ids": [...], "correct_id": 7, "wrong_id": 3}

or text (needs a tokenizer; answers must each be a single token)::

    {"clean": "...", "corrupted": "...", "correct": " 7", "wrong": " 3"}

Optional ``"target_pos"``: list of positions where the metric is read (default: last position).
Clean and corrupted sequences of a pair must have the same length (EAP patches position by
position); otherwise :class:`ValueError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor


@dataclass(frozen=True)
class Pair:
    """One clean / corrupted pair of equal-length token-id sequences."""

    clean_ids: tuple[int, ...]
    corrupted_ids: tuple[int, ...]
    correct_id: int | None = None
    wrong_id: int | None = None
    target_pos: tuple[int, ...] | None = None  # metric positions; None = last position

    def __post_init__(self) -> None:
        if len(self.clean_ids) != len(self.corrupted_ids):
            raise ValueError(
                f"clean and corrupted lengths differ ({len(self.clean_ids)} vs "
                f"{len(self.corrupted_ids)} tokens); EAP needs equal-length pairs"
            )
        if not self.clean_ids:
            raise ValueError("empty pair")
        for t in self.target_pos or ():
            if not 0 <= t < len(self.clean_ids):
                raise ValueError(f"target position {t} outside sequence of length {len(self.clean_ids)}")


@dataclass
class PairBatch:
    """Right-padded batch. ``clean``/``corrupted``: ``[b, p]`` long; ``valid``: ``[b, p]`` bool
    (real tokens); ``target``: ``[b, p]`` bool (metric positions); ``correct``/``wrong``: ``[b]``
    long (-1 when absent)."""

    clean: Tensor
    corrupted: Tensor
    valid: Tensor
    target: Tensor
    correct: Tensor
    wrong: Tensor
    index: list[int] = field(default_factory=list)  # positions in the full pair list

    @property
    def cols(self) -> Tensor:
        """Positions where any example reads the metric (``[n_cols]`` long); forwards compute
        logits only there."""
        return torch.nonzero(self.target.any(0)).squeeze(1)

    def to(self, device) -> PairBatch:
        return PairBatch(
            *(t.to(device) for t in (self.clean, self.corrupted, self.valid, self.target, self.correct, self.wrong)),
            index=self.index,
        )


def collate(pairs: list[Pair], index: list[int] | None = None) -> PairBatch:
    """Stack pairs into a right-padded :class:`PairBatch` (pad id 0; padding is never read:
    attention is causal and metrics read only target positions)."""
    if not pairs:
        raise ValueError("no pairs")
    b, p = len(pairs), max(len(x.clean_ids) for x in pairs)
    clean = torch.zeros(b, p, dtype=torch.long)
    corr = torch.zeros(b, p, dtype=torch.long)
    valid = torch.zeros(b, p, dtype=torch.bool)
    target = torch.zeros(b, p, dtype=torch.bool)
    for i, x in enumerate(pairs):
        n = len(x.clean_ids)
        clean[i, :n] = torch.tensor(x.clean_ids)
        corr[i, :n] = torch.tensor(x.corrupted_ids)
        valid[i, :n] = True
        target[i, list(x.target_pos) if x.target_pos else [n - 1]] = True
    correct = torch.tensor([-1 if x.correct_id is None else x.correct_id for x in pairs])
    wrong = torch.tensor([-1 if x.wrong_id is None else x.wrong_id for x in pairs])
    return PairBatch(clean, corr, valid, target, correct, wrong, index or list(range(b)))


def pairs_from_tensors(clean: Tensor, corrupted: Tensor, correct=None, wrong=None) -> list[Pair]:
    """``[n, p]`` id tensors (+ optional ``[n]`` answers) -> pairs."""
    if clean.shape != corrupted.shape:
        raise ValueError(f"clean {tuple(clean.shape)} and corrupted {tuple(corrupted.shape)} shapes differ")
    out = []
    for i in range(clean.shape[0]):
        out.append(
            Pair(
                tuple(clean[i].tolist()),
                tuple(corrupted[i].tolist()),
                None if correct is None else int(correct[i]),
                None if wrong is None else int(wrong[i]),
            )
        )
    return out


def _single_token(tokenizer, text: str, what: str, line: int) -> int:
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) != 1:
        raise ValueError(f"line {line}: {what} {text!r} is {len(ids)} tokens, expected exactly 1")
    return int(ids[0])


_JSON_KIND = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def load_pairs(path: str | Path, tokenizer=None) -> list[Pair]:
    """Read a JSONL pairs file in id or text form (text form needs ``tokenizer``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"pairs file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"pairs file {path} is a directory; pass a JSONL file")
    pairs: list[Pair] = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{lineno}: invalid JSON ({e.msg})") from None
        if not isinstance(rec, dict):
            raise ValueError(f"{path}:{lineno}: expected a JSON object with clean_ids/corrupted_ids or "
                             f"clean/corrupted, got a JSON {_JSON_KIND.get(type(rec), type(rec).__name__)}")
        target = tuple(rec["target_pos"]) if rec.get("target_pos") is not None else None
        if "clean_ids" in rec:
            if "corrupted_ids" not in rec:
                raise ValueError(f"{path}:{lineno}: 'clean_ids' without 'corrupted_ids'")
            clean, corr = tuple(rec["clean_ids"]), tuple(rec["corrupted_ids"])
            correct, wrong = rec.get("correct_id"), rec.get("wrong_id")
        elif "clean" in rec:
            if tokenizer is None:
                raise ValueError(f"{path}:{lineno}: text pairs need a model with a tokenizer")
            if "corrupted" not in rec:
                raise ValueError(f"{path}:{lineno}: 'clean' without 'corrupted'")
            clean = tuple(tokenizer.encode(rec["clean"], add_special_tokens=False))
            corr = tuple(tokenizer.encode(rec["corrupted"], add_special_tokens=False))
            correct = _single_token(tokenizer, rec["correct"], "correct", lineno) if "correct" in rec else None
            wrong = _single_token(tokenizer, rec["wrong"], "wrong", lineno) if "wrong" in rec else None
        else:
            raise ValueError(f"{path}:{lineno}: expected keys clean_ids/corrupted_ids or clean/corrupted")
        try:
            pairs.append(Pair(clean, corr, correct, wrong, target))
        except ValueError as e:
            raise ValueError(f"{path}:{lineno}: {e}") from None
    if not pairs:
        raise ValueError(f"{path}: no pairs")
    return pairs


def save_pairs(pairs: list[Pair], path: str | Path) -> None:
    """Write pairs in the id form."""
    with open(path, "w") as f:
        for x in pairs:
            rec = {"clean_ids": list(x.clean_ids), "corrupted_ids": list(x.corrupted_ids)}
            if x.correct_id is not None:
                rec["correct_id"] = x.correct_id
            if x.wrong_id is not None:
                rec["wrong_id"] = x.wrong_id
            if x.target_pos is not None:
                rec["target_pos"] = list(x.target_pos)
            f.write(json.dumps(rec) + "\n")


def build_style_pairs(
    encode_prompt,
    encode_text,
    questions: list[str],
    clean_prefixes: list[str],
    corrupted_prefixes: list[str],
    n_answer_tokens: int | None = None,
) -> list[Pair]:
    """The paper's construction (§4.3): question in the chat template + an answer prefix, clean
    prefix in the analysed model's style, corrupted in the other model's; both prefixes cut to the
    same number of tokens so the pair has equal length.  The metric is read on the answer span
    (every prefix position that predicts a next prefix token, and the last position).

    Args:
        encode_prompt: question -> token ids of the chat-templated prompt (e.g. ``lm.chat`` +
            ``lm.encode``).
        encode_text: text -> token ids without special tokens.
        n_answer_tokens: tokens kept from each prefix (default: the shorter prefix's length).
    """
    if not (len(questions) == len(clean_prefixes) == len(corrupted_prefixes)):
        raise ValueError("questions, clean_prefixes and corrupted_prefixes must have the same length")
    pairs = []
    for q, c, r in zip(questions, clean_prefixes, corrupted_prefixes, strict=True):
        prompt = list(encode_prompt(q))
        ci, ri = list(encode_text(c)), list(encode_text(r))
        n = min(len(ci), len(ri)) if n_answer_tokens is None else n_answer_tokens
        if n < 1 or len(ci) < n or len(ri) < n:
            raise ValueError(f"answer prefixes too short for {n} tokens: {c[:40]!r} / {r[:40]!r}")
        target = tuple(range(len(prompt) - 1, len(prompt) + n - 1))
        pairs.append(Pair(tuple(prompt + ci[:n]), tuple(prompt + ri[:n]), target_pos=target))
    return pairs
