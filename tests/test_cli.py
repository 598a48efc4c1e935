"""The `sparks` command line: generation, and one-line errors."""

from __future__ import annotations

import subprocess
import sys


def _sparks(*args):
    return subprocess.run([sys.executable, "-m", "thinking_sparks.cli", "--quiet", *args],
                          capture_output=True, text=True, env={"HF_HUB_OFFLINE": "1", "SPARKS_THREADS": "1",
                                                               "PATH": "/usr/bin:/bin"})


def test_generate_on_a_local_dir(tiny_model_dir):
    result = _sparks("generate", "--model", str(tiny_model_dir), "--prompt", "what is 3 + 4 ?",
                     "--max-new-tokens", "5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()  # a seeded random model babbles, but it answers


def test_bad_spec_is_one_line_no_traceback(tmp_path):
    result = _sparks("generate", "--model", str(tmp_path / "nope"), "--prompt", "hi")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error:")
    assert "Traceback" not in result.stderr
