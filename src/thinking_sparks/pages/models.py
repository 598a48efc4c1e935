"""Page ``01_models``: the architecture and per-head writes of any model.

:class:`Params` is the notebook's parameters cell; :func:`run` loads the model once and measures
its architecture and how hard each head writes into the residual stream
(:func:`thinking_sparks.heads.head_write_norms`), cached by the model's fingerprint, the prompts
and the dtype. The page tests no claim of the paper: :func:`verdicts` is an empty table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from thinking_sparks.cache import cached
from thinking_sparks.emergence.device import analysis_dtype, use_device
from thinking_sparks.heads import head_write_norms
from thinking_sparks.models import LoadedModel, fingerprint, load_model, resolve_spec
from thinking_sparks.verdicts import verdict_table

#: how many of the strongest writers the page lists
TOP = 10


@dataclass
class Params:
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
class Result:
    """Everything ``01_models`` shows.

    Attributes:
        architecture: one row: ``spec, architecture, layers, query heads / layer, KV heads / layer,
            query heads per KV head, d_model, d_head, heads in total, parameters (M), weights fingerprint``.
        norms: one row per head: ``layer, head, name, write_norm`` (mean L2 norm of its residual write).
        top: the ``TOP`` strongest writers, strongest first (same columns).
        strongest_vs_median: the strongest head's norm over the median head's.
        loudest_layer: the layer with the largest mean write norm.
        seconds: compute time when it was computed.
    """

    architecture: pd.DataFrame
    norms: pd.DataFrame
    top: pd.DataFrame
    strongest_vs_median: float
    loudest_layer: int
    seconds: float

    def architecture_table(self) -> pd.DataFrame:
        """``architecture`` as the page shows it: one row per property, one unnamed value column."""
        return self.architecture.T.rename(columns={0: ""})


def run(params: Params) -> Result:
    """The model's architecture and head write norms (cached by model fingerprint, prompts, dtype)."""
    use_device(params.device)
    where = resolve_spec(params.model)
    model_id = fingerprint(where) if isinstance(where, Path) else where  # a hub name: its name
    return _compute(params, model_id, analysis_dtype())


def _key(params: Params, model_id: str, dtype: str | None) -> dict:
    return {"model": params.model, "fingerprint": model_id, "prompts": list(params.prompts), "dtype": dtype}


@cached("page-models", key=_key)
def _compute(params: Params, model_id: str, dtype: str | None) -> Result:
    t0 = time.perf_counter()
    lm = load_model(params.model, device=params.device)
    norms = head_write_norms(lm, params.prompts)
    top = norms.sort_values("write_norm", ascending=False).head(TOP).reset_index(drop=True)
    return Result(architecture=architecture(lm), norms=norms, top=top,
                  strongest_vs_median=float(top.write_norm[0] / norms.write_norm.median()),
                  loudest_layer=int(norms.groupby("layer").write_norm.mean().idxmax()),
                  seconds=round(time.perf_counter() - t0, 1))


def architecture(lm: LoadedModel) -> pd.DataFrame:
    """One row describing a loaded model: its shape, parameter count and weights fingerprint."""
    return pd.DataFrame([{
        "spec": lm.spec,
        "architecture": type(lm.hf_model).__name__,
        "layers": lm.n_layers,
        "query heads / layer": lm.n_heads,
        "KV heads / layer": lm.n_kv_heads,
        "query heads per KV head": lm.n_heads // lm.n_kv_heads,
        "d_model": lm.d_model,
        "d_head": lm.d_head,
        "heads in total": lm.n_layers * lm.n_heads,
        "parameters (M)": round(sum(p.numel() for p in lm.hf_model.parameters()) / 1e6, 2),
        "weights fingerprint": lm.fingerprint,
    }])


def verdicts(result: Result) -> pd.DataFrame:
    """No claim of the paper is tested on this page: an empty verdict table."""
    return verdict_table([])
