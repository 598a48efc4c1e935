"""Model directories that stock Hugging Face code loads exactly as the project does.

The trap (measured on transformers 5.24): ``AutoTokenizer.from_pretrained(dir)`` picks the
tokenizer class from ``config.json``'s ``model_type`` and, for model types transformers lists as
having wrong hub tokenizer classes (``qwen2`` among them), ignores ``tokenizer_config.json``'s
``tokenizer_class``. For the organism (a Qwen2 model with a word-level WordPiece tokenizer) it
builds a byte-level BPE ``Qwen2Tokenizer`` from the vocabulary alone: other ids on every text, and
garbage from ``generate``. The project's loader (:func:`thinking_sparks.models.load_tokenizer`)
reads ``tokenizer.json`` as it is.

:func:`make_portable` fixes a written directory without touching weights: ``tokenizer_class``
becomes ``PreTrainedTokenizerFast`` and ``tokenizer_config.json`` gains an ``auto_map`` naming a
three-line subclass of it shipped beside the weights (:data:`MODULE`). With an ``auto_map``
AutoTokenizer honours ``tokenizer_class`` (without ``trust_remote_code``: the class named in the
file; with it: the shipped subclass; both read ``tokenizer.json`` as is). Both keys survive a
stock ``save_pretrained``. :func:`thinking_sparks.portability.check` measures a directory against the project's loader.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from thinking_sparks.atomic import write_json, write_text

log = logging.getLogger(__name__)

__all__ = ["MODULE", "PROBE_TEXTS", "is_portable", "make_portable"]

#: the tokenizer module shipped in every model directory whose tokenizer is ``tokenizer.json`` alone
MODULE = "tokenization_sparks.py"
_CLASS_REF = "tokenization_sparks.SparksTokenizer"
_MODULE_TEXT = '''"""Tokenizer of a Thinking Sparks model: tokenizer.json as it is (see thinking_sparks.hfcompat)."""

from transformers import PreTrainedTokenizerFast


class SparksTokenizer(PreTrainedTokenizerFast):
    """Reads tokenizer.json unchanged, whatever config.json's model_type is."""
'''
#: classes that mean "the tokenizer is tokenizer.json alone" (transformers 5 saves TokenizersBackend)
_AS_IS = ("TokenizersBackend", "PreTrainedTokenizerFast", None)
PROBE_TEXTS = ("What is 7 + 5 ?", "Compute -45 * 3 - 12 .", "<think> 7 + 5 = 12 </think> <answer> 12 </answer>",
               "a banana , 1024 !")


def make_portable(directory: Path | str) -> bool:
    """Make ``directory``'s tokenizer load as saved under stock ``AutoTokenizer``; True if changed.

    Only tokenizers defined by ``tokenizer.json`` alone are touched (``tokenizer_class``
    ``TokenizersBackend``, ``PreTrainedTokenizerFast`` or none); weights and ``tokenizer.json``
    are left as they are. Idempotent.
    """
    path = Path(directory)
    cfg_path = path / "tokenizer_config.json"
    if not cfg_path.exists() or not (path / "tokenizer.json").exists():
        return False
    cfg = json.loads(cfg_path.read_text())
    if cfg.get("tokenizer_class") not in _AS_IS:
        return False
    changed = False
    if cfg.get("tokenizer_class") != "PreTrainedTokenizerFast" or cfg.get("auto_map") != _auto_map():
        cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
        cfg["auto_map"] = _auto_map()
        write_json(cfg_path, cfg)
        changed = True
    module = path / MODULE
    if not module.exists() or module.read_text() != _MODULE_TEXT:
        write_text(module, _MODULE_TEXT)
        changed = True
    return changed


def _auto_map() -> dict[str, list]:
    return {"AutoTokenizer": [None, _CLASS_REF]}


def is_portable(directory: Path | str) -> bool:
    """Whether :func:`make_portable` has nothing left to do in ``directory`` (no model loaded)."""
    path = Path(directory)
    cfg_path = path / "tokenizer_config.json"
    if not cfg_path.exists():
        return True
    cfg = json.loads(cfg_path.read_text())
    if cfg.get("tokenizer_class") not in _AS_IS:
        return True
    return cfg.get("auto_map") == _auto_map() and (path / MODULE).exists()
