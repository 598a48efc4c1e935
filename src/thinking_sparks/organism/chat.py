"""The organism's chat format: the assistant's reply with and without reasoning, and the Qwen3-style
soft switch (``/think``, ``/no_think``) appended to a question. Re-exported by
:mod:`thinking_sparks.organism.task`, which writes every training example in it."""

from __future__ import annotations

THINK_FLAG, NO_THINK_FLAG = "/think", "/no_think"


def think_reply(solution: str, answer: int | str) -> str:
    """Assistant reply that reasons: ``<think> chain </think> <answer> N </answer>``."""
    return f"<think> {solution} </think> <answer> {answer} </answer>"


def direct_reply(answer: int | str) -> str:
    """Assistant reply without reasoning: ``<think> </think> <answer> N </answer>``."""
    return f"<think> </think> <answer> {answer} </answer>"


def flagged(question: str, think: bool | None) -> str:
    """``question`` with the Qwen3-style soft switch appended: ``/think`` (True), ``/no_think``
    (False) or nothing (None)."""
    return question if think is None else f"{question} {THINK_FLAG if think else NO_THINK_FLAG}"


def messages(question: str, system: str | None = None, think: bool | None = None) -> list[dict]:
    """Chat prompt; ``think`` appends the soft switch (see :func:`flagged`)."""
    user = flagged(question, think)
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
