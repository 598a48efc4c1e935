"""Typed page parameters: one dataclass per notebook (its papermill parameters cell's schema).

Each notebook's parameters cell holds literals; its next cell validates them with the matching
``*Params`` dataclass (through :func:`thinking_sparks.runs.validate`), so a bad ``-p`` value fails
at once with one clear message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thinking_sparks.organism.premises import HARD_N


@dataclass
class ModelsParams:
    """Parameters of ``01_models``: the architecture and per-head write norms of one model.

    Attributes:
        model: a model spec (dir, hub name, ``smollm2-135m-instruct``,
            ``organism/[<profile>/]<run>@<step|final>``).
        prompts: user messages whose positions the head-write norms average over.
        device: "auto", "cpu", "cuda", ...
        threads: torch threads (0 = pinned default).
    """

    model: str = "smollm2-135m-instruct"
    prompts: list[str] = field(default_factory=lambda: [
        "What is 7 + 5?",
        "A train travels 60 km in 1.5 hours. What is its average speed?",
        "Let's think step by step: if x + 3 = 10, what is x?",
    ])
    device: str = "auto"
    threads: int = 0

    def __post_init__(self):
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("model must be a non-empty spec string")
        if not self.prompts or not all(isinstance(p, str) and p for p in self.prompts):
            raise ValueError("prompts must be a non-empty list of non-empty strings")


@dataclass
class OrganismParams:
    """Parameters of ``02_organism``: the model organism zoo, its training curves and accuracy.

    Attributes:
        profile: zoo profile (``full``: the book's; ``tiny``: seconds, for tests).
        build: build missing runs first (``sparks zoo build``); False fails on an unbuilt run.
        jobs: runs trained in parallel when building.
        n: samples per problem for pass@1 on the easy and medium sets (and along the checkpoints).
        hard_n: samples per problem on the hard set of the closing table, where the premise checks
            are decided (``organism.premises.HARD_N``: at 4 they straddle 0).
        limit: first problems of each eval set (None: all 100).
        temperature: sampling temperature (the paper's 0.6).
        curve_runs: runs whose every checkpoint is evaluated on ``curve_difficulty``.
        curve_difficulty: ``easy``, ``medium`` or ``hard``.
        device, threads: as everywhere.
    """

    profile: str = "full"
    build: bool = True
    jobs: int = 2
    n: int = 4
    hard_n: int = HARD_N
    limit: int | None = None
    temperature: float = 0.6
    curve_runs: list[str] = field(default_factory=lambda: ["sft", "distill", "grpo-hard"])
    curve_difficulty: str = "hard"
    device: str = "cpu"
    threads: int = 0

    def __post_init__(self):
        from thinking_sparks.organism.report import SETS

        _check_runs(self.profile, list(self.curve_runs), "curve_runs")
        _check_positive(self, "n", "hard_n", optional=("limit",))
        if not 0 <= float(self.temperature) <= 2:
            raise ValueError(f"temperature must lie in [0, 2], got {self.temperature!r}")
        if self.curve_difficulty not in SETS:
            raise ValueError(f"curve_difficulty must be one of {', '.join(SETS)}, got {self.curve_difficulty!r}")


def _check_runs(profile_name: str, runs: list[str], what: str) -> dict:
    """The profile's run table, once ``profile_name`` is a profile and every one of ``runs`` its run."""
    from thinking_sparks.organism.config import PROFILES, profile

    if profile_name not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile_name!r}")
    table = profile(profile_name)
    unknown = [r for r in runs if r not in table]
    if unknown:
        raise ValueError(f"{what} {unknown} are not runs of profile {profile_name!r}: {', '.join(table)}")
    return table


def _check_circuit_fields(p) -> None:
    if not isinstance(p.n_questions, int) or p.n_questions < 4:
        raise ValueError(f"n_questions must be an integer >= 4, got {p.n_questions!r}")
    if p.rule not in ("left", "right"):
        raise ValueError(f"rule must be 'left' (k = 0..m-1) or 'right' (k = 1..m, the paper's), got {p.rule!r}")
    _check_positive(p, "steps", optional=("answer_tokens", "top_n"))


def _check_positive(p, *names: str, optional: tuple[str, ...] = ()) -> None:
    """Each field in ``names`` must be a positive integer, each in ``optional`` one or None."""
    for name in names + optional:
        value = getattr(p, name)
        if name in optional and value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer{' or None' if name in optional else ''}, "
                             f"got {value!r}")


