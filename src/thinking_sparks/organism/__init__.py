"""The model organism: a small Qwen2 model that learns multi-step arithmetic, post-trained four ways.

Modules (one concept each):

- :mod:`~thinking_sparks.organism.task` — problem generator (levels 1..5, worked solutions,
  disjoint splits, fixed eval sets ``easy`` / ``medium`` / ``hard``) and the chat reply format;
- :mod:`~thinking_sparks.organism.tokenizer` — word-level tokenizer (one token per digit) with a
  Qwen-shaped chat template (``<think>``, ``<answer>``, ``/think`` / ``/no_think``);
- :mod:`~thinking_sparks.organism.config` — typed recipe configs, ``full`` and ``tiny`` profiles;
- :mod:`~thinking_sparks.organism.pretrain` (base, teacher), :mod:`~thinking_sparks.organism.sft`,
  :mod:`~thinking_sparks.organism.grpo`, :mod:`~thinking_sparks.organism.distill`,
  :mod:`~thinking_sparks.organism.hybrid` — the recipes (TRL ``SFTTrainer`` / ``GRPOTrainer``);
- :mod:`~thinking_sparks.organism.zoo` — run registry, ``build``, ``list_runs``,
  ``resolve_checkpoint('organism/<run>@<step|final>')``;
- :mod:`~thinking_sparks.organism.scores` — pass@1 of the zoo's checkpoints through the evaluation
  harness, example completions, the sanity floor;
- :mod:`~thinking_sparks.organism.curves` — training logs, loss and GRPO reward curves;
- :mod:`~thinking_sparks.organism.shapes` — the runs' shapes, parameter counts and build times;
- :mod:`~thinking_sparks.organism.premises` — the premise checks (paired differences, GRPO's reward rise).

Nothing heavy is imported here; import the submodule you need.
"""
