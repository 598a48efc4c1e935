"""``sparks doctor``: passes on a healthy install, fails when cached decoding is broken."""

from __future__ import annotations

from typer.testing import CliRunner

from thinking_sparks import doctor


def test_doctor_passes_here_and_lists_versions():
    result = CliRunner().invoke(__import__("thinking_sparks.cli", fromlist=["app"]).app, ["doctor"])
    assert result.exit_code == 0, result.output
    for name in ("transformers", "torch threads", "kv-cache", "bridge", "chart", "all checks passed"):
        assert name in result.output


def test_doctor_catches_a_cache_that_does_not_grow(monkeypatch):
    """The transformers-5.24 failure mode: every decode step attends to the newest token only."""
    from transformers import DynamicCache

    def forgetful_update(self, key_states, value_states, layer_idx, *args, **kwargs):
        return key_states, value_states

    monkeypatch.setattr(DynamicCache, "update", forgetful_update)
    checks = {c.name: c for c in doctor.run_checks()}
    assert not checks["kv-cache"].ok
    assert "cache-free" in checks["kv-cache"].detail
    assert checks["chart"].ok


def test_locked_versions_parse(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("# header\ntorch==2.13.0\n    # via x\nTransformer_Lens==4.3.0\nfoo @ file:///x\n")
    assert doctor.locked_versions(lock) == {"torch": "2.13.0", "transformer-lens": "4.3.0"}
