import dataclasses, logging, sys, time, json
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
logging.getLogger("httpx").setLevel(logging.WARNING)
from thinking_sparks.plan import PLAN
from thinking_sparks.emergence import saeattr
from thinking_sparks.emergence.pairs import PairParams, prefix_sampling
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.verdicts import verdict_table
prof = sys.argv[1]
plan = PLAN
if prof == "tiny":
    plan = dataclasses.replace(PLAN, sae=dataclasses.replace(PLAN.sae, steps=50, train_problems=100, heldout_problems=20, n_questions=16, null_splits=20),
                               stats=dataclasses.replace(PLAN.stats, n_resamples=100))
pairs = PairParams(dataset="organism/circuit" if prof == "full" else "organism/hard", n_questions=512 if prof == "full" else 16, answer_tokens=24, sampling=prefix_sampling(24))
t = time.perf_counter()
r = saeattr.sae_circuits(f"organism/{prof}/base@final", f"organism/{prof}/distill@final", pairs, CircuitConfig(), plan)
print("wall", time.perf_counter() - t, r.seconds, "train tokens", r.train_tokens)
import pandas as pd; pd.set_option("display.width", 200)
print(r.quality.to_string())
print(saeattr.effect_frame(r.pre_importance, r.post_importance, plan).to_string())
print("error share pre/post per layer", r.pre_error.mean(0).round(3), r.post_error.mean(0).round(3))
print(verdict_table(saeattr.claim_rows(r.pre_importance, r.post_importance, "base", "distill", plan)).to_string())
