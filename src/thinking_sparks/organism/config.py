"""Typed configs for the organism's recipes, with a ``full`` and a ``tiny`` profile.

Each recipe config is a dataclass documented field by field; the post-training ones map onto
TRL's ``SFTConfig`` / ``GRPOConfig`` (:meth:`SFTRecipe.trl_config`, :meth:`GRPORecipe.trl_config`)
so the same recipe runs on a real model (``model="Qwen/Qwen2.5-Math-1.5B"``) given a GPU.

:func:`profile` returns the ordered run table of a profile: run name -> config. The ``full``
profile is sized for the whole zoo to build in <= 20 min on a 2-core CPU; ``tiny`` for tests
(< 1 min, models too small to learn anything).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from thinking_sparks.plan import PLAN

__all__ = ["FIGURE_RUNS", "PROFILES", "DistillRecipe", "GRPORecipe", "HybridRecipe", "LlamaShape", "ModelShape",
           "PretrainConfig", "RunSpec", "SFTRecipe", "TrainCommon", "config_hash", "family", "family_table", "override",
           "profile"]

PROFILES = ("full", "tiny")
#: runs trained for one figure's comparison, not as a premise of the organism: page 02 lists, evaluates and
#: draws them, but its premise checks (``organism.premises``) leave them out; page 04 tests them (Fig 8)
FIGURE_RUNS = ("grpo-hard-lr20",)


@dataclass
class ModelShape:
    """Qwen2 architecture hyper-parameters of an organism model."""

    d_model: int = 64          #: residual width (hidden_size)
    n_layers: int = 8          #: transformer blocks
    n_heads: int = 8           #: query heads per layer
    n_kv_heads: int = 2        #: key/value heads (GQA: fewer than query heads)
    head_dim: int | None = 16  #: per-head width (None: d_model // n_heads, as in Qwen2)
    d_ff: int = 128            #: MLP intermediate size
    max_positions: int = 256   #: max_position_embeddings
    rope_theta: float = 10000.0  #: RoPE base
    tie_embeddings: bool = True  #: share input embedding and unembedding
    family: ClassVar[str] = "qwen2"  #: architecture family (a class constant: not in the config's hash)

    def hf_config(self, tokenizer):
        """A ``transformers.Qwen2Config`` of this shape for ``tokenizer``'s vocabulary."""
        from transformers import Qwen2Config  # deferred: transformers is heavy or optional, loaded only here

        if self.n_heads % self.n_kv_heads or (self.head_dim is None and self.d_model % self.n_heads):
            raise ValueError(f"bad shape {self}: n_heads must divide d_model (or head_dim be set) and be a "
                             "multiple of n_kv_heads")
        extra = {} if self.head_dim is None else {"head_dim": self.head_dim}
        return Qwen2Config(
            vocab_size=len(tokenizer), hidden_size=self.d_model, intermediate_size=self.d_ff,
            num_hidden_layers=self.n_layers, num_attention_heads=self.n_heads,
            num_key_value_heads=self.n_kv_heads, max_position_embeddings=self.max_positions,
            rope_theta=self.rope_theta, tie_word_embeddings=self.tie_embeddings,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
            use_sliding_window=False, attention_dropout=0.0, **extra,
        )

    def causal_lm(self, tokenizer):
        """A freshly initialised causal LM of this shape (seed torch first)."""
        from transformers import Qwen2ForCausalLM  # deferred: transformers is heavy or optional, loaded only here

        return Qwen2ForCausalLM(self.hf_config(tokenizer))


