"""Fig 12 on the organism: residual SAEs of the base, their quality, node attributions and the verdicts.

Runs :func:`thinking_sparks.emergence.saeattr.sae_circuits` (the analysis plan's ``sae`` section) for
``organism/<profile>/base@final`` against ``organism/<profile>/distill@final`` on page 04's pairs
(page 08's defaults), and prints: SAE training seconds, variance explained, L0, spliced KL and KL
score per layer; the attribution time; the Fig 12 cells; the error nodes' share of the residual
importance; the three verdict rows. ``--profile tiny`` shrinks the plan to a smoke test.

Usage: ``SPARKS_CACHE=... PYTHONPATH=src .venv/bin/python benchmarks/sae_fig12.py [--profile full]``
(a warm results cache prints the stored numbers; its seconds are those of the run that stored them).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time

import pandas as pd

from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.emergence import saeattr
from thinking_sparks.emergence.pairs import PairParams, prefix_sampling
from thinking_sparks.plan import PLAN
from thinking_sparks.verdicts import verdict_table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="full", choices=["full", "tiny"])
    prof = ap.parse_args().profile
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    plan, n_q = PLAN, PLAN.circuits.n_questions
    if prof == "tiny":
        plan = dataclasses.replace(PLAN, stats=dataclasses.replace(PLAN.stats, n_resamples=100),
                                   sae=dataclasses.replace(PLAN.sae, steps=50, train_problems=100, heldout_problems=20,
                                                           n_questions=16, null_splits=20))
        n_q = 16
    pairs = PairParams(dataset=PLAN.circuits.question_set if prof == "full" else "organism/hard", n_questions=n_q,
                       answer_tokens=24, sampling=prefix_sampling(24))
    t = time.perf_counter()
    r = saeattr.sae_circuits(f"organism/{prof}/base@final", f"organism/{prof}/distill@final", pairs, CircuitConfig(),
                             plan)
    pd.set_option("display.width", 200)
    print(f"wall {time.perf_counter() - t:.1f} s; stored seconds {r.seconds}; SAE training tokens {r.train_tokens}")
    print(r.quality.to_string())
    print(saeattr.effect_frame(r.pre_importance, r.post_importance, plan).round(4).to_string())
    print("error-node share of RESID importance per layer: base", r.pre_error.mean(0).round(3),
          "distill", r.post_error.mean(0).round(3))
    table = verdict_table(saeattr.claim_rows(r.pre_importance, r.post_importance, "base", "distill", r.pre_null_importance,
                                                     plan))
    print(table[["claim", "value", "ci_low", "ci_high", "criterion", "verdict"]].to_string())


if __name__ == "__main__":
    main()
