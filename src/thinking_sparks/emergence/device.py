"""Where an analysis runs: the device circuits and answer prefixes are computed on, its dtype, and
the models kept loaded across a sweep (the base is used by every run).

:func:`use_device` is set once per page or command; :func:`analysis_dtype` enters the circuit and
prefix cache keys when it is not float32.
"""

from __future__ import annotations

import torch

from thinking_sparks.models import fingerprint, load_model, resolve_spec
from thinking_sparks.runtime import resolve_device, resolve_dtype

_MODELS: dict[tuple[str, str, str, str | None], object] = {}
#: where circuits and answer prefixes are computed (:func:`use_device`)
_DEVICE = {"device": "cpu"}


def use_device(device: str = "cpu") -> None:
    """Compute circuits (and sample their answer prefixes) on ``device`` from now on: ``cpu``,
    ``cuda``, ``auto``... Models load in the device's default dtype (bfloat16 on CUDA, float32 on
    the CPU); attribution scores accumulate in float32 either way. A dtype other than float32
    enters the cache keys (:func:`analysis_dtype`)."""
    _DEVICE["device"] = str(resolve_device(device))


def current_device() -> str:
    """The device circuits are computed on (set by :func:`use_device`; ``cpu`` by default)."""
    return _DEVICE["device"]


def analysis_dtype() -> str | None:
    """The models' dtype when it is not float32 (then part of every circuit and prefix key), else None."""
    dtype = resolve_dtype(None, resolve_device(_DEVICE["device"]))
    return None if dtype == torch.float32 else str(dtype).removeprefix("torch.")


def load_kept(spec: str, dtype: str | None = None):
    """Models are kept loaded across a sweep (the base is used by every run); ``dtype`` None: the
    device's default (:attr:`thinking_sparks.circuits.config.CircuitConfig.dtype`)."""
    where = resolve_spec(spec)
    key = (spec, fingerprint(where) if not isinstance(where, str) else where, _DEVICE["device"], dtype)
    if key not in _MODELS:
        if len(_MODELS) >= 4:
            _MODELS.pop(next(iter(_MODELS)))
        _MODELS[key] = load_model(spec, device=_DEVICE["device"], dtype=dtype)
    return _MODELS[key]