@dataclass
class LlamaShape(ModelShape):
    """Llama hyper-parameters (the second family, paper v2 Figs 10, 11, 18): the Qwen students' grid of
    heads (maps compare cell by cell) with Llama's no q/k/v biases, MLP at 4 x d_model (Llama-3.2-1B:
    8192 = 4 x 2048), RoPE base 500,000, RMSNorm eps 1e-5. Llama 3's long-context RoPE rescaling is
    left out: it acts beyond the pretraining length, which the organism never leaves."""

    d_ff: int = 256              #: MLP intermediate size (4 x d_model, Llama's ratio)
    rope_theta: float = 500000.0  #: RoPE base (Llama 3)
    rms_norm_eps: float = 1e-5   #: RMSNorm epsilon (Llama 3)
    arch: str = "llama"          #: architecture tag (keeps this shape's hash apart from a Qwen2 shape's)
    family: ClassVar[str] = "llama"

    def hf_config(self, tokenizer):
        """A ``transformers.LlamaConfig`` of this shape for ``tokenizer``'s vocabulary."""
        from transformers import LlamaConfig  # deferred: transformers is heavy or optional, loaded only here

        super().hf_config(tokenizer)  # the shape's checks
        return LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=self.d_model, intermediate_size=self.d_ff,
            num_hidden_layers=self.n_layers, num_attention_heads=self.n_heads,
            num_key_value_heads=self.n_kv_heads, head_dim=self.head_dim or self.d_model // self.n_heads,
            max_position_embeddings=self.max_positions, rope_theta=self.rope_theta, rms_norm_eps=self.rms_norm_eps,
            tie_word_embeddings=self.tie_embeddings, attention_bias=False, mlp_bias=False,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
            attention_dropout=0.0,
        )

    def causal_lm(self, tokenizer):
        from transformers import LlamaForCausalLM  # deferred: transformers is heavy or optional, loaded only here

        return LlamaForCausalLM(self.hf_config(tokenizer))


@dataclass
class PretrainConfig:
    """Pretraining from scratch on the organism corpus (:mod:`~thinking_sparks.organism.pretrain`)."""

    shape: ModelShape = field(default_factory=ModelShape)  #: model architecture
    n_chains: int = 80_000       #: raw worked-chain documents ("math web text")
    n_chat: int = 80_000         #: chat Q&A documents
    level_weights: tuple[float, ...] = (0.25, 0.25, 0.2, 0.15, 0.15)  #: sampling weight of levels 1..5
    think_fraction: float = 0.35  #: share of chat replies that reason (rest answer directly)
    epochs: float = 1.0          #: passes over the corpus
    seq_len: int = 128           #: tokens per packed training row
    batch_size: int = 16         #: packed rows per optimiser step
    learning_rate: float = 3e-3  #: peak AdamW learning rate (cosine decay)
    warmup_ratio: float = 0.03   #: share of steps with linear warm-up
    weight_decay: float = 0.01   #: AdamW weight decay
    n_checkpoints: int = 10      #: checkpoints saved along the run (the last is ``@final``)
    logging_steps: int = 1       #: log every this many steps
    seed: int = 0                #: seeds data, init and training order
    device: str = "cpu"          #: training device ("cpu" or "cuda")
    progress: bool = True        #: show a tqdm bar


