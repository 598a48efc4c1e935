"""The `sparks` command line: generation, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"  # this checkout's code, also in the subprocess


def _sparks(*args):
    return subprocess.run([sys.executable, "-m", "thinking_sparks.cli", "--quiet", *args],
                          capture_output=True, text=True, env={"HF_HUB_OFFLINE": "1", "SPARKS_THREADS": "1",
                                                               "PATH": "/usr/bin:/bin",
                                                               "PYTHONPATH": str(SRC)})


def test_generate_on_a_local_dir(tiny_model_dir):
    result = _sparks("generate", "--model", str(tiny_model_dir), "--prompt", "what is 3 + 4 ?",
                     "--max-new-tokens", "5")
    assert result.returncode == 0, result.stderr
    from thinking_sparks.models import load_model

    lm = load_model(str(tiny_model_dir))
    ids = lm.encode(lm.chat("what is 3 + 4 ?"))
    out = lm.hf_model.generate(ids, max_new_tokens=5, do_sample=False, eos_token_id=lm.tokenizer.eos_token_id,
                               pad_token_id=lm.tokenizer.pad_token_id)
    assert result.stdout.strip() == lm.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


def test_bad_spec_is_one_line_no_traceback(tmp_path):
    result = _sparks("generate", "--model", str(tmp_path / "nope"), "--prompt", "hi")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error:")
    assert "Traceback" not in result.stderr
