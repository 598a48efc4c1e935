"""Typed page parameters: one dataclass per notebook (its papermill parameters cell's schema).

Each notebook's parameters cell holds literals; its next cell validates them with the matching
``*Params`` dataclass (through :func:`thinking_sparks.runs.validate`), so a bad ``-p`` value fails
at once with one clear message.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
        n: samples per problem for pass@1.
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
    limit: int | None = None
    temperature: float = 0.6
    curve_runs: list[str] = field(default_factory=lambda: ["sft", "distill", "grpo-hard"])
    curve_difficulty: str = "hard"
    device: str = "cpu"
    threads: int = 0

    def __post_init__(self):
        from thinking_sparks.organism.report import SETS

        _check_runs(self.profile, list(self.curve_runs), "curve_runs")
        _check_positive(self, "n", optional=("limit",))
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


def _check_profile_runs(profile_name: str, runs: list[str], what: str) -> None:
    """:func:`_check_runs`, and each run post-trained from a base (it has a parent)."""
    table = _check_runs(profile_name, runs, what)
    no_parent = [r for r in runs if not table[r].parent]
    if no_parent:
        raise ValueError(f"{what} {no_parent} are not post-trained from a base; choose from "
                         f"{', '.join(r for r in table if table[r].parent)}")


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
    """Parameters of ``03_circuits``: one circuit of the organism from the ground up.

    Attributes (besides :class:`CircuitInputs`'):
        run, step: the analysed checkpoint (``organism/<profile>/<run>@<step>``); its base is the
            run's parent at its final checkpoint.
        ig_steps: the IG step counts compared (``steps`` is the one the circuit drawn uses).
    """

    run: str = "sft"
    step: str = "final"
    ig_steps: list[int] = field(default_factory=lambda: [5, 20, 100])

    def __post_init__(self):
        super().__post_init__()
        _check_profile_runs(self.profile, [self.run], "run")
        if not self.ig_steps or not all(isinstance(m, int) and m >= 1 for m in self.ig_steps):
            raise ValueError(f"ig_steps must be a non-empty list of positive integers, got {self.ig_steps!r}")


@dataclass
class EmergenceParams(CircuitInputs):
    """Parameters of ``04_emergence``: circuits at every checkpoint of every post-training run.

    Attributes (besides :class:`CircuitInputs`'):
        runs: post-training runs traced (each against its parent's final checkpoint).
        reasoning_side: whose answers an intermediate checkpoint's clean side uses (``emergence.pairs``).
        n_boot, n_splits: bootstrap resamples and random half-splits for the noise floor.
    """

    runs: list[str] = field(default_factory=lambda: ["sft", "grpo-easy", "grpo-hard", "grpo-hard-lr", "distill",
                                                     "hybrid"])
    reasoning_side: str = "own"
    n_boot: int = 200
    n_splits: int = 50

    def __post_init__(self):
        from thinking_sparks.emergence.pairs import REASONING_SIDES

        super().__post_init__()
        if not self.runs:
            raise ValueError("runs must name at least one post-training run")
        _check_profile_runs(self.profile, list(self.runs), "runs")
        if self.reasoning_side not in REASONING_SIDES:
            raise ValueError(f"reasoning_side must be one of {', '.join(REASONING_SIDES)}, got {self.reasoning_side!r}")
        _check_positive(self, "n_boot", "n_splits")


@dataclass
class HeadPageParams(CircuitInputs):
    """What the pages that intervene on heads (05, 06) share: circuit inputs, head sets, sampling.

    Attributes (besides :class:`CircuitInputs`'):
        k: heads per set intervened on (the paper uses about 5-10).
        n, limit, temperature, max_new_tokens: sampling for pass@1 (n per problem, first ``limit``
            problems of each set).
        n_boot: bootstrap resamples for CIs and verdicts.
    """

    k: int = 5
    n: int = 4
    limit: int | None = 50
    temperature: float = 0.6
    max_new_tokens: int = 128
    n_boot: int = 1000

    def __post_init__(self):
        super().__post_init__()
        _check_positive(self, "k", "n", "max_new_tokens", "n_boot", optional=("limit",))

    def _eval_params(self, dataset: str, n: int, limit: int | None):
        from thinking_sparks.evaluation.harness import EvalParams

        return EvalParams(dataset=dataset, n=n, temperature=self.temperature, max_new_tokens=self.max_new_tokens,
                          limit=limit, n_boot=self.n_boot, batch_size=64)


@dataclass
class InterventionsParams(HeadPageParams):
    """Parameters of ``05_interventions``: heads ablated and scaled during generation (Tables 1, 4, 5; Fig 4).

    Attributes (besides :class:`HeadPageParams`'):
        model_run, base_run: the post-trained model whose heads are ablated (Table 1) and its base.
        sft_run, grpo_run: runs whose emergent heads are scaled in the base (Table 5); the GRPO
            run's first checkpoint gives its early circuit, and its checkpoints make Fig 4.
        seeds: random layer-matched head sets (Table 1's added control).
    """

    model_run: str = "distill"
    base_run: str = "base"
    sft_run: str = "sft"
    grpo_run: str = "grpo-easy"
    seeds: int = 5

    def __post_init__(self):
        for name in ("model_run", "sft_run", "grpo_run"):
            _check_profile_runs(self.profile, [getattr(self, name)], name)
        _check_runs(self.profile, [self.base_run], "base_run")
        super().__post_init__()
        _check_positive(self, "seeds")

    def eval_params(self):
        return self._eval_params("organism/easy", self.n, self.limit)


@dataclass
class ThinkingParams(HeadPageParams):
    """Parameters of ``06_thinking_modes``: the hybrid's think-on / think-off circuits and interventions
    (Table 2; Figs 5, 17).

    Attributes (besides :class:`HeadPageParams`'; ``k`` think-off-only heads, top by score, and ``n``,
    ``limit`` for Table 2's pass@1):
        hybrid_run: the hybrid thinker (Qwen3's role).
        n_k, k_limit: samples per problem and problems (first of the hard set) for Fig 5's curves.
    """

    hybrid_run: str = "hybrid"
    n_k: int = 64
    k_limit: int = 30

    def __post_init__(self):
        _check_profile_runs(self.profile, [self.hybrid_run], "hybrid_run")
        super().__post_init__()
        _check_positive(self, "n_k", "k_limit")

    def eval_params(self, k_curves: bool = False):
        return self._eval_params("organism/hard", self.n_k if k_curves else self.n,
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
        device, threads: as everywhere (``cuda`` trains ``gpu_steps``; circuits run on the CPU).
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
