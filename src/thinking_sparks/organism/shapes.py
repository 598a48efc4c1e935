"""What the zoo's runs are: their shapes, parameter counts, checkpoints and build times.

:func:`run_shape` puts a run's architecture in words, :func:`n_parameters` counts a built
checkpoint's weights, :func:`zoo_shapes` holds the students' and the teacher's shapes
(:meth:`ZooShapes.sentence` says them) and :func:`runs_table` is one row per run of a profile.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd
from safetensors import safe_open

from thinking_sparks.organism import config, zoo


def run_shape(profile_name: str | None, run: str) -> str:
    """A run's architecture in words, e.g. ``8 x 8 heads (2 KV), d_model 64`` (post-training runs
    keep the shape of the pretraining run they start from)."""
    table = config.profile(zoo.default_profile(profile_name))
    spec = table[run]
    while spec.kind != "pretrain":
        spec = table[spec.parent]
    s = spec.config.shape
    arch = f", Llama (d_ff {s.d_ff}, RoPE base {s.rope_theta:g})" if s.family == "llama" else ""
    return f"{s.n_layers} x {s.n_heads} heads ({s.n_kv_heads} KV), d_model {s.d_model}{arch}"


def n_parameters(profile_name: str | None, run: str) -> int:
    """Parameters stored in a run's final checkpoint (tied embeddings counted once)."""
    path = zoo.resolve_checkpoint(f"organism/{zoo.default_profile(profile_name)}/{run}@final") / "model.safetensors"
    with safe_open(str(path), "np") as f:
        return sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())


@dataclass
class ModelShape:
    """One pretrained model's shape and its built checkpoint's parameter count."""

    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_model: int
    d_ff: int
    parameters: int


@dataclass
class ZooShapes:
    """The students' shape (``base`` and every run started from it), the teacher's, and the share
    of the teacher's chat replies that reason."""

    student: ModelShape
    teacher: ModelShape
    think_fraction: float

    def sentence(self) -> str:
        """The two shapes in a sentence (Markdown)."""
        s, t = self.student, self.teacher
        ps, pt = s.parameters, t.parameters
        share = self.think_fraction
        reasons = "always reason" if share >= 1 else f"reason in {share:.0%} of its chat replies"
        return (f"The students — `base` and every run started from it — have {s.n_layers} layers of {s.n_heads} "
                f"query heads ({s.n_layers * s.n_heads} heads; {s.n_kv_heads} key/value heads per layer, head_dim "
                f"{s.head_dim}, d_model {s.d_model}, MLP width {s.d_ff}; {ps / 1e6:.2f}M parameters). The teacher "
                f"has {t.n_layers} layers of {t.n_heads} heads at d_model {t.d_model} (MLP width {t.d_ff}; "
                f"{pt / 1e6:.2f}M parameters, {pt / ps:.1f} times the students') and is pretrained to {reasons}.")


def _model_shape(profile_name: str, run: str) -> ModelShape:
    s = config.profile(profile_name)[run].config.shape
    return ModelShape(n_layers=s.n_layers, n_heads=s.n_heads, n_kv_heads=s.n_kv_heads,
                      head_dim=s.head_dim or s.d_model // s.n_heads, d_model=s.d_model, d_ff=s.d_ff,
                      parameters=n_parameters(profile_name, run))


def zoo_shapes(profile_name: str | None = None) -> ZooShapes:
    """The students' and the teacher's shapes, from the profile's configs and the built checkpoints."""
    name = zoo.default_profile(profile_name)
    return ZooShapes(student=_model_shape(name, "base"), teacher=_model_shape(name, "teacher"),
                     think_fraction=float(config.profile(name)["teacher"].config.think_fraction))


def shapes_sentence(profile_name: str | None = None) -> str:
    """The students' and the teacher's architecture in a sentence (:meth:`ZooShapes.sentence`)."""
    return zoo_shapes(profile_name).sentence()


def runs_table(profile_name: str | None = None, family: str = "qwen2") -> pd.DataFrame:
    """One row per run of the profile's ``family`` (``config.family_table``): recipe, parent, shape,
    parameters, checkpoints, wall and CPU seconds of its build."""
    name = zoo.default_profile(profile_name)
    rows = []
    for r in (r for r in zoo.list_runs(name) if r.family == family):
        meta = json.loads((r.path / "run.json").read_text()) if (r.path / "run.json").exists() else {}
        rows.append({"run": r.name, "recipe": r.kind, "starts from": r.parent or "scratch",
                     "shape": run_shape(name, r.name),
                     "parameters": n_parameters(name, r.name) if r.built else None, "checkpoints": len(r.steps),
                     "steps": f"{r.steps[0]}–{r.steps[-1]}" if r.steps else "",
                     "train seconds": round(r.seconds or 0, 1), "cpu seconds": round(meta.get("cpu_seconds", 0), 1)})
    return pd.DataFrame(rows)
