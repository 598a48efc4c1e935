"""Attention heads by the paper's names: ``L{layer}H{head}`` (e.g. ``L5H1``), 0-indexed."""

from __future__ import annotations

import re

_HEAD = re.compile(r"^L(\d+)H(\d+)$")


def head_name(layer: int, head: int) -> str:
    """``head_name(5, 1) == "L5H1"``."""
    if layer < 0 or head < 0:
        raise ValueError(f"layer and head must be >= 0, got layer={layer}, head={head}")
    return f"L{layer}H{head}"


def parse_head(name: str) -> tuple[int, int]:
    """``parse_head("L5H1") == (5, 1)``; anything else is a ValueError."""
    match = _HEAD.match(name.strip())
    if not match:
        raise ValueError(f"not a head name: {name!r} (expected L<layer>H<head>, e.g. L5H1)")
    return int(match.group(1)), int(match.group(2))


def all_heads(n_layers: int, n_heads: int) -> list[str]:
    """Every head of a model, layer-major: ``["L0H0", "L0H1", ...]``."""
    return [head_name(layer, head) for layer in range(n_layers) for head in range(n_heads)]


def sort_heads(names) -> list[str]:
    """Heads sorted by (layer, head), not lexically (``L2H0`` before ``L10H0``)."""
    return sorted(names, key=parse_head)
