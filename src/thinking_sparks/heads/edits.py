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


def _layer_hook(edits: Sequence[HeadEdit], d_head: int, means: dict[str, torch.Tensor] | None,
                state: dict[str, Any]):
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
                x[..., span] = mean_rows(ref, _current_positions(state, x))
        return (x, *args[1:])

    return hook


def mean_rows(ref: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Reference mean rows for token positions: ``ref[min(p, n_pos - 1)]``.

    Args:
        ref: ``[n_pos, d_head]`` means by position (the last row also serves every later position).
        positions: ``[batch, pos]`` real token positions (0 = first token of the sequence).
    Returns:
        ``[batch, pos, d_head]``.
    """
    idx = positions.to(ref.device).long().clamp(min=0, max=ref.shape[0] - 1)
    return ref[idx]


def token_positions(args: tuple, kwargs: dict[str, Any]) -> torch.Tensor:
    """The real position of every token a decoder forward computes, ``[batch, pos]``.

    Read from the forward's arguments, in this order: ``position_ids`` (what generation passes;
    left padding does not shift them); else a 2-D ``attention_mask`` (positions count real tokens
    only: ``cumsum - 1``, its last ``pos`` columns); else the KV cache's length plus ``0..pos-1``.
    Pad tokens get position 0 (they are masked out of every real token's attention).
    """
    ids = kwargs.get("input_ids", args[0] if args else None)
    embeds = kwargs.get("inputs_embeds")
    batch, n = (ids.shape[0], ids.shape[1]) if ids is not None else (embeds.shape[0], embeds.shape[1])
    device = ids.device if ids is not None else embeds.device
    pos = kwargs.get("position_ids")
    if pos is not None:
        pos = pos.reshape(-1, pos.shape[-1])  # [batch or 1, pos]
        return pos.expand(batch, n) if pos.shape[0] == 1 else pos
    mask = kwargs.get("attention_mask")
    if isinstance(mask, torch.Tensor) and mask.dim() == 2:
        return (mask.long().cumsum(-1) - 1).clamp(min=0)[:, -n:]
    cache = kwargs.get("cache", kwargs.get("past_key_values"))
    past = int(cache.get_seq_length()) if cache is not None and hasattr(cache, "get_seq_length") else 0
    return torch.arange(past, past + n, device=device).expand(batch, n)


def _current_positions(state: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    positions = state.get("positions")
    if positions is None or tuple(positions.shape) != tuple(x.shape[:2]):
        raise RuntimeError("mean ablation needs token positions: run the whole model (its decoder forward "
                           "records them), not a single attention block")
    return positions


def _decoder(hf: torch.nn.Module) -> torch.nn.Module:
    inner = getattr(hf, "model", None)
    if inner is None or getattr(inner, "layers", None) is None:
        raise ValueError(f"unsupported architecture {type(hf).__name__}: expected a decoder at .model")
    return inner


def check_heads(model: Any, intervention: Intervention | None) -> None:
    """Raise one ValueError line if an edited head is not in the model (layer or head out of range)."""
    if not intervention:
        return
    hf = getattr(model, "hf_model", model)
    n_layers, n_heads = int(hf.config.num_hidden_layers), int(hf.config.num_attention_heads)
    bad = [e.name for e in intervention.edits if e.layer >= n_layers or e.head >= n_heads]
    if bad:
        raise ValueError(f"head(s) {', '.join(bad)} not in this model ({n_layers} layers x {n_heads} heads: "
                         f"L0H0..L{n_layers - 1}H{n_heads - 1})")


@contextlib.contextmanager
def apply(model: Any, intervention: Intervention | None) -> Iterator[Intervention | None]:
    """Context manager: the intervention's hooks are active inside and always removed after.

    Interventions compose: nested ``apply`` calls stack their hooks (inner edits act on the
    outer-edited output). ``None`` or an empty intervention is a no-op.

    Mean ablation indexes the reference means by each token's real position, read at every
    decoder forward from its ``position_ids`` / ``attention_mask`` / KV-cache length (see
    :func:`token_positions`), so left-padded batches, KV-cached decoding and batch size do not
    change which mean a token gets.
    """
    if not intervention:
        yield intervention
        return
    hf = getattr(model, "hf_model", model)
    cfg = hf.config
    check_heads(hf, intervention)
    n_heads = int(cfg.num_attention_heads)
    d_head = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // n_heads)
    projs = output_projections(hf)
    state: dict[str, Any] = {"positions": None}
    handles = []
    try:
        if any(e.mode == "mean" for e in intervention.edits):
            def record(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
                state["positions"] = token_positions(args, kwargs)

            handles.append(_decoder(hf).register_forward_pre_hook(record, with_kwargs=True))
        by_layer: dict[int, list[HeadEdit]] = {}
        for e in intervention.edits:
            by_layer.setdefault(e.layer, []).append(e)
        for layer, edits in by_layer.items():
            hook = _layer_hook(edits, d_head, intervention.means, state)
            handles.append(projs[layer].register_forward_pre_hook(hook))
        yield intervention
    finally:
        for h in handles:
            h.remove()


@contextlib.contextmanager
def edit_weights(model: Any, intervention: Intervention | None) -> Iterator[Intervention | None]:
    """Context manager: zero / scale edits written into ``o_proj``'s columns, restored after.

    The same edits as :func:`apply`, for code that does not run the plain model's modules: the
    ``TransformerBridge`` twin and the circuit engine's functional forward share these weight
    tensors, so circuit attribution sees the intervened model. Mean ablation is position-dependent
    and cannot be a weight edit (``ValueError``). The model's weights are restored exactly (a copy
    of each edited layer's ``o_proj`` weight is kept), also after an exception.
    """
    if not intervention:
        yield intervention
        return
    if any(e.mode == "mean" for e in intervention.edits):
        raise ValueError("mean ablation cannot be written into weights; use apply() on the plain model")
    hf = getattr(model, "hf_model", model)
    check_heads(hf, intervention)
    cfg = hf.config
    d_head = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // int(cfg.num_attention_heads))
    projs = output_projections(hf)
    saved = {e.layer: projs[e.layer].weight.detach().clone() for e in intervention.edits}
    try:
        with torch.no_grad():
            for e in intervention.edits:
                cols = slice(e.head * d_head, (e.head + 1) * d_head)
                projs[e.layer].weight[:, cols] *= 0.0 if e.mode == "zero" else e.factor
        yield intervention
    finally:
        with torch.no_grad():
            for layer, w in saved.items():
                projs[layer].weight.copy_(w)
