"""What page 04's second circuit question set (the paper's AMC circuits, Figs 6 and 9) adds.

In the current results cache (``SPARKS_CACHE``, the zoo linked in read-only), for the runs the plan
traces on the second set (``plan.PLAN.second_set.roles``: SFT and the main GRPO run): builds every
circuit of their sweep on the second set (both question samples, the base circuits), then the
agreement with the first set (its sweep read from the cache, or built first when absent: its time is
printed apart), as page 04 does with its default parameters.

Prints the wall and CPU seconds of the second set's sweep, each circuit's CPU seconds, the per-circuit
seconds of both sets' circuits as each cache entry recorded them (the first set's may come from
another machine load: compare the circuits of the two sets built in this run where there are any),
the seconds of the agreement, and the agreement rows.

``--finals``: only the circuits the agreement reads (each run's final checkpoint and base, both
question samples: 4 per run and set), and the whole second-set sweep's CPU seconds extrapolated from
their mean; ``--paired``: then one first-set circuit (the first run's final checkpoint, sample 0)
rebuilt cold beside its second-set twin, the CPU-seconds ratio of the two sets at the same load.

Usage::

    SPARKS_CACHE=<cache holding organism/full> PYTHONPATH=src .venv/bin/python benchmarks/second_set.py [--profile full]

Last line: ``second_set_wall=<s> second_set_cpu=<s> circuits=<n> agreement=<s>``.
"""

from __future__ import annotations

import argparse
import logging
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="full")
    ap.add_argument("--finals", action="store_true", help="only the circuits the agreement reads")
    ap.add_argument("--paired", action="store_true", help="also rebuild one first-set circuit cold")
    args = ap.parse_args()

    import dataclasses

    import pandas as pd

    from thinking_sparks import runtime
    from thinking_sparks.emergence import modelruns, secondset
    from thinking_sparks.emergence.sizing import sized_config
    from thinking_sparks.emergence.sweep import circuit_for
    from thinking_sparks.emergence.trace import _warm, sweep_jobs
    from thinking_sparks.pages.emergence import Params
    from thinking_sparks.pages.params import emergence_settings
    from thinking_sparks.verdicts import verdict_table

    runtime.setup(threads=1, level=logging.WARNING)
    params = Params(profile=args.profile, build=False)
    models = modelruns.resolve_runs(params.runs, params.profile)
    chosen = secondset.chosen_runs(models)
    models = {label: models[label] for label in chosen}
    pairs, config = emergence_settings(params)
    config = sized_config(params.size, models, pairs, config)
    second = dataclasses.replace(pairs, dataset=params.second_set)
    full_jobs = None
    if args.finals:  # the agreement's circuits only: each run's final checkpoint and base
        full_jobs = len(sweep_jobs(models, second))
        models = {k: dataclasses.replace(m, checkpoints=m.checkpoints[-1:]) for k, m in models.items()}
    print(f"runs {list(chosen)} ({list(chosen.values())}); first set {pairs.dataset}, second {second.dataset}, "
          f"{pairs.n_questions} questions per circuit")
    jobs = {name: sweep_jobs(models, pp) for name, pp in (("first", pairs), ("second", second))}
    t0 = time.perf_counter()
    _warm(jobs["first"], config)
    print(f"first set's sweep (cached or built): {time.perf_counter() - t0:.1f} s")
    cpu0, t0 = runtime.cpu_seconds(), time.perf_counter()
    each = []
    for job in jobs["second"]:
        c0 = runtime.cpu_seconds()
        _warm([job], config)
        each.append(runtime.cpu_seconds() - c0)
        print(f"  {job[0]} sample {job[3].sample}: cpu {each[-1]:.1f} s", flush=True)
    wall, cpu = time.perf_counter() - t0, runtime.cpu_seconds() - cpu0
    built = [c for c in each if c > 1.0]  # a circuit read from the cache loads no model: well under 1 CPU-s
    if full_jobs and built:
        mean = sum(built) / len(built)
        print(f"whole second-set sweep of these runs: {full_jobs} circuits, about {full_jobs * mean:.0f} CPU-s "
              f"(mean {mean:.1f} CPU-s over the {len(built)} circuits built here)")
    rows = []
    for name, todo in jobs.items():
        for model, clean, corr, pp in todo:
            r = circuit_for(model, clean, corr, pp, config)
            rows.append({"set": name, "model": model, "sample": pp.sample, "pairs": r.n_pairs,
                         "seconds": float(r.seconds.get("total_s", 0.0))})
    per = pd.DataFrame(rows)
    print("per-circuit seconds as recorded, by set:", per.groupby("set").seconds.agg(["count", "sum", "median"])
          .round(1).to_dict("index"))
    t0 = time.perf_counter()
    result = secondset.second_set(models, pairs, config, params.n_boot, params.second_set)
    agree = time.perf_counter() - t0
    pd.set_option("display.width", 200)
    print(result.agreement.round(3).to_string(index=False))
    print(verdict_table(secondset.agreement_verdicts(result))[["statistic", "value", "ci_low", "ci_high", "criterion",
                                                                "verdict"]].to_string(index=False))
    if args.paired:
        job = jobs["first"][1]  # the first run's final checkpoint, sample 0
        twin = jobs["second"][1]
        c0 = runtime.cpu_seconds()
        circuit_for(*job, config, use_cache=False)
        c1 = runtime.cpu_seconds() - c0
        c0 = runtime.cpu_seconds()
        circuit_for(*twin, config, use_cache=False)
        c2 = runtime.cpu_seconds() - c0
        print(f"paired, {job[0]} sample 0, cache off: first set {c1:.1f} CPU-s, second set {c2:.1f} CPU-s "
              f"(x{c2 / c1:.2f})")
    print(f"second_set_wall={wall:.1f} second_set_cpu={cpu:.1f} circuits={len(jobs['second'])} agreement={agree:.1f}")


if __name__ == "__main__":
    main()
