"""A real pretrained model (SmolLM2-135M-Instruct) in the paper's pipeline.

- :mod:`~thinking_sparks.realmodel.runs` — SFT data written for a chat model (the organism's
  problems in chat English, or GSM8K solutions), named runs cached by recipe + data + seed
  (spec ``real/<run>@<step|final>``), the ``words/...`` eval sets;
- :mod:`~thinking_sparks.realmodel.training` — a named run with overrides, trained in a worker
  process beside other work, its checkpoints as specs;
- :mod:`~thinking_sparks.realmodel.accuracy` — pass@1 before / after post-training, paired;
- :mod:`~thinking_sparks.realmodel.sweep` — the run's checkpoints traced against the start model,
  emergent heads per layer;
- :mod:`~thinking_sparks.realmodel.styles` — think vs direct prompting as two modes of the
  emergence room's circuit sides (circuit pairs from the model's own answers in both styles), the
  two style circuits and their overlap;
- :mod:`~thinking_sparks.realmodel.ablations` — zeroing / scaling the heads only one style recruits;
- :mod:`~thinking_sparks.realmodel.claims` — page ``07_real_model``'s verdict table (the page itself
  is :mod:`thinking_sparks.pages.real_model`);
- :mod:`~thinking_sparks.realmodel.cli` — ``sparks real train`` / ``sparks real list``.

Nothing heavy is imported here; import the submodule you need.
"""
