"""Whether the model directories the project writes load with stock Hugging Face code exactly as
the project's loader loads them (:func:`check`), which built directories do not (:func:`model_dirs`,
:func:`stock_tokenizer_differs`), and ``python -m thinking_sparks.portability [--fix]``, which lists or
repairs them with :func:`thinking_sparks.hfcompat.make_portable`. ``sparks doctor`` runs the checks.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from thinking_sparks import runtime
from thinking_sparks.evaluation.generation import SamplingConfig, generate
from thinking_sparks.hfcompat import PROBE_TEXTS, is_portable, make_portable
from thinking_sparks.models import SMOLLM2_SPEC, checkpoint_steps, load_model, load_tokenizer

__all__ = ["PortableReport", "check", "main", "model_dirs", "stock_tokenizer_differs"]

@dataclass(frozen=True)
class PortableReport:
    """What :func:`check` compared. ``texts``: texts whose ids agreed (chat prompt included);
    ``tokens``: greedy tokens that agreed; ``stock_class``: the class AutoTokenizer built."""

    texts: int
    tokens: int
    stock_class: str

    def __str__(self) -> str:
        return (f"stock AutoTokenizer ({self.stock_class}) ids == project ids on {self.texts} texts; "
                f"{self.tokens} greedy tokens agree; same after save_pretrained")


def check(directory: Path | str, prompt: str = "What is 7 + 5 ?", max_new_tokens: int = 12,
          texts: tuple[str, ...] = PROBE_TEXTS) -> PortableReport:
    """Compare stock ``AutoTokenizer`` / ``AutoModelForCausalLM`` with the project's loader on ``directory``.

    Checks ids on ``texts`` and on the chat-templated ``prompt`` (the stock side tokenizes through
    ``apply_chat_template``), greedy ``generate`` text for it, and the same after a stock
    ``save_pretrained`` round trip of tokenizer and model. CPU, float32.

    Raises:
        AssertionError: the first disagreement, in one line.
    """
    lm = load_model(str(directory), device="cpu", dtype="float32")
    assert lm.tokenizer is not None, f"{directory} has no tokenizer"
    chat = lm.chat(prompt)
    want_ids = {t: lm.encode(t)[0].tolist() for t in (*texts, chat)}
    want_text = _project_greedy(lm, chat, max_new_tokens)
    stock_tok, n_tokens = _compare_stock(Path(directory), prompt, want_ids, want_text, max_new_tokens, "")
    with tempfile.TemporaryDirectory(prefix="sparks-roundtrip-") as tmp:
        from transformers import AutoModelForCausalLM  # deferred: transformers is heavy or optional, loaded only here

        stock_tok.save_pretrained(tmp)
        AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).save_pretrained(tmp)
        _compare_stock(Path(tmp), prompt, want_ids, want_text, max_new_tokens, " after save_pretrained")
    return PortableReport(len(want_ids), n_tokens, type(stock_tok).__name__)


def _project_greedy(lm: Any, chat: str, max_new_tokens: int) -> str:
    cfg = SamplingConfig(n=1, temperature=0.0, max_new_tokens=max_new_tokens, stop=(), batch_size=1)
    (gen,) = generate(lm, [chat], cfg, progress=False)
    return gen.text


def _compare_stock(path: Path, prompt: str, want_ids: dict[str, list[int]], want_text: str,
                   max_new_tokens: int, where: str) -> tuple[Any, int]:
    # deferred: transformers is heavy or optional, loaded only here
    # deferred: transformers is heavy or optional, loaded only here
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    name = type(tok).__name__
    for text, want in want_ids.items():
        got = tok(text).input_ids
        assert got == want, f"stock {name}{where} ids {got[:8]}... != project ids {want[:8]}... for {text[:40]!r}"
    if tok.chat_template:
        got = list(tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                           tokenize=True, return_dict=False))
        want = list(want_ids.values())[-1]
        assert got == want, f"stock apply_chat_template{where} ids {got[:8]}... != project ids {want[:8]}..."
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    ids = torch.tensor([list(want_ids.values())[-1]])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, pad_token_id=tok.pad_token_id)
    new = out[0, ids.shape[1]:].tolist()
    stops = {tok.eos_token_id} | set(_as_list(model.generation_config.eos_token_id))
    if new and new[-1] in stops:
        new = new[:-1]
    got_text = tok.decode(new, skip_special_tokens=False)
    assert got_text == want_text, f"stock greedy text{where} {got_text!r} != project's {want_text!r}"
    return tok, len(new)


def _as_list(value: Any) -> list:
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def model_dirs(every_checkpoint: bool = False) -> dict[str, Path]:
    """Built model directories in the cache: ``{label: dir}`` for every zoo profile's runs and
    real-model SFT runs (their final checkpoint, or all with ``every_checkpoint``) and the
    dequantized SmolLM2. Nothing is built here."""
    root = runtime.cache_dir()
    found: dict[str, Path] = {}
    runs = [(f"organism/{d.parent.name}/{d.name}", d) for d in sorted(root.glob("organism/*/*"))]
    runs += [(f"real/{d.name}", d) for d in sorted(root.glob("real/*"))]
    for label, run in runs:
        steps = checkpoint_steps(run)
        for step in steps if every_checkpoint else steps[-1:]:
            found[f"{label}@{'final' if step == steps[-1] else step}"] = run / f"checkpoint-{step}"
    smol = root / "models" / SMOLLM2_SPEC
    if (smol / "config.json").exists():
        found[SMOLLM2_SPEC] = smol
    return found


def stock_tokenizer_differs(directory: Path | str, texts: tuple[str, ...] = PROBE_TEXTS) -> bool:
    """Whether stock ``AutoTokenizer`` gives other ids than the project's loader on ``texts``
    (tokenizers only: cheap, for listing dirs to fix without churning the fingerprints of the rest)."""
    from transformers import AutoTokenizer  # deferred: transformers is heavy or optional, loaded only here

    ours = load_tokenizer(directory)
    if ours is None:
        return False
    stock = AutoTokenizer.from_pretrained(directory)
    return any(stock(t).input_ids != ours(t, add_special_tokens=False).input_ids for t in texts)


def main(argv: list[str] | None = None) -> int:
    """``python -m thinking_sparks.portability [--fix]``: list the cache's model dirs that stock
    ``AutoTokenizer`` does not load as the project does (written before the fix), or fix them
    (dirs that load the same already, e.g. SmolLM2's, are left as they are).

    Fixing rewrites ``tokenizer_config.json`` and adds :data:`MODULE` (weights untouched); the
    model fingerprints change, so results cached for those models are computed again.
    """
    parser = argparse.ArgumentParser(prog="python -m thinking_sparks.portability", description=main.__doc__)
    parser.add_argument("--fix", action="store_true", help="make every listed dir portable")
    args = parser.parse_args(argv)
    stale = {label: d for label, d in model_dirs(every_checkpoint=True).items()
             if not is_portable(d) and stock_tokenizer_differs(d)}
    for label, d in stale.items():
        if args.fix:
            make_portable(d)
        sys.stdout.write(f"{'fixed' if args.fix else 'not portable'}: {label} ({d})\n")
    sys.stdout.write(f"{len(stale)} model dir(s) {'fixed' if args.fix else 'to fix (run with --fix)'}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