@dataclass
class TrainCommon:
    """Optimisation settings shared by the post-training recipes (map onto TRL configs)."""

    learning_rate: float = 1e-3  #: peak learning rate
    lr_scheduler: str = "cosine"  #: transformers scheduler name
    warmup_ratio: float = 0.05   #: share of steps with linear warm-up
    weight_decay: float = 0.0    #: AdamW weight decay
    max_steps: int = 200         #: optimiser steps
    n_checkpoints: int = 10      #: evenly spaced checkpoints (save_steps = max_steps // n_checkpoints)
    logging_steps: int = 1       #: log every step (tidy log beside the run)
    seed: int = 0                #: seeds data order, init of heads, sampling
    device: str = "cpu"          #: "cpu" or "cuda"
    bf16: bool = False           #: bfloat16 mixed precision (GPU only)
    gradient_checkpointing: bool = False  #: trade compute for memory (real models)
    progress: bool = True        #: show a tqdm bar

    def trainer_kwargs(self, output_dir: str) -> dict[str, Any]:
        """Keyword arguments common to ``SFTConfig`` and ``GRPOConfig``."""
        return dict(
            output_dir=output_dir, learning_rate=self.learning_rate, lr_scheduler_type=self.lr_scheduler,
            warmup_steps=self.warmup_ratio, weight_decay=self.weight_decay, max_steps=self.max_steps,
            save_strategy="steps", save_steps=max(1, self.max_steps // self.n_checkpoints), save_only_model=True,
            logging_steps=self.logging_steps, report_to="none", seed=self.seed, data_seed=self.seed,
            use_cpu=self.device == "cpu", bf16=self.bf16, fp16=False, dataloader_num_workers=0,
            gradient_checkpointing=self.gradient_checkpointing, disable_tqdm=not self.progress,
        )


@dataclass
class SFTRecipe(TrainCommon):
    """Supervised fine-tuning on worked solutions (TRL ``SFTTrainer``; OpenR1-Math's role)."""

    model: str | None = None     #: model spec to fine-tune; None = the organism's base run
    n_train: int = 6000          #: training problems (prompt-completion pairs)
    levels: tuple[int, ...] = (1, 2, 3, 4, 5)  #: difficulty levels of the training problems
    level_weights: tuple[float, ...] | None = None  #: sampling weights of ``levels`` (None: uniform)
    system_prompt: str | None = None  #: optional system message in every prompt
    batch_size: int = 32         #: per-device train batch size
    max_length: int = 256        #: truncate prompt+completion to this many tokens
    sampling: str = "random"     #: batch order: "random", or "group_by_length" (batches of similar length: less padding)
    learning_rate: float = 1e-3

    def trl_config(self, output_dir: str):
        """This recipe as a ``trl.SFTConfig``."""
        from trl import SFTConfig  # deferred: trl is heavy or optional, loaded only here

        return SFTConfig(**self.trainer_kwargs(output_dir), per_device_train_batch_size=self.batch_size,
                         max_length=self.max_length, completion_only_loss=True, packing=False,
                         train_sampling_strategy=self.sampling,
                         dataset_num_proc=None, eos_token="<|im_end|>" if self.model is None else None)


@dataclass
class GRPORecipe(TrainCommon):
    """GRPO with an accuracy reward and a format reward (TRL ``GRPOTrainer``)."""

    model: str | None = None     #: model spec to train; None = the organism's base run
    n_prompts: int = 4000        #: training problems (each a prompt)
    levels: tuple[int, ...] = (3, 4, 5)  #: difficulty levels (data variant: easy = GSM8K's role, hard = OpenR1's)
    system_prompt: str | None = None  #: optional system message (OpenR1 uses one for real models)
    prompts_per_step: int = 8    #: distinct prompts per optimiser step
    num_generations: int = 8     #: completions per prompt (the group)
    max_completion_length: int = 96  #: generation budget in tokens
    temperature: float = 0.8     #: sampling temperature of the rollouts
    beta: float = 0.0            #: KL coefficient to the reference model (0: no reference model)
    loss_type: str = "dapo"      #: TRL loss aggregation
    scale_rewards: str = "group"  #: advantage scaling ("group", "batch", "none")
    accuracy_weight: float = 1.0  #: weight of the accuracy reward (1 if the answer is correct)
    format_weight: float = 0.2   #: weight of the format reward (1 if ``<think>..</think> <answer>..</answer>``)
    learning_rate: float = 3e-4

    def trl_config(self, output_dir: str):
        """This recipe as a ``trl.GRPOConfig`` (``per_device_train_batch_size`` counts completions)."""
        from trl import GRPOConfig  # deferred: trl is heavy or optional, loaded only here

        return GRPOConfig(
            **self.trainer_kwargs(output_dir), per_device_train_batch_size=self.prompts_per_step * self.num_generations,
            num_generations=self.num_generations, steps_per_generation=1, max_completion_length=self.max_completion_length,
            temperature=self.temperature, top_p=1.0, top_k=0, beta=self.beta, loss_type=self.loss_type,
            scale_rewards=self.scale_rewards, reward_weights=[self.accuracy_weight, self.format_weight],
            use_vllm=False, shuffle_dataset=True, log_completions=False, disable_dropout=True,
            remove_unused_columns=False,
        )


@dataclass
class DistillRecipe:
    """Distillation: a larger teacher, trained to reason, writes traces; the student learns them."""

    teacher: PretrainConfig = field(default_factory=PretrainConfig)  #: teacher pretraining (think_fraction 1)
    n_traces: int = 4000         #: problems the teacher solves (its mistakes kept)
    levels: tuple[int, ...] = (1, 2, 3, 4, 5)  #: difficulty levels of the traced problems
    temperature: float = 0.7     #: teacher sampling temperature
    max_new_tokens: int = 128    #: teacher generation budget
    student: SFTRecipe = field(default_factory=SFTRecipe)  #: how the student (base) is fine-tuned


@dataclass
class HybridRecipe:
    """One model that thinks on ``/think`` (or no flag) and answers directly on ``/no_think``."""

    sft: SFTRecipe = field(default_factory=SFTRecipe)  #: fine-tuning settings (from base)
    think_share: float = PLAN.organism.think_share  #: share of examples with thinking (rest: empty think block)
    unflagged_share: float = 0.2  #: share of thinking examples with no flag (thinking is the default)


@dataclass
class RunSpec:
    """One run of the zoo: what it trains and from which runs."""

    name: str                    #: run name (``organism/<name>@<step>``)
    kind: str                    #: pretrain | sft | grpo | distill | hybrid
    config: Any                  #: the recipe config
    parent: str | None = None    #: run whose final checkpoint is the starting model
    teacher: str | None = None   #: teacher run (distill only)


def _full() -> list[RunSpec]:
    # Students: 8 layers x 8 query heads (64 heads, 2 KV heads), head_dim 16 (CPU attention runs ~30%
    # faster per head than at head_dim 8), d_ff 128 (the same MLP parameters in total as the old 4 x 4
    # students). Corpus 64k + 64k documents (1930 steps; the 4 x 4 base's loss had nearly flattened).
    # benchmarks/organism_train.py measures the per-step costs behind these choices.
    student = ModelShape()  # 8 x 8, d_model 64, head_dim 16, d_ff 128
    base = PretrainConfig(shape=student, n_chains=64_000, n_chat=64_000)
    # The teacher (0.55M parameters against the students' 0.37M) is pretrained to always reason.
    teacher = PretrainConfig(shape=ModelShape(d_model=96, n_layers=4, n_heads=6, n_kv_heads=2, head_dim=None, d_ff=384),
                             think_fraction=1.0, seed=1)
    # 500 steps x 32 = one pass over 16k worked solutions; batches grouped by length (a third less padding).
    sft = SFTRecipe(max_steps=500, n_train=16_000, n_checkpoints=10, sampling="group_by_length")
    # 150 steps at lr 8e-5 (the 4 x 4 zoo ran 250 at 5e-5): the hard-data accuracy reward climbs 0.067 -> 0.093.
    # The lr variant (the paper's Fig 8 compares a higher lr) runs at 1.5x: at 2x (1.6e-4) the reward
    # fell 0.082 -> 0.038 by step 75 and had only climbed back to 0.061 by step 150.
    grpo_hard = GRPORecipe(levels=(2, 3, 4), max_steps=150, n_checkpoints=10, prompts_per_step=8, num_generations=8,
                           max_completion_length=80, learning_rate=8e-5)
    return [
        RunSpec("base", "pretrain", base),
        RunSpec("teacher", "pretrain", teacher),
        RunSpec("sft", "sft", sft, parent="base"),
        RunSpec("grpo-easy", "grpo", dataclasses.replace(grpo_hard, levels=(1, 2)), parent="base"),
        RunSpec("grpo-hard", "grpo", grpo_hard, parent="base"),
        RunSpec("grpo-hard-lr", "grpo", dataclasses.replace(grpo_hard, learning_rate=grpo_hard.learning_rate * 1.5),
                parent="base"),
        # Fig 8's ratio: the paper's comparison lr is 20x its main GRPO lr (2e-5 vs 1e-6); same recipe otherwise.
        # At 1.6e-3 the run collapses: accuracy reward 0.078 at step 1 -> 0 by step 20 (last 25 steps 0.021),
        # completions 17 -> 6 tokens (the format reward alone); 206 s, 80 cpu-s on a loaded 2-core machine.
        RunSpec("grpo-hard-lr20", "grpo", dataclasses.replace(grpo_hard, learning_rate=grpo_hard.learning_rate * 20),
                parent="base"),
        RunSpec("distill", "distill", DistillRecipe(teacher=teacher, n_traces=8000, student=sft), parent="base",
                teacher="teacher"),
        # the share of thinking examples is the analysis plan's (plan.PLAN.organism.think_share, an even mix)
        RunSpec("hybrid", "hybrid", HybridRecipe(sft=sft), parent="base"),
        *_llama(base, LlamaShape(), sft, grpo_hard),
    ]


def _llama(base: PretrainConfig, shape: LlamaShape, sft: SFTRecipe, grpo: GRPORecipe) -> list[RunSpec]:
    """The Llama family: its own base (``shape``) pretrained on the Qwen base's corpus with its recipe,
    then SFT and GRPO (hard data, the paper's OpenR1 runs) with the Qwen runs' recipes and spacing."""
    return [RunSpec("llama-base", "pretrain", dataclasses.replace(base, shape=shape)),
            RunSpec("llama-sft", "sft", sft, parent="llama-base"),
            RunSpec("llama-grpo", "grpo", grpo, parent="llama-base")]


def _tiny() -> list[RunSpec]:
    shape = ModelShape(d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=None, d_ff=64, max_positions=160)
    base = PretrainConfig(shape=shape, n_chains=64, n_chat=64, seq_len=64, batch_size=8, n_checkpoints=2,
                          progress=False)
    teacher = dataclasses.replace(base, shape=dataclasses.replace(shape, d_model=48, d_ff=96), think_fraction=1.0,
                                  seed=1)
    post = dict(max_steps=3, n_checkpoints=3, progress=False)
    sft = SFTRecipe(n_train=48, batch_size=8, **post)
    grpo = GRPORecipe(n_prompts=16, prompts_per_step=2, num_generations=2, max_completion_length=12, **post)
    return [
        RunSpec("base", "pretrain", base),
        RunSpec("teacher", "pretrain", teacher),
        RunSpec("sft", "sft", sft, parent="base"),
        RunSpec("grpo-easy", "grpo", dataclasses.replace(grpo, levels=(1, 2)), parent="base"),
        RunSpec("grpo-hard", "grpo", grpo, parent="base"),
        RunSpec("grpo-hard-lr", "grpo", dataclasses.replace(grpo, learning_rate=grpo.learning_rate * 4), parent="base"),
        RunSpec("grpo-hard-lr20", "grpo", dataclasses.replace(grpo, learning_rate=grpo.learning_rate * 20),
                parent="base"),
        RunSpec("distill", "distill", DistillRecipe(teacher=teacher, n_traces=16, max_new_tokens=16, student=sft),
                parent="base", teacher="teacher"),
        RunSpec("hybrid", "hybrid", HybridRecipe(sft=sft), parent="base"),
        *_llama(base, LlamaShape(d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=None, d_ff=128,
                                 max_positions=160), sft, grpo),
    ]


def family(table: dict[str, RunSpec], name: str) -> str:
    """The architecture family of run ``name`` (``qwen2`` or ``llama``): its pretraining run's shape."""
    spec = table[name]
    while spec.kind != "pretrain":
        spec = table[spec.parent]
    return spec.config.shape.family


def family_table(name: str, family_name: str = "qwen2") -> dict[str, RunSpec]:
    """The runs of profile ``name`` of one architecture family, in build order (``qwen2``: the organism
    of pages 02-07; ``llama``: the generalisation family of page 08)."""
    table = profile(name)
    return {run: spec for run, spec in table.items() if family(table, run) == family_name}


def profile(name: str) -> dict[str, RunSpec]:
    """The run table of profile ``name`` (``full`` or ``tiny``), in build order."""
    if name not in PROFILES:
        raise ValueError(f"unknown organism profile {name!r}; choose one of {', '.join(PROFILES)}")
    return {r.name: r for r in (_full() if name == "full" else _tiny())}


def config_hash(cfg: Any) -> str:
    """Stable short hash of a (nested) dataclass config; keys the zoo's cache."""
    blob = json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _coerce(text: str, current: Any, where: str) -> Any:
    """``text`` parsed to the type of ``current`` (the field's present value)."""
    try:
        if isinstance(current, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return text.lower() in ("true", "1", "yes")
        if isinstance(current, int):
            return int(text)
        if isinstance(current, float):
            return float(text)
        if isinstance(current, tuple):
            kind = type(current[0]) if current else float
            return tuple(kind(x) for x in text.replace("(", "").replace(")", "").split(",") if x.strip())
        if current is None:
            return None if text.lower() == "none" else json.loads(text) if text[:1] in "[{0123456789-" else text
        return text
    except ValueError:
        raise ValueError(f"cannot set {where}={text!r}: expected a {type(current).__name__}") from None


def override(cfg: Any, assignments: list[str]) -> Any:
    """A copy of the (nested) dataclass ``cfg`` with ``field=value`` / ``sub.field=value`` applied.

    Values are parsed to the type of the field's current value (bools take true/false, tuples take
    comma lists, fields that are None take JSON or a string). Unknown fields raise ``ValueError``.
    """
    cfg = dataclasses.replace(cfg)
    for item in assignments:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"override {item!r} is not of the form field=value")
        *path, last = key.strip().split(".")
        parent = cfg
        for part in path:
            child = getattr(parent, part, None)
            if not dataclasses.is_dataclass(child):
                raise ValueError(f"{type(cfg).__name__} has no section {part!r} (in {item!r})")
            child = dataclasses.replace(child)
            setattr(parent, part, child)
            parent = child
        names = {f.name for f in dataclasses.fields(parent)}
        if last not in names:
            raise ValueError(f"{type(parent).__name__} has no field {last!r}; fields: {', '.join(sorted(names))}")
        setattr(parent, last, _coerce(text.strip(), getattr(parent, last), key))
    return cfg
