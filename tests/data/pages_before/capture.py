"""Run every notebook of the checkout in cwd on the tiny profile (test_book's parameters) and dump
every DataFrame reachable from its globals, plus its verdict table, to OUT/<stem>.json."""
import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat

REPO = Path.cwd()
OUT = Path(sys.argv[1]); OUT.mkdir(parents=True, exist_ok=True)
only = sys.argv[2:]
sys.path.insert(0, str(REPO))
from tests.test_book import TEST_PARAMS
from thinking_sparks import runtime

runtime.setup(threads=1)
from thinking_sparks.organism import zoo
from thinking_sparks.runs import execute
from thinking_sparks.tiny import build_tiny

work = Path(tempfile.mkdtemp(prefix="capture-"))
cache = work / "cache"; cache.mkdir()
os.environ["SPARKS_CACHE"] = str(cache)
model_dir = build_tiny(work / "tiny-dir", arch="qwen2", seed=0)
zoo.build("tiny")
DUMP = r'''
import json as _json, dataclasses as _dc, pandas as _pd
def _walk(obj, name, out, depth=0):
    if isinstance(obj, _pd.DataFrame):
        out[name] = _json.loads(obj.reset_index().to_json(orient="split", double_precision=10, default_handler=str)); return
    if isinstance(obj, _pd.Series):
        out[name] = _json.loads(obj.reset_index().to_json(orient="split", double_precision=10, default_handler=str)); return
    if depth >= 3: return
    if isinstance(obj, dict):
        for k, v in list(obj.items()): _walk(v, f"{name}[{k}]", out, depth + 1)
    elif _dc.is_dataclass(obj) and not isinstance(obj, type):
        for f in _dc.fields(obj): _walk(getattr(obj, f.name), f"{name}.{f.name}", out, depth + 1)
    elif isinstance(obj, (int, float, str)) and depth > 0:
        out[name] = obj
_out = {}
for _k, _v in list(globals().items()):
    if not _k.startswith("_") and _k not in ("In", "Out"):
        try: _walk(_v, _k, _out)
        except Exception as _e: pass
open(DUMP_PATH, "w").write(_json.dumps(_out, default=str))
'''
for nb_path in sorted((REPO / "notebooks").glob("*.ipynb")):
    stem = nb_path.stem
    if only and stem not in only: continue
    nb = nbformat.read(nb_path, as_version=4)
    dump = OUT / f"{stem}.globals.json"
    nb.cells.append(nbformat.v4.new_code_cell(f"DUMP_PATH = {str(dump)!r}\n" + DUMP))
    src = work / f"{stem}.ipynb"; nbformat.write(nb, src)
    out = work / "out" / f"{stem}.ipynb"
    import time; t0 = time.time()
    execute(src, out, {"model": str(model_dir), **TEST_PARAMS}, cwd=REPO / "notebooks")
    from thinking_sparks.verdicts import collect
    table = collect(out)
    payload = {"verdicts": None if table is None else json.loads(table.to_json(orient="records", double_precision=10))}
    (OUT / f"{stem}.verdicts.json").write_text(json.dumps(payload, indent=1))
    print(stem, "done", round(time.time() - t0), "s", flush=True)
