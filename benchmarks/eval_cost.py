"""What an evaluation size costs: seconds of the organism's sampled generation per eval set, for
``problems`` x ``k`` samples, on one model of a zoo profile.

The analysis plan (``thinking_sparks.plan``, section ``sizes``) fixes the problems and samples per
problem of every evaluation from the power calculation (``thinking_sparks.power``); this benchmark
measures what a size costs so that the plan can say what is affordable. Each line is one cell:
``set, mode, problems, k, samples, seconds, samples_per_second``; the last line scales the measured
rates to page 02's evaluation before and after the plan (``--cells`` model-mode cells).

Usage: ``python benchmarks/eval_cost.py [--model organism/full/base@final] [--mode default]
[--sizes 100x4 400x1] [--sets easy medium hard] [--cells 9]`` (set ``SPARKS_CACHE`` to a cache that
holds the zoo and no earlier generations, e.g. a fresh folder with ``organism/full`` linked in: a
cached cell would time nothing).
"""

from __future__ import annotations

import argparse
import logging
import time

from thinking_sparks import runtime

log = logging.getLogger("eval_cost")


def measure(model: str, mode: str, sets: list[str], sizes: list[tuple[int, int]]) -> list[dict]:
    """One row per set and size: seconds of ``scores._evaluate`` on a fresh (uncached) generation."""
    from thinking_sparks.organism import scores

    rows = []
    for name in sets:
        for problems, k in sizes:  # sizes side by side per set, so that drift on a shared machine hits them alike
            t0 = time.perf_counter()
            _, sampled = scores._evaluate([model], [mode], k, None, 0.6, 128, problems, "cpu", False, [name])
            seconds = time.perf_counter() - t0
            rows.append({"set": name, "mode": mode, "problems": sampled["problem_id"].nunique(), "k": k,
                         "samples": len(sampled), "tokens_per_sample": round(float(sampled["n_tokens"].mean()), 1),
                         "seconds": round(seconds, 1), "samples_per_second": round(len(sampled) / seconds, 2)})
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="organism/full/base@final")
    ap.add_argument("--mode", default="default")
    ap.add_argument("--sets", nargs="+", default=["easy", "medium", "hard"])
    ap.add_argument("--sizes", nargs="+", default=["100x4", "400x1"], help="PROBLEMSxK")
    ap.add_argument("--cells", type=int, default=9, help="model-mode cells of page 02's evaluation")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    runtime.setup(threads=args.threads, level=logging.WARNING)
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes]
    rows = measure(args.model, args.mode, args.sets, sizes)
    rate = {(r["set"], r["k"]): r["samples_per_second"] for r in rows}

    def cell_seconds(per_set: dict[str, tuple[int, int]]) -> float:
        out = 0.0
        for name, (problems, k) in per_set.items():
            nearest = min((kk for s, kk in rate if s == name), key=lambda kk: abs(kk - k))
            out += problems * k / rate[(name, nearest)]
        return out

    from thinking_sparks.plan import PLAN

    s = PLAN.sizes
    before = cell_seconds({"easy": (100, 4), "medium": (100, 4), "hard": (100, 32)})
    after = cell_seconds({"easy": (s.easy_size, s.premise_k), "medium": (s.medium_size, s.premise_k),
                          "hard": (s.hard_size, s.premise_k)})
    print(f"page02_eval_seconds_before={before * args.cells:.0f} page02_eval_seconds_after={after * args.cells:.0f} "
          f"(cells={args.cells}, model={args.model}, mode={args.mode})")


if __name__ == "__main__":
    main()
