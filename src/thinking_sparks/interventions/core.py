"""Head interventions on the plain Hugging Face model: zero, mean or scale a head's output.

The hook point is the input of each attention block's output projection (``o_proj``),
``[batch, pos, n_heads * d_head]``: the concatenated per-head attention outputs before the
projection mixes them. Head ``h`` of layer ``l`` is the slice ``h * d_head : (h + 1) * d_head`` of
layer ``l``'s ``o_proj`` input, so zeroing it is exactly zeroing ``o_proj``'s columns for that head
and scaling it by ``f`` is scaling those columns (paper §A.7, §5.9; ambiguity 17 of the digest).

The hooks are forward *pre*-hooks, so they act at every position the model computes: the whole
prompt on the first forward and each new token afterwards. With a KV cache the keys and values of
later layers are computed from the intervened residual stream, exactly as without a cache.

    with apply(lm, parse_edits("L3H1,L5H0")):            # zero two heads
        gens = generate(lm, prompts, cfg)
    with apply(lm, parse_edits(scale=["L3H1=1.3"])):     # scale one head by 1.3
        ...
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from thinking_sparks.heads import head_name, parse_head

MODES = ("zero", "mean", "scale")


@dataclass(frozen=True)
class HeadEdit:
    """One edit of one head's output.

    Attributes:
        layer, head: the head (0-indexed; ``L{layer}H{head}``).
        mode: ``zero`` (output 0), ``scale`` (output x ``factor``) or ``mean`` (output replaced by
            a reference mean, see :class:`Intervention`).
        factor: the scale factor (``scale`` only; 1.0 is the identity).
    """

    layer: int
    head: int
    mode: str = "zero"
    factor: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown intervention mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.layer < 0 or self.head < 0:
            raise ValueError(f"layer and head must be >= 0, got L{self.layer}H{self.head}")
        if self.mode != "scale" and self.factor != 1.0:
            raise ValueError(f"a factor only applies to mode 'scale', not {self.mode!r}")

    @property
    def name(self) -> str:
        return head_name(self.layer, self.head)

    def describe(self) -> str:
        return f"{self.name}={self.factor:g}" if self.mode == "scale" else f"{self.name}:{self.mode}"


@dataclass(frozen=True)
class Intervention:
    """A set of head edits applied together (also a results-cache key).

    Attributes:
        edits: the edits, sorted by (layer, head); a head appears at most once.
        means: for ``mean`` edits, the reference mean output of each edited head, keyed by head
            name, each ``[n_pos, d_head]`` (position by position; positions past ``n_pos`` use the
            last row). Build it with :func:`thinking_sparks.interventions.reference_means`.
        label: a short human name (e.g. "emergent heads of distill"); not part of the key.
        means_key: a stable description of where ``means`` came from (model fingerprint, reference
            set); required when ``means`` is given, since tensors have no stable key.
    """

    edits: tuple[HeadEdit, ...]
    means: dict[str, torch.Tensor] | None = field(default=None, compare=False, repr=False)
    label: str = field(default="", compare=False)
    means_key: str | None = None

    def __post_init__(self) -> None:
        edits = tuple(sorted(self.edits, key=lambda e: (e.layer, e.head)))
        names = [e.name for e in edits]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"head(s) named twice in one intervention: {', '.join(dupes)}")
        object.__setattr__(self, "edits", edits)
        needs_means = [e.name for e in edits if e.mode == "mean"]
        if needs_means:
            missing = [n for n in needs_means if not self.means or n not in self.means]
            if missing:
                raise ValueError(f"mean ablation needs reference means for {', '.join(missing)}")
            if not self.means_key:
                raise ValueError("mean ablation needs means_key (where the reference means came from)")

    @property
    def heads(self) -> list[str]:
        return [e.name for e in self.edits]

    def key(self) -> dict[str, Any]:
        """A JSON-able description that names every head, mode and factor (and the mean source)."""
        return {"edits": [[e.name, e.mode, float(e.factor)] for e in self.edits], "means": self.means_key}

    def describe(self) -> str:
        return ", ".join(e.describe() for e in self.edits) or "none"

    def __bool__(self) -> bool:
        return bool(self.edits)


def parse_edits(ablate: str | Iterable[str] | None = None, scale: Iterable[str] | None = None,
                mode: str = "zero") -> Intervention:
    """Edits from the paper's head notation.

    Args:
        ablate: ``"L3H1,L5H0"`` (or a list of names): heads to ablate with ``mode``.
        scale: ``["L3H1=1.3", "L5H0=0.5"]`` (each item may hold several, comma-separated).
        mode: ``zero`` or ``mean`` for the ablated heads.
    Raises:
        ValueError: one line naming the offending item.
    """
    if mode not in ("zero", "mean"):
        raise ValueError(f"ablation mode must be 'zero' or 'mean', got {mode!r}")
    edits: list[HeadEdit] = []
    items = [ablate] if isinstance(ablate, str) else list(ablate or [])
    for item in (x.strip() for chunk in items for x in str(chunk).split(",")):
        if item:
            layer, head = parse_head(item)
            edits.append(HeadEdit(layer, head, mode))
    for item in (x.strip() for chunk in (scale or []) for x in str(chunk).split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"scale {item!r}: expected HEAD=FACTOR, e.g. L3H1=1.3")
        try:
            factor = float(value)
        except ValueError:
            raise ValueError(f"scale {item!r}: {value!r} is not a number") from None
        layer, head = parse_head(name)
        edits.append(HeadEdit(layer, head, "scale", factor))
    return Intervention(tuple(edits))


def output_projections(model: Any) -> list[torch.nn.Module]:
    """Each layer's attention output projection of a plain HF causal LM (``model.layers[i].self_attn.o_proj``)."""
    hf = getattr(model, "hf_model", model)
    inner = getattr(hf, "model", None)
    layers = getattr(inner, "layers", None)
    if layers is None:
        raise ValueError(f"unsupported architecture {type(hf).__name__}: expected model.layers[i].self_attn.o_proj")
    projs = []
    for i, layer in enumerate(layers):
        proj = getattr(getattr(layer, "self_attn", None), "o_proj", None)
        if not isinstance(proj, torch.nn.Linear):
            raise ValueError(f"layer {i} of {type(hf).__name__} has no plain nn.Linear self_attn.o_proj "
                             "(is this a bridge-wrapped model? pass LoadedModel.hf_model)")
        projs.append(proj)
    return projs