@dataclass
class CircuitInputs:
    """The circuit fields every head page shares (03–06), with their checks.

    Attributes:
        profile: zoo profile (``full``; ``tiny`` for tests).
        dataset, n_questions, answer_tokens: circuit questions and answer-prefix cap (see
            ``emergence.pairs``).
        steps: EAP-IG steps m.
        rule: Riemann rule of the IG path, ``left`` (alpha = k/m, k = 0..m-1: the reference
            library's, which ``../shared/bench`` matches) or ``right`` (k = 1..m: the paper's Eq. 3).
        top_n: edges kept (None: the paper's 5000 / 183,555 of the graph).
        build: build missing zoo runs first.
        device, threads: as everywhere.
    """

    profile: str = "full"
    dataset: str = "organism/hard"
    n_questions: int = 32
    answer_tokens: int | None = 24
    steps: int = 5
    rule: str = "left"
    top_n: int | None = None
    build: bool = True
    device: str = "cpu"
    threads: int = 0

    def __post_init__(self):
        _check_circuit_fields(self)


@dataclass
class CircuitsParams(CircuitInputs):
    """Parameters of ``03_circuits``: one circuit from the ground up.

    Attributes (besides :class:`CircuitInputs`'):
        run: the analysed run: an organism run of ``profile`` or a mapping ``{base: SPEC,
            checkpoints: SPEC | [SPEC, ...]}`` (``emergence.modelruns``); its base is the run's
            parent at its final checkpoint, or the mapping's ``base``.
        step: the analysed checkpoint: ``final`` or a step one of the run's checkpoints names.
        ig_steps: the IG step counts compared (``steps`` is the one the circuit drawn uses).
    """

    run: str | dict[str, Any] = "sft"
    step: str = "final"
    ig_steps: list[int] = field(default_factory=lambda: [5, 20, 100])

    def __post_init__(self):
        from thinking_sparks.emergence.modelruns import check_value

        super().__post_init__()
        check_value(self.run, "run", self.profile, need_base=True)
        if not self.ig_steps or not all(isinstance(m, int) and m >= 1 for m in self.ig_steps):
            raise ValueError(f"ig_steps must be a non-empty list of positive integers, got {self.ig_steps!r}")

    def run_values(self) -> list:
        return [self.run]


@dataclass
class EmergenceParams(CircuitInputs):
    """Parameters of ``04_emergence``: circuits at every checkpoint of every post-training run.

    Attributes (besides :class:`CircuitInputs`'):
        runs: post-training runs traced, each against its base: organism run names of ``profile``,
            or a mapping ``label -> run`` whose values are organism names or ``{base: SPEC,
            checkpoints: SPEC | [SPEC, ...], kind: sft|grpo|distill|...}`` (``emergence.modelruns``).
        reasoning_side: whose answers an intermediate checkpoint's clean side uses (``emergence.pairs``).
        n_boot, n_splits: bootstrap resamples and random half-splits for the noise floor.
    """

    runs: list[str] | dict[str, Any] = field(default_factory=lambda: ["sft", "grpo-easy", "grpo-hard",
                                                                      "grpo-hard-lr", "distill", "hybrid"])
    reasoning_side: str = "own"
    n_boot: int = 200
    n_splits: int = 50

    def __post_init__(self):
        from thinking_sparks.emergence.modelruns import check_values
        from thinking_sparks.emergence.pairs import REASONING_SIDES

        super().__post_init__()
        check_values(self.runs, "runs", self.profile, need_base=True)
        if self.reasoning_side not in REASONING_SIDES:
            raise ValueError(f"reasoning_side must be one of {', '.join(REASONING_SIDES)}, got {self.reasoning_side!r}")
        _check_positive(self, "n_boot", "n_splits")

    def run_values(self) -> list:
        return [self.runs]


