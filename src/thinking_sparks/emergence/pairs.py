"""Circuit inputs as the paper builds them (§3, §A.5): a question in the chat template plus an
*answer prefix* sampled from a model, clean in the analysed model's style, corrupted in the other's.

A :class:`Side` is one writer of answer prefixes: a model spec and a mode (``default``, or the
hybrid model's ``think`` / ``no_think``).  :func:`sample_prefixes` draws one seeded answer per
question from a side (cached: key = the side's weights fingerprint + :class:`PairParams`);
:func:`build_pairs` turns two sides' prefixes into equal-length clean / corrupted pairs.

* **Circuit of a post-trained model or checkpoint M**: clean = M's own prefix, corrupted = the
  base's prefix.  **Circuit of the base**: clean = the base's prefix, corrupted = the post-trained
  side's (the same pairs with clean and corrupted swapped).
* **Equal length** (EAP patches position by position): each pair is ``prompt + prefix`` on both
  sides cut to the same total length ``T = min(len(clean), len(corrupted), P + answer_tokens)``
  where ``P = max(len(clean prompt), len(corrupted prompt))`` (``answer_tokens=None``: as long as
  both prefixes allow).  The metric is read on the answer span: every position from ``P - 1`` to
  ``T - 2``, where *both* sides predict a token of their answer (with prompts of different lengths,
  e.g. two modes or two prompting styles, the longer prompt decides where that span starts).  On
  the organism both prompts are identical, so this is "both prefixes cut to the shorter one's
  length, capped at ``answer_tokens``".
* **Coinciding prefixes** carry no signal (the clean and corrupted sequences are identical after
  the cut): such pairs are dropped and counted (:attr:`PairSet.n_identical`); pairs whose cut
  leaves no answer token are dropped too (:attr:`PairSet.n_short`).

Which samples play the reasoning side of an *intermediate* checkpoint is not stated in the paper
(:data:`REASONING_SIDES`, a parameter of the sweep):

* ``own`` (default): checkpoint t's own answers, the paper's rule for every analysed model
  ("clean = the model's own answer") applied to each checkpoint as a model in its own right.  A
  checkpoint that still answers like the base yields identical pairs, which are dropped: the
  dropped count itself shows how far the run has moved from the base.
* ``final``: the run's final checkpoint's answers for every checkpoint (the inputs stay fixed
  along the run, so differences between checkpoints come from the weights alone).

The base circuit of a run uses the run's final checkpoint as its corrupted side under both
choices: one fixed baseline circuit per run, as in the paper's cohort plots.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from thinking_sparks.cache import ResultCache, cache_key
from thinking_sparks.circuits.pairs import Pair
from thinking_sparks.emergence.device import analysis_dtype, load_kept
from thinking_sparks.evaluation.datasets import fingerprint_problems, load_eval_set
from thinking_sparks.evaluation.generation import SamplingConfig, generate
from thinking_sparks.models import fingerprint, resolve_spec

log = logging.getLogger(__name__)

REASONING_SIDES = ("own", "final")
#: mode -> (text appended to the question, ``enable_thinking`` for the template): the hybrid's soft
#: switches (``think``, ``no_think``) and the chat template's switch alone (``template_*``, Qwen3's);
#: rooms below add their own (:func:`register_mode`, e.g. a chat model's prompting styles)
MODES: dict[str, tuple[str | None, bool | None]] = {
    "default": (None, None), "think": ("/think", None), "no_think": ("/no_think", False),
    "template_think": (None, True), "template_no_think": (None, False)}
_BUILTIN_MODES = frozenset(MODES)
#: the answer-span rule of :func:`build_pairs` for prompts of different lengths (enters the keys of
#: circuits whose two sides have different modes, the only ones it changed)
SPAN_RULE = "after-both-prompts"


def register_mode(name: str, suffix: str | None, enable_thinking: bool | None = None) -> None:
    """A mode for :class:`Side`: ``suffix`` appended to each question (after a space), ``enable_thinking``
    passed to the chat template. Registering a name again with other settings is an error."""
    if MODES.get(name, (suffix, enable_thinking)) != (suffix, enable_thinking):
        raise ValueError(f"mode {name!r} is already registered as {MODES[name]}")
    MODES[name] = (suffix, enable_thinking)


@dataclass(frozen=True)
class Side:
    """A writer of answer prefixes: a model spec and a chat mode (see :data:`MODES`)."""

    spec: str
    mode: str = "default"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")

    def label(self) -> str:
        return self.spec if self.mode == "default" else f"{self.spec} ({self.mode})"


@dataclass(frozen=True)
class PairParams:
    """How circuit inputs are built (everything here enters the cache keys).

    Attributes:
        dataset: circuit question set: ``organism/circuit`` (the analysis plan's, AIME'24's role),
            ``organism/circuit2`` (its second, AMC's role), ``organism/hard`` or a JSONL path.
        n_questions: questions per circuit.
        sample: which block of ``n_questions`` questions of the set: questions ``[sample * n,
            (sample + 1) * n)`` (independent samples of one size: 0 is the comparison, 1 its
            same-size null, ``plan.CircuitPlan.n_samples``).
        answer_tokens: cap on answer-prefix tokens kept per pair (None: as many as both allow).
        sampling: how the prefixes are sampled (one per question, ``n`` 1; the paper's T 0.6,
            top-p 0.95; no more tokens than the cut can use are generated: 32 by default).
        reasoning_side: ``own`` or ``final`` (module docstring).
    """

    dataset: str = "organism/hard"
    n_questions: int = 32
    answer_tokens: int | None = 24
    sampling: SamplingConfig = SamplingConfig(n=1, max_new_tokens=32)
    reasoning_side: str = "own"
    sample: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.sample, int) or isinstance(self.sample, bool) or self.sample < 0:
            raise ValueError(f"sample must be an integer >= 0, got {self.sample!r}")
        if self.n_questions < 2:
            raise ValueError(f"n_questions must be >= 2, got {self.n_questions}")
        if self.answer_tokens is not None and self.answer_tokens < 1:
            raise ValueError(f"answer_tokens must be >= 1 or None, got {self.answer_tokens}")
        if self.reasoning_side not in REASONING_SIDES:
            raise ValueError(f"reasoning_side must be one of {', '.join(REASONING_SIDES)}, "
                             f"got {self.reasoning_side!r}")
        if self.sampling.n != 1:
            raise ValueError(f"a circuit side has one answer prefix per question: sampling.n must be 1, "
                             f"got {self.sampling.n}")
        if self.answer_tokens is not None and self.answer_tokens > self.sampling.max_new_tokens:
            raise ValueError(f"answer_tokens ({self.answer_tokens}) exceeds max_new_tokens "
                             f"({self.sampling.max_new_tokens})")


#: questions whose answer prefixes are decoded together (each row has its own seeded generator, so
#: the batch size changes only the cost; benchmarks/sweep.py measures it)
PREFIX_BATCH = 128


def prefix_sampling(answer_tokens: int | None) -> SamplingConfig:
    """How answer prefixes are sampled for a cut of ``answer_tokens``: one sample per question, the
    paper's T 0.6 and top-p 0.95, and no more new tokens than the cut can use (at least 32), decoded
    :data:`PREFIX_BATCH` at a time."""
    return SamplingConfig(n=1, max_new_tokens=max(32, answer_tokens or 0), batch_size=PREFIX_BATCH)


@dataclass
class Prefixes:
    """One side's prompts and sampled answer prefixes, one per question (same order)."""

    side: Side
    question_ids: list[str]
    prompts: list[list[int]]
    completions: list[list[int]]
    texts: list[str] = field(default_factory=list)


@dataclass
class PairSet:
    """Pairs of one circuit, with what was dropped.  ``question_index[i]``: the question of
    ``pairs[i]`` (position in the question list), for bootstraps and disjoint halves."""

    pairs: list[Pair]
    question_index: list[int]
    n_identical: int
    n_short: int
    clean: Side
    corrupted: Side

    @property
    def n_dropped(self) -> int:
        return self.n_identical + self.n_short

    def swapped(self) -> PairSet:
        """The same pairs with clean and corrupted exchanged (the other model's circuit)."""
        return PairSet([swap(p) for p in self.pairs], list(self.question_index), self.n_identical,
                       self.n_short, self.corrupted, self.clean)


def swap(p: Pair) -> Pair:
    """A pair with clean and corrupted exchanged (same target positions)."""
    return Pair(p.corrupted_ids, p.clean_ids, p.wrong_id, p.correct_id, p.target_pos)


def side_fingerprint(side: Side) -> dict[str, str]:
    """What identifies a side's weights without loading it: spec, mode, weights fingerprint."""
    where = resolve_spec(side.spec)
    fp = fingerprint(where) if not isinstance(where, str) else where
    dtype = analysis_dtype()  # float32 (the CPU's) adds nothing, so CPU keys stay as they were
    out = {"spec": side.spec, "mode": side.mode, "fingerprint": fp} | ({"dtype": dtype} if dtype else {})
    if side.mode not in _BUILTIN_MODES:  # a registered mode: its prompt text is part of what it is
        out["suffix"], out["enable_thinking"] = MODES[side.mode]
    return out


def key_params(params: PairParams) -> dict:
    """:class:`PairParams` as it enters cache keys (``sample`` 0 is left out: sample 0's keys are
    those circuits had before samples existed)."""
    d = asdict(params)
    if d["sample"] == 0:
        del d["sample"]
    return d


def questions(params: PairParams):
    """The circuit questions (``evaluation.datasets.Problem``) of sample ``params.sample``."""
    n, s = params.n_questions, params.sample
    probs = load_eval_set(params.dataset, limit=n * (s + 1))
    if len(probs) < n * (s + 1):
        raise ValueError(f"circuit question set {params.dataset} has {len(probs)} questions: too few for sample {s} "
                         f"of {n} questions (needs {n * (s + 1)})")
    return probs[n * s:]


def sample_prefixes(side: Side, params: PairParams, lm: Any = None, use_cache: bool = True,
                    problems: list | None = None) -> Prefixes:
    """One seeded answer per circuit question from ``side`` (cached by weights + params + questions).

    ``problems``: ask these instead of the first ``params.n_questions`` of ``params.dataset``.
    """
    probs = list(problems) if problems is not None else questions(params)
    key = prefix_key(side, params, probs)
    cache = ResultCache()
    hit = cache.get(key) if use_cache else None
    if hit is not None:
        rec = json.loads((hit / "prefixes.json").read_text())
        return Prefixes(side, rec["question_ids"], rec["prompts"], rec["completions"], rec["texts"])
    out = sample_answers(lm if lm is not None else load_kept(side.spec), side, probs, params)
    with cache.write(key, meta={"kind": "prefixes", "side": side.label()}) as tmp:
        (tmp / "prefixes.json").write_text(json.dumps({"question_ids": out.question_ids, "prompts": out.prompts,
                                                       "completions": out.completions, "texts": out.texts}))
    return out


def prefix_key(side: Side, params: PairParams, probs: list) -> str:
    """Cache key of one side's prefixes: the side's weights and mode, the sampling, the questions."""
    sampling = {k: v for k, v in key_params(params).items() if k not in ("reasoning_side", "answer_tokens", "sample")}
    return cache_key("prefixes", sampling, extra={"side": side_fingerprint(side), "questions": fingerprint_problems(probs)})


def sample_answers(lm: Any, side: Side, probs: list, params: PairParams) -> Prefixes:
    """One seeded answer per problem from a loaded model, asked in ``side``'s mode (not cached)."""
    suffix, enable = MODES[side.mode]
    texts = [lm.chat(_suffixed(p.question, suffix), enable_thinking=enable) for p in probs]
    prompts = [lm.tokenizer(t, add_special_tokens=False).input_ids for t in texts]
    gens = sorted(generate(lm, prompts, params.sampling, progress=False), key=lambda g: g.prompt_index)
    completions = [lm.tokenizer(g.text, add_special_tokens=False).input_ids for g in gens]
    return Prefixes(side, [p.id for p in probs], prompts, completions, [g.text for g in gens])


def _suffixed(question: str, suffix: str | None) -> str:
    return question if suffix is None else f"{question} {suffix}"


def build_pairs(clean: Prefixes, corrupted: Prefixes, answer_tokens: int | None = None) -> PairSet:
    """Equal-length pairs from two sides' prefixes on the same questions (module docstring)."""
    if clean.question_ids != corrupted.question_ids:
        raise ValueError("clean and corrupted prefixes were sampled on different questions")
    pairs, index, n_identical, n_short = [], [], 0, 0
    for i, (cp, cc, rp, rc) in enumerate(zip(clean.prompts, clean.completions, corrupted.prompts,
                                             corrupted.completions, strict=True)):
        c, r = list(cp) + list(cc), list(rp) + list(rc)
        start = max(len(cp), len(rp))  # both sides predict answer tokens from here on
        total = min(len(c), len(r))
        if answer_tokens is not None:
            total = min(total, start + answer_tokens)
        if total - start < 1:
            n_short += 1
            continue
        c, r = c[:total], r[:total]
        if c == r:
            n_identical += 1
            continue
        pairs.append(Pair(tuple(c), tuple(r), target_pos=tuple(range(start - 1, total - 1))))
        index.append(i)
    if n_identical or n_short:
        log.info("%s vs %s: dropped %d identical and %d too-short pairs of %d", clean.side.label(),
                 corrupted.side.label(), n_identical, n_short, len(clean.prompts))
    return PairSet(pairs, index, n_identical, n_short, clean.side, corrupted.side)


def pairs_frame(ps: PairSet, tokenizer: Any, limit: int = 5):
    """The first ``limit`` pairs as text (clean, corrupted, answer tokens) for pages."""
    rows = []
    for p in ps.pairs[:limit]:
        start = p.target_pos[0] + 1
        rows.append({"prompt": tokenizer.decode(list(p.clean_ids[:start])),
                     "clean prefix": tokenizer.decode(list(p.clean_ids[start:])),
                     "corrupted prefix": tokenizer.decode(list(p.corrupted_ids[start:])),
                     "answer tokens": len(p.target_pos)})
    return pd.DataFrame(rows)
