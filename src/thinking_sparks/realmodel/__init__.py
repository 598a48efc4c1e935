"""A real pretrained model (SmolLM2-135M-Instruct) in the paper's pipeline.

- :mod:`~thinking_sparks.realmodel.runs` — SFT data written for a chat model (the organism's
  problems in chat English, or GSM8K solutions), named runs cached by recipe + data + seed
  (spec ``real/<run>@<step|final>``), the ``words/...`` eval sets;
- :mod:`~thinking_sparks.realmodel.styles` — think vs direct prompting as two modes of the
  emergence room's circuit sides (circuit pairs from the model's own answers in both styles);
- :mod:`~thinking_sparks.realmodel.page` — what page ``07_real_model`` computes (the SFT run traced,
  accuracy before / after, the two styles' circuits, overlap and head interventions);
- :mod:`~thinking_sparks.realmodel.claims` — that page's verdict table;
- :mod:`~thinking_sparks.realmodel.cli` — ``sparks real train`` / ``sparks real list``.

Nothing heavy is imported here; import the submodule you need.
"""