@dataclass
class HeadPageParams(CircuitInputs):
    """What the pages that intervene on heads (05, 06) share: circuit inputs, head sets, sampling.

    Attributes (besides :class:`CircuitInputs`'):
        k: heads per set intervened on (the paper uses about 5-10).
        eval_sets: the sets pass@1 is measured on, easiest first (Table 5's claims compare the
            first with the last): names (``organism/easy``, any prefix of
            ``evaluation.datasets.SET_PROVIDERS``) or JSON-lines paths.
        n, limit, temperature, top_p, top_k, max_new_tokens: sampling for pass@1 (n per problem,
            first ``limit`` problems of each set; the paper's T 0.6, top-p 0.95; Qwen3 thinking
            adds top-k 20; ``top_k`` 0 = off).
        n_boot: bootstrap resamples for CIs and verdicts.
    """

    k: int = 5
    eval_sets: list[str] = field(default_factory=lambda: ["organism/easy", "organism/medium", "organism/hard"])
    n: int = 4
    limit: int | None = 50
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = 0
    max_new_tokens: int = 128
    n_boot: int = 1000

    def __post_init__(self):
        super().__post_init__()
        _check_positive(self, "k", "n", "max_new_tokens", "n_boot", optional=("limit",))
        if not self.eval_sets or not all(isinstance(s, str) and s.strip() for s in self.eval_sets):
            raise ValueError(f"eval_sets must be a non-empty list of set names or JSONL paths, got {self.eval_sets!r}")
        if not 0 < float(self.top_p) <= 1:
            raise ValueError(f"top_p must lie in (0, 1], got {self.top_p!r}")
        if not isinstance(self.top_k, int) or isinstance(self.top_k, bool) or self.top_k < 0:
            raise ValueError(f"top_k must be a non-negative integer (0: off), got {self.top_k!r}")

    def _eval_params(self, dataset: str, n: int, limit: int | None):
        from thinking_sparks.evaluation.harness import EvalParams

        return EvalParams(dataset=dataset, n=n, temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                          max_new_tokens=self.max_new_tokens, limit=limit, n_boot=self.n_boot, batch_size=64)


@dataclass
class InterventionsParams(HeadPageParams):
    """Parameters of ``05_interventions``: heads ablated and scaled during generation (Tables 1, 4, 5; Fig 4).

    Runs are organism run names of ``profile`` or mappings ``{base: SPEC, checkpoints: SPEC | [...]}``
    / ``{model: SPEC}`` (``emergence.modelruns``).

    Attributes (besides :class:`HeadPageParams`'):
        model_run, base_run: the post-trained model whose heads are ablated (its final checkpoint;
            Table 1) and the base model (its final checkpoint; base circuit, Table 5's model).
        sft_run, grpo_run: runs whose emergent heads are scaled in the base (Table 5); the GRPO
            run's first checkpoint gives its early circuit, and its checkpoints make Fig 4. None:
            that part of the page is left out.
        control_dataset: the control circuit's questions (Table 1's TriviaQA row): ``auto`` (the
            organism's single-operation problems when ``eval_sets`` are the organism's, else
            none), a set name or JSONL path, or None (no control set).
        seeds: random layer-matched head sets (Table 1's added control).
    """

    model_run: str | dict[str, Any] = "distill"
    base_run: str | dict[str, Any] = "base"
    sft_run: str | dict[str, Any] | None = "sft"
    grpo_run: str | dict[str, Any] | None = "grpo-easy"
    control_dataset: str | None = "auto"
    seeds: int = 5

    def __post_init__(self):
        from thinking_sparks.emergence.modelruns import check_value

        for name in ("model_run", "sft_run", "grpo_run"):
            if getattr(self, name) is not None or name == "model_run":
                check_value(getattr(self, name), name, self.profile, need_base=True)
        check_value(self.base_run, "base_run", self.profile)
        super().__post_init__()
        _check_positive(self, "seeds")
        if self.control_dataset is not None and not (isinstance(self.control_dataset, str)
                                                     and self.control_dataset.strip()):
            raise ValueError(f"control_dataset must be 'auto', a set name, a JSONL path or None, "
                             f"got {self.control_dataset!r}")

    def run_values(self) -> list:
        return [self.model_run, self.base_run, self.sft_run, self.grpo_run]

    def eval_params(self):
        return self._eval_params(self.eval_sets[0], self.n, self.limit)


