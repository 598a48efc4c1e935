"""The edge graph that EAP / EAP-IG scores: nodes, edges and name <-> index helpers.

Source nodes (each writes a ``[pos, d_model]`` vector into the residual stream), in this order::

    input, L0H0 .. L0H{H-1}, MLP0, L1H0 .. , MLP1, ..., MLP{L-1}

Destination inputs (each reads the sum of all upstream source outputs), per layer ``l``::

    L{l}H{h}.q  for every query head h
    L{l}H{h}.k / L{l}H{h}.v            (GQA "ungrouped": one k / v input per *query* head)
    L{l}G{g}.k / L{l}G{g}.v            (GQA "grouped": one k / v input per KV group g, shared by
                                         query heads g*H/G .. (g+1)*H/G - 1, as the model computes)
    MLP{l}
and finally ``logits`` (the residual stream before the final norm).

Upstream of layer ``l``'s heads: ``input`` and every head / MLP of layers ``< l``; upstream of
``MLP{l}``: the same plus the heads of layer ``l``; upstream of ``logits``: every source.
Scores live in a dense ``[n_src, n_dst]`` float32 matrix; entries of non-edges are 0 and masked
out by :attr:`Graph.edge_mask`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch

GQA_MODES = ("ungrouped", "grouped")


@dataclass(frozen=True)
class Graph:
    """Edge graph of a decoder-only transformer (see module docstring for the naming)."""

    n_layers: int
    n_heads: int
    n_kv_heads: int
    gqa: str = "ungrouped"
    src_names: list[str] = field(init=False, repr=False)
    dst_names: list[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.gqa not in GQA_MODES:
            raise ValueError(f"gqa must be one of {GQA_MODES}, got {self.gqa!r}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads={self.n_heads} is not a multiple of n_kv_heads={self.n_kv_heads}")
        src = ["input"]
        dst: list[str] = []
        for layer in range(self.n_layers):
            src += [f"L{layer}H{h}" for h in range(self.n_heads)] + [f"MLP{layer}"]
            dst += [f"L{layer}H{h}.q" for h in range(self.n_heads)]
            for kind in ("k", "v"):
                if self.gqa == "ungrouped":
                    dst += [f"L{layer}H{h}.{kind}" for h in range(self.n_heads)]
                else:
                    dst += [f"L{layer}G{g}.{kind}" for g in range(self.n_kv_heads)]
            dst.append(f"MLP{layer}")
        dst.append("logits")
        object.__setattr__(self, "src_names", src)
        object.__setattr__(self, "dst_names", dst)

    # -- sizes ------------------------------------------------------------------------------
    @property
    def n_src(self) -> int:
        return len(self.src_names)

    @property
    def n_dst(self) -> int:
        return len(self.dst_names)

    @property
    def n_kv_inputs(self) -> int:
        """Number of k (or v) destinations per layer: n_heads ungrouped, n_kv_heads grouped."""
        return self.n_heads if self.gqa == "ungrouped" else self.n_kv_heads

    @property
    def dst_per_layer(self) -> int:
        return self.n_heads + 2 * self.n_kv_inputs + 1

    @property
    def group_size(self) -> int:
        return self.n_heads // self.n_kv_heads

    # -- index helpers ----------------------------------------------------------------------
    def src_index(self, name: str) -> int:
        try:
            return self._src_lookup()[name]
        except KeyError:
            raise ValueError(f"unknown source node {name!r}") from None

    def dst_index(self, name: str) -> int:
        try:
            return self._dst_lookup()[name]
        except KeyError:
            raise ValueError(f"unknown destination {name!r}") from None

    def _src_lookup(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.src_names)}

    def _dst_lookup(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.dst_names)}

    def head_src(self, layer: int, head: int) -> int:
        """Source index of head ``L{layer}H{head}``."""
        return 1 + layer * (self.n_heads + 1) + head

    def mlp_src(self, layer: int) -> int:
        return 1 + layer * (self.n_heads + 1) + self.n_heads

    def n_upstream_attn(self, layer: int) -> int:
        """Sources feeding layer ``layer``'s attention: the first this-many source indices."""
        return 1 + layer * (self.n_heads + 1)

    def n_upstream_mlp(self, layer: int) -> int:
        return self.n_upstream_attn(layer) + self.n_heads

    def attn_dst_slice(self, layer: int) -> slice:
        """Destination indices of layer ``layer``'s q (H), k (n_kv_inputs), v (n_kv_inputs) inputs."""
        start = layer * self.dst_per_layer
        return slice(start, start + self.dst_per_layer - 1)

    def mlp_dst(self, layer: int) -> int:
        return (layer + 1) * self.dst_per_layer - 1

    @property
    def logits_dst(self) -> int:
        return self.n_dst - 1

    def dst_node(self, dst: str) -> str:
        """Node a destination belongs to: ``L1H5.q -> L1H5``, ``L1G0.k -> L1G0``, ``MLP0 -> MLP0``."""
        return dst.split(".", 1)[0]

    def dst_heads(self, dst: str) -> list[str]:
        """Head nodes that read a destination (a grouped k/v input is read by its whole group)."""
        m = re.fullmatch(r"L(\d+)G(\d+)\.[kv]", dst)
        if m:
            layer, g = int(m.group(1)), int(m.group(2))
            return [f"L{layer}H{h}" for h in range(g * self.group_size, (g + 1) * self.group_size)]
        node = self.dst_node(dst)
        return [node] if re.fullmatch(r"L\d+H\d+", node) else []

    def edge_mask(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """``[n_src, n_dst]`` bool: True where ``src -> dst`` is an edge of the graph."""
        mask = torch.zeros(self.n_src, self.n_dst, dtype=torch.bool, device=device)
        for layer in range(self.n_layers):
            mask[: self.n_upstream_attn(layer), self.attn_dst_slice(layer)] = True
            mask[: self.n_upstream_mlp(layer), self.mlp_dst(layer)] = True
        mask[:, self.logits_dst] = True
        return mask

    @property
    def n_edges(self) -> int:
        return int(self.edge_mask().sum())

    def edges(self) -> list[tuple[str, str]]:
        """All ``(src, dst)`` name pairs, destination-major in graph order."""
        idx = self.edge_mask().T.nonzero().tolist()
        return [(self.src_names[s], self.dst_names[d]) for d, s in idx]


def reference_name_to_ours(name: str) -> str:
    """Map hannamw/EAP-IG node names to ours: ``a0.h3 -> L0H3``, ``m1 -> MLP1``,
    ``a1.h5<q> -> L1H5.q``; ``input`` and ``logits`` are unchanged."""
    if name in ("input", "logits"):
        return name
    m = re.fullmatch(r"a(\d+)\.h(\d+)(?:<([qkv])>)?", name)
    if m:
        base = f"L{m.group(1)}H{m.group(2)}"
        return f"{base}.{m.group(3)}" if m.group(3) else base
    m = re.fullmatch(r"m(\d+)", name)
    if m:
        return f"MLP{m.group(1)}"
    raise ValueError(f"not a reference node name: {name!r}")
