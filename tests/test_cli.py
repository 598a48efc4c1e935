"""The `sparks` command line: generation, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


def _inproc(*args):
    from typer.testing import CliRunner

    from thinking_sparks.cli import app

    return CliRunner().invoke(app, ["--quiet", *args])


@pytest.mark.parametrize("device", ["gpu", "cuda", "cuda:7", "mps"])
def test_unavailable_device_is_one_line_naming_the_devices(device, tiny_model_dir, tmp_path):
    import torch

    if device.startswith("cuda") and torch.cuda.device_count() > 7 or device == "mps" and torch.backends.mps.is_available():
        pytest.skip(f"needs a machine without {device} (this one has it)")
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA (this one has it)")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"clean_ids": [1, 2, 3], "corrupted_ids": [1, 4, 3]}\n')
    r = _inproc("circuit", "--model", str(tiny_model_dir), "--pairs", str(pairs), "--out", str(tmp_path / "o"),
                "--device", device)
    assert r.exit_code == 2, (r.exception, r.output)
    assert isinstance(r.exception, SystemExit)
    line = r.stderr.strip()
    assert line.startswith("error:") and "\n" not in line and device in line
    assert "available here: cpu" in line


def test_key_error_is_a_bug_not_a_user_error():
    """An internal KeyError must surface as a traceback (exit 1), not as ``error: 'x'``."""
    import typer

    from thinking_sparks.cli import friendly_errors

    app = typer.Typer()

    @app.command()
    @friendly_errors
    def broken() -> None:
        {}["x"]

    from typer.testing import CliRunner

    r = CliRunner().invoke(app, [])
    assert isinstance(r.exception, KeyError) and r.exit_code == 1
    assert "error: 'x'" not in r.output


def test_train_show_needs_no_model_or_out():
    import json

    r = _inproc("train", "grpo", "--show", "--set", "learning_rate=1e-6")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["learning_rate"] == 1e-6
    r = _inproc("train", "sft")
    assert r.exit_code == 2 and "needs --model and --out" in r.stderr and r.stderr.strip().count("\n") == 0