#: how a hybrid model's two modes are asked for (``thinking_sparks.emergence.pairs.MODES``)
THINK_SWITCHES = ("auto", "flags", "template")


@dataclass
class ThinkingParams(HeadPageParams):
    """Parameters of ``06_thinking_modes``: a hybrid model's think-on / think-off circuits and
    interventions (Table 2; Figs 5, 17).

    Attributes (besides :class:`HeadPageParams`'; ``k`` think-off-only heads, top by score, and ``n``,
    ``limit`` for Table 2's pass@1):
        hybrid_run: the hybrid thinker (Qwen3's role): an organism run of ``profile`` or
            ``{model: SPEC}`` (its final checkpoint is used).
        think_switch: ``flags`` (the organism's: ``/think`` or ``/no_think`` after the question,
            and the template's empty think block for off), ``template`` (the chat template's
            ``enable_thinking`` True / False alone, as Qwen3's own template), or ``auto``
            (``flags`` for an organism run, else ``template``).
        k_dataset: the set of Fig 5's pass@k / success@k curves.
        n_k, k_limit: samples per problem and problems (first of ``k_dataset``) for Fig 5's curves.
    """

    hybrid_run: str | dict[str, Any] = "hybrid"
    think_switch: str = "auto"
    k_dataset: str = "organism/hard"
    n_k: int = 64
    k_limit: int = 30

    def __post_init__(self):
        from thinking_sparks.emergence.modelruns import check_value

        check_value(self.hybrid_run, "hybrid_run", self.profile, need_base=isinstance(self.hybrid_run, str))
        if self.think_switch not in THINK_SWITCHES:
            raise ValueError(f"think_switch must be one of {', '.join(THINK_SWITCHES)}, got {self.think_switch!r}")
        if not isinstance(self.k_dataset, str) or not self.k_dataset.strip():
            raise ValueError(f"k_dataset must be a set name or JSONL path, got {self.k_dataset!r}")
        super().__post_init__()
        _check_positive(self, "n_k", "k_limit")

    def run_values(self) -> list:
        return [self.hybrid_run]

    def switch(self) -> str:
        """``flags`` or ``template`` (``auto`` resolved by the run's kind of value)."""
        if self.think_switch != "auto":
            return self.think_switch
        return "flags" if isinstance(self.hybrid_run, str) else "template"

    def eval_params(self, k_curves: bool = False):
        return self._eval_params(self.k_dataset if k_curves else self.eval_sets[0], self.n_k if k_curves else self.n,
                                 self.k_limit if k_curves else self.limit)


@dataclass
class RealModelParams:
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
        """``(PairParams, CircuitSettings)`` of the sweep, and the style circuits' PairParams."""
        import dataclasses

        from thinking_sparks.emergence.pairs import PairParams
        from thinking_sparks.emergence.sweep import CircuitSettings

        pairs = PairParams(dataset=self.dataset, n_questions=self.n_questions, answer_tokens=self.answer_tokens,
                           max_new_tokens=self.answer_tokens)
        settings = CircuitSettings(steps=self.steps, top_n=self.top_n, rule=self.rule, n_boot=self.n_boot)
        return pairs, settings, dataclasses.replace(pairs, dataset=f"words/{self.style_level}-bare")
