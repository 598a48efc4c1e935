"""Publishing the book: `make publish` (ghp-import to gh-pages) and the GitHub workflow that calls it."""

import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "book.yml"


def _targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return {m.group(1) for m in re.finditer(r"^([A-Za-z][\w-]*):", text, flags=re.M)}


def _runs() -> list[str]:
    flow = yaml.safe_load(WORKFLOW.read_text())
    return [step["run"] for job in flow["jobs"].values() for step in job["steps"] if "run" in step]


def test_the_workflow_calls_only_what_the_repository_has():
    flow = yaml.safe_load(WORKFLOW.read_text())
    assert flow["permissions"]["contents"] == "write"  # the gh-pages push
    runs = _runs()
    called = {m.group(1) for run in runs for m in re.finditer(r"\bmake ([a-z][\w-]*)", run)}
    assert {"book", "publish"} <= called and called <= _targets(), called - _targets()
    grids = [g for run in runs for g in re.findall(r"(examples/grids/[\w*]+\.yaml)", run)]
    assert grids and all(glob.glob(str(REPO / g)) for g in grids)  # the paper's grids exist
    from thinking_sparks.cli import app

    verbs = {c.name or c.callback.__name__ for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert all(re.search(r"sparks (\w+)", run).group(1) in verbs for run in runs if "bin/sparks " in run)
    steps = [s for job in flow["jobs"].values() for s in job["steps"]]
    assert any(s.get("uses", "").startswith("actions/cache") and s["with"]["path"] == ".cache" for s in steps)


@pytest.mark.skipif(not (shutil.which("make") and shutil.which("git")), reason="make and git are needed")
def test_make_publish_pushes_the_built_html_to_gh_pages(tmp_path):
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}

    def sh(*cmd, cwd=work, check=True):
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=check)

    sh("git", "init", "-q", "--bare", str(remote), cwd=tmp_path)
    sh("git", "init", "-q", str(work), cwd=tmp_path)
    shutil.copy(REPO / "Makefile", work / "Makefile")
    sh("git", "add", "Makefile")
    sh("git", "commit", "-qm", "init")
    sh("git", "remote", "add", "origin", str(remote))
    make = ["make", "-o", ".venv/.installed-cpu", "publish", f"PY={sys.executable}"]  # no venv install here
    missing = sh(*make, check=False)
    assert missing.returncode == 2 and "run make book first" in missing.stderr
    assert sh("git", "--git-dir", str(remote), "branch", "--list", "gh-pages").stdout == ""  # nothing pushed
    html = work / "book" / "_build" / "html"
    (html / "_static").mkdir(parents=True)
    (html / "index.html").write_text("<html>the book</html>")
    (html / "_static" / "style.css").write_text("body {}")
    sh(*make)
    files = sh("git", "--git-dir", str(remote), "ls-tree", "-r", "--name-only", "gh-pages").stdout.split()
    assert sorted(files) == [".nojekyll", "_static/style.css", "index.html"]
    head = sh("git", "rev-parse", "--short", "HEAD").stdout.strip()
    assert sh("git", "--git-dir", str(remote), "log", "-1", "--format=%s", "gh-pages").stdout.strip() == f"book from {head}"