def _layer_hook(edits: Sequence[HeadEdit], d_head: int, means: dict[str, torch.Tensor] | None):
    spans = [(e, slice(e.head * d_head, (e.head + 1) * d_head)) for e in edits]

    def hook(module: torch.nn.Module, args: tuple) -> tuple:
        x = args[0].clone()  # [batch, pos, n_heads * d_head]; never edit the caller's tensor
        for edit, span in spans:
            if edit.mode == "zero":
                x[..., span] = 0.0
            elif edit.mode == "scale":
                x[..., span] = x[..., span] * edit.factor
            else:
                ref = means[edit.name].to(device=x.device, dtype=x.dtype)  # [n_pos, d_head]
                x[..., span] = _mean_rows(ref, x.shape[-2], module)
        return (x, *args[1:])

    return hook


def _mean_rows(ref: torch.Tensor, n: int, module: torch.nn.Module) -> torch.Tensor:
    """Reference means for the positions this forward computes (``[n, d_head]``).

    A forward over ``n`` positions after ``cached`` earlier ones covers absolute positions
    ``cached .. cached + n - 1``; the position counter lives on the module between forwards.
    Positions past the reference length use its last row.
    """
    start = getattr(module, "_sparks_pos", 0)
    idx = torch.arange(start, start + n, device=ref.device).clamp(max=ref.shape[0] - 1)
    module._sparks_pos = start + n
    return ref[idx]


@contextlib.contextmanager
def apply(model: Any, intervention: Intervention | None) -> Iterator[Intervention | None]:
    """Context manager: the intervention's hooks are active inside and always removed after.

    Interventions compose: nested ``apply`` calls stack their hooks (inner edits act on the
    outer-edited output). ``None`` or an empty intervention is a no-op.

    Mean ablation counts positions per forward: enter the context once per sequence batch
    (``generate`` does, per batch) so position 0 is the first prompt token.
    """
    if not intervention:
        yield intervention
        return
    hf = getattr(model, "hf_model", model)
    cfg = hf.config
    n_layers, n_heads = int(cfg.num_hidden_layers), int(cfg.num_attention_heads)
    d_head = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // n_heads)
    bad = [e.name for e in intervention.edits if e.layer >= n_layers or e.head >= n_heads]
    if bad:
        raise ValueError(f"head(s) {', '.join(bad)} not in this model ({n_layers} layers x {n_heads} heads)")
    projs = output_projections(hf)
    handles = []
    try:
        by_layer: dict[int, list[HeadEdit]] = {}
        for e in intervention.edits:
            by_layer.setdefault(e.layer, []).append(e)
        for layer, edits in by_layer.items():
            projs[layer]._sparks_pos = 0
            handles.append(projs[layer].register_forward_pre_hook(_layer_hook(edits, d_head, intervention.means)))
        yield intervention
    finally:
        for h in handles:
            h.remove()
        for layer in {e.layer for e in intervention.edits}:
            projs[layer].__dict__.pop("_sparks_pos", None)
