"""Page ``07_real_model``: a real model post-trained, traced and intervened on.

:class:`Params` is the notebook's parameters cell (declared once here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thinking_sparks.pages.params import _check_circuit_fields, _check_positive


@dataclass
class Params:
    """Parameters of ``07_real_model``: a real model post-trained and traced, and its two prompting
    styles (think on / off) compared and intervened on.

    Attributes:
        model: the start model of the SFT run, and the model whose styles are compared
            (``smollm2-135m-instruct``; any spec of a chat model).
        run: the SFT recipe and data (a run of ``realmodel.runs.RUNS``).
        max_steps, gpu_steps: optimiser steps on a CPU / on CUDA (None: the run's own, 24 / 480).
        trace_checkpoints: evenly spaced checkpoints traced (the last is the final one).
        eval_set: where accuracy before / after is measured (``words/easy``, ``words/medium``,
            ``gsm8k``-style JSONL path); also the think style's set of the interventions.
        n, limit, temperature, max_new_tokens: sampling for pass@1 (n per problem, first ``limit``).
        dataset, n_questions, answer_tokens, steps, rule, top_n: the sweep's circuits (see
            ``emergence.pairs`` / ``emergence.sweep``; prefixes are sampled ``answer_tokens`` long).
        n_boot, n_splits: bootstrap resamples (CIs, inclusion) and noise-floor splits.
        style_level: ``easy`` or ``medium``: the words level whose bare questions give the style
            circuits and whose two sets (``words/<level>``, ``words/<level>-direct``) the interventions.
        k: heads per intervened set (top by circuit score); seeds: layer-matched random sets.
        n_k, k_limit, direct_tokens: direct-style samples per problem (pass@1 and pass@k / success@k
            for k = 1..n_k), problems, and tokens per direct answer.
        jobs: processes that build the sweep's circuits (the SFT run always trains in a worker
            process beside the style analysis of the start model).
        device, threads: as everywhere (``cuda`` trains ``gpu_steps`` and builds circuits in bf16).
    """

    model: str = "smollm2-135m-instruct"
    run: str = "smollm2-sft"
    max_steps: int | None = None
    gpu_steps: int | None = None
    trace_checkpoints: int = 3
    eval_set: str = "words/easy"
    n: int = 4
    limit: int | None = 30
    temperature: float = 0.6
    max_new_tokens: int = 128
    dataset: str = "words/easy"
    n_questions: int = 12
    answer_tokens: int | None = 12
    steps: int = 3
    rule: str = "left"
    top_n: int | None = None
    n_boot: int = 200
    n_splits: int = 50
    style_level: str = "easy"
    k: int = 5
    seeds: int = 1
    n_k: int = 4
    k_limit: int = 30
    direct_tokens: int = 12
    jobs: int = 2
    device: str = "cpu"
    threads: int = 0

    def __post_init__(self):
        from thinking_sparks.realmodel.runs import RUNS, WORDS_SETS

        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("model must be a non-empty spec string")
        if self.run not in RUNS:
            raise ValueError(f"run must be one of {', '.join(RUNS)}, got {self.run!r}")
        if self.style_level not in WORDS_SETS:
            raise ValueError(f"style_level must be one of {', '.join(WORDS_SETS)}, got {self.style_level!r}")
        _check_circuit_fields(self)
        _check_positive(self, "trace_checkpoints", "n", "max_new_tokens", "n_boot", "n_splits", "k", "seeds", "n_k",
                        "k_limit", "direct_tokens", "jobs", optional=("max_steps", "gpu_steps", "limit"))
        if not 0 <= float(self.temperature) <= 2:
            raise ValueError(f"temperature must lie in [0, 2], got {self.temperature!r}")
        if self.answer_tokens is None:
            raise ValueError("answer_tokens must be a positive integer (prefixes are sampled that long)")

    def run_config(self):
        """The SFT run's settings (``realmodel.page.run_config``)."""
        from thinking_sparks.realmodel.page import run_config

        return run_config(self.run, self.model, self.max_steps, self.gpu_steps, self.device)

    def eval_params(self):
        """Sampling for accuracy before / after and the think style (one set of settings: cached once)."""
        from thinking_sparks.evaluation.harness import EvalParams

        return EvalParams(dataset=self.eval_set, n=self.n, temperature=self.temperature,
                          max_new_tokens=self.max_new_tokens, limit=self.limit, n_boot=self.n_boot, batch_size=64)

    def direct_params(self):
        """Sampling of the direct style: ``n_k`` short answers per problem, every k reported."""
        from thinking_sparks.evaluation.harness import EvalParams

        return EvalParams(dataset=f"words/{self.style_level}-direct", n=self.n_k, temperature=self.temperature,
                          max_new_tokens=self.direct_tokens, limit=self.k_limit, n_boot=self.n_boot, batch_size=64,
                          ks=tuple(range(1, self.n_k + 1)))

    def style_params(self):
        """``{"think": ..., "direct": ...}`` sampling per style for the interventions."""
        import dataclasses

        think = self.eval_params()
        return {"think": dataclasses.replace(think, dataset=f"words/{self.style_level}"), "direct": self.direct_params()}

    def circuit_settings(self):
        """``(PairParams, CircuitConfig)`` of the sweep, and the style circuits' PairParams."""
        import dataclasses

        from thinking_sparks.emergence.pairs import PairParams
        from thinking_sparks.circuits.config import CircuitConfig

        pairs = PairParams(dataset=self.dataset, n_questions=self.n_questions, answer_tokens=self.answer_tokens,
                           max_new_tokens=self.answer_tokens)
        settings = CircuitConfig(steps=self.steps, top_n=self.top_n, rule=self.rule, n_boot=self.n_boot)
        return pairs, settings, dataclasses.replace(pairs, dataset=f"words/{self.style_level}-bare")
