"""Measured cost of page 09's single-head ablations: the unmodified model and ``--heads`` heads zeroed
alone, each evaluated on the page's easy set at the page's sampling (``pages.heads.Params``), and the
time every head of the model would take at the mean of those.

Each evaluation goes to the evaluation cache (use a scratch ``SPARKS_CACHE``: a cached evaluation
reads back in well under a second and would hide the cost).

Run: ``SPARKS_CACHE=/tmp/scratch PYTHONPATH=src:. python benchmarks/single_head.py --model organism/full/sft@final``.
"""

from __future__ import annotations

import argparse
import logging
import time

from thinking_sparks import models
from thinking_sparks.interventions.experiments import pass_at_1_table
from thinking_sparks.interventions.single import single_head_conditions
from thinking_sparks.pages.heads import Params

log = logging.getLogger("single_head")

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="organism/full/sft@final")
    ap.add_argument("--heads", type=int, default=1, help="heads zeroed alone (the first ones, layer-major)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    params = Params(build=False, device=args.device)
    lm = models.load_model(args.model, device=args.device)
    conditions = single_head_conditions(lm.n_layers, lm.n_heads)
    seconds = []
    for cond in conditions[:1 + args.heads]:
        t0 = time.perf_counter()
        res = pass_at_1_table(lm, [cond], params.eval_params(), sets=[params.eval_set])
        seconds.append(time.perf_counter() - t0)
        row = res.table.iloc[0]
        log.info("%s: pass@1 %.3f [%.3f, %.3f] on %d problems x %d samples in %.1f s", cond.label, row["pass@1"],
                 row["ci_low"], row["ci_high"], row["n_problems"], params.n, seconds[-1])
    mean = sum(seconds) / len(seconds)
    log.info("%d evaluations (unmodified + %d heads) at %.0f s each: about %.1f h on %s", len(conditions),
             len(conditions) - 1, mean, len(conditions) * mean / 3600, args.device)
