"""Evaluate a model on an eval set: sample, grade, summarise; cached by parameters + model.

``evaluate`` does the work (and accepts an intervention: heads zeroed or scaled during generation);
``run_eval`` adds the results cache and writes ``samples.parquet`` + ``summary.json``::

    lm = load_model("organism/sft@final")
    params = EvalParams(dataset="organism/hard", sampling=SamplingConfig(n=8, temperature=0.6, top_p=0.95))
    base = run_eval(lm, params)

    ablated = run_eval(lm, params, intervention=parse_edits("L5H1,L5H4"))  # cached under its own key
    print(base.pass_at_1, ablated.pass_at_1, ablated.summary.to_frame())
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from contextlib import AbstractContextManager as ContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from thinking_sparks.cache import ResultCache, cache_key, library_versions
from thinking_sparks.evaluation.datasets import Problem, fingerprint_problems, load_eval_set
from thinking_sparks.evaluation.generation import GenerationStats, SamplingConfig, generate
from thinking_sparks.evaluation.grading import extract_answer, is_correct
from thinking_sparks.evaluation.metrics import EvalSummary, summarize

log = logging.getLogger(__name__)

SAMPLES_FILE = "samples.parquet"
SUMMARY_FILE = "summary.json"
SAMPLE_COLUMNS = ["problem_id", "difficulty", "sample_index", "completion", "extracted", "gold", "correct",
                  "n_tokens", "finish_reason"]


@dataclass(frozen=True)
class EvalParams:
    """Everything that determines an evaluation's result (also the cache key).

    Attributes:
        dataset: eval set name (``organism/easy``) or JSON-lines path.
        sampling: how completions are drawn (:class:`~thinking_sparks.evaluation.generation.SamplingConfig`;
            here 8 samples of up to 512 new tokens by default); ``sampling.seed`` also seeds the bootstrap.
        limit: evaluate only the first ``limit`` problems.
        system: system message for the chat template (None: the template's default).
        enable_thinking: passed to chat templates that know it (Qwen3, organism hybrid).
        instruction: text appended to each question (e.g. "Put the final answer in \\boxed{}.").
        ks: k values for pass@k / success@k (default: powers of two <= n).
        n_boot, alpha: bootstrap resamples and CI level (1 - alpha).
    """

    dataset: str
    sampling: SamplingConfig = SamplingConfig(n=8, max_new_tokens=512)
    limit: int | None = None
    system: str | None = None
    enable_thinking: bool | None = None
    instruction: str | None = None
    ks: tuple[int, ...] | None = None
    n_boot: int = 1000
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if not isinstance(self.sampling, SamplingConfig):
            raise TypeError(f"sampling must be a SamplingConfig, got {type(self.sampling).__name__}")
        if self.ks is not None:
            object.__setattr__(self, "ks", tuple(sorted({int(k) for k in self.ks})))
            for k in self.ks:
                if not 1 <= k <= self.n:
                    raise ValueError(f"k={k} must lie in [1, n={self.n}]")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1, got {self.limit}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")

    @property
    def n(self) -> int:
        """Samples per problem (``sampling.n``)."""
        return self.sampling.n


@dataclass
class EvalResult:
    """Samples (tidy, one row per sample), the metric summary and run metadata."""

    samples: pd.DataFrame
    summary: EvalSummary
    info: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None

    @property
    def pass_at_1(self) -> float:
        return self.summary.pass_at_1


def build_prompt(model: Any, problem: Problem, params: EvalParams) -> str:
    """The chat-templated prompt text for one problem."""
    question = problem.question if not params.instruction else f"{problem.question}\n{params.instruction}"
    chat = getattr(model, "chat", None)
    if chat is None:
        return question
    return chat(question, system=params.system, enable_thinking=params.enable_thinking)


def evaluate(model: Any, problems: Sequence[Problem], params: EvalParams, *, intervention: Any = None,
             context: ContextManager | Sequence[ContextManager] | None = None,
             progress: bool = True) -> EvalResult:
    """Sample ``params.n`` completions per problem, grade them, and summarise (no caching).

    Args:
        model: a :class:`~thinking_sparks.models.LoadedModel`.
        problems: from :func:`~thinking_sparks.evaluation.datasets.load_eval_set`.
        intervention, context: active during generation (see :func:`generation.generate`).
    """
    if not problems:
        raise ValueError("no problems to evaluate")
    prompts = [build_prompt(model, p, params) for p in problems]
    stats = GenerationStats()
    gens = generate(model, prompts, params.sampling, intervention=intervention, context=context, progress=progress,
                    stats=stats)
    rows = []
    for g in gens:
        p = problems[g.prompt_index]
        pred = extract_answer(g.text)
        rows.append({"problem_id": p.id, "difficulty": p.difficulty, "sample_index": g.sample_index,
                     "completion": g.text, "extracted": pred, "gold": p.answer,
                     "correct": is_correct(pred, p.answer), "n_tokens": g.n_tokens,
                     "finish_reason": g.finish_reason})
    samples = pd.DataFrame(rows, columns=SAMPLE_COLUMNS)
    summary = summarize(samples, ks=params.ks, n_boot=params.n_boot, alpha=params.alpha, seed=params.sampling.seed)
    info = {
        "timing": {"seconds": round(stats.seconds, 3), "new_tokens": stats.n_new_tokens,
                   "tokens_per_second": round(stats.tokens_per_second, 2), "sequences": stats.n_sequences},
        "finish_reasons": samples["finish_reason"].value_counts().to_dict(),
        "n_problems": len(problems),
        "intervention": intervention.key() if intervention else None,
    }
    log.info("pass@1 %.3f on %d problems x %d samples (%.1f new tok/s)", summary.pass_at_1, len(problems),
             params.n, stats.tokens_per_second)
    return EvalResult(samples=samples, summary=summary, info=info)


def summary_json(result: EvalResult, model: Any, params: EvalParams) -> dict[str, Any]:
    return {
        "model": getattr(model, "spec", None),
        "fingerprint": getattr(model, "fingerprint", None),
        "dataset": params.dataset,
        "pass@1": result.summary.pass_at_1,
        "metrics": result.summary.to_dict(),
        "ks": result.summary.ks,
        "params": asdict(params),
        **result.info,
        "versions": library_versions(),
    }


def write_result(result: EvalResult, directory: Path, model: Any, params: EvalParams) -> None:
    """Write ``samples.parquet`` and ``summary.json`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    result.samples.to_parquet(directory / SAMPLES_FILE, index=False)
    (directory / SUMMARY_FILE).write_text(json.dumps(summary_json(result, model, params), indent=2))


def read_result(directory: Path, params: EvalParams) -> EvalResult:
    """Load a written result back (the summary is recomputed from the samples, deterministically)."""
    samples = pd.read_parquet(directory / SAMPLES_FILE)
    info = json.loads((directory / SUMMARY_FILE).read_text())
    summary = summarize(samples, ks=params.ks, n_boot=params.n_boot, alpha=params.alpha, seed=params.sampling.seed)
    return EvalResult(samples=samples, summary=summary, info=info, out_dir=directory)


def run_eval(model: Any, params: EvalParams, out_dir: Path | str | None = None, *, use_cache: bool = True,
             intervention: Any = None, progress: bool = True,
             problems: Sequence[Problem] | None = None) -> EvalResult:
    """Load the eval set, evaluate (or reuse the cached result), and copy the files to ``out_dir``.

    Args:
        model: a :class:`~thinking_sparks.models.LoadedModel` (its spec + fingerprint enter the key).
        params: evaluation parameters (all enter the key).
        out_dir: where ``samples.parquet`` and ``summary.json`` go (optional).
        use_cache: reuse a finished entry of :class:`~thinking_sparks.cache.ResultCache`; when False
            the result is recomputed (and the entry refreshed).
        intervention: an :class:`~thinking_sparks.interventions.Intervention` active during
            generation; its key (heads, modes, factors, mean source) enters the cache key.
        problems: evaluate these instead of ``params.dataset`` (e.g. questions with a ``/think`` flag);
            their content enters the key as always.
    """
    problems = list(problems) if problems is not None else load_eval_set(params.dataset, limit=params.limit)
    key = cache_key("eval", params, model=model,
                    extra={"problems": fingerprint_problems(problems),
                           "intervention": intervention.key() if intervention else None})
    cache = ResultCache()
    entry = cache.get(key) if use_cache else None
    if entry is not None:
        log.info("eval cache hit %s", key)
        result = read_result(entry, params)
        result.info["cached"] = True
    else:
        result = evaluate(model, problems, params, intervention=intervention, progress=progress)
        result.info["cache_key"] = key
        with cache.write(key, meta={"model": getattr(model, "spec", None), "dataset": params.dataset}) as tmp:
            write_result(result, tmp, model, params)
        entry = cache.get(key) or cache.path(key)
        result.info["cached"] = False
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if entry is not None:
            for name in (SAMPLES_FILE, SUMMARY_FILE):
                shutil.copyfile(entry / name, out / name)
        else:
            write_result(result, out, model, params)
        result.out_dir = out
    return result
