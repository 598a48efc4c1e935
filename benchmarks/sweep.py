"""How long page 04's whole sweep takes cold: every circuit of every run, both question samples.

Builds, in a fresh results cache (the zoo linked in read-only), what ``trace_models`` builds for the
runs of a profile: per run and question sample (``plan.PLAN.circuits.n_samples``), the base circuit
and one circuit per checkpoint, each on ``n_questions`` questions of the plan's circuit question set.
Work is split over ``--jobs`` processes of one thread each (:func:`~thinking_sparks.emergence.trace.warm_sweep`):
first every side's answer prefixes, then the circuits.

Prints the wall seconds of the two phases, the CPU seconds of all processes, and the per-circuit
seconds summed by phase (attribution, exact patching, faithfulness, bootstrap; these are per-process
wall times, so with two processes they sum to about twice the wall time of the circuit phase).
``--compare N``: also one circuit on ``N`` questions the old way (bridge built, patching and
faithfulness on every pair in batches of 8, prefixes decoded 16 at a time) against the new one.

Usage::

    PYTHONPATH=src SPARKS_CACHE=<cache holding organism/full> .venv/bin/python benchmarks/sweep.py \\
        [--profile full] [--runs sft grpo-hard] [--questions 512] [--jobs 2] [--compare 64]

Last line: ``total=<s> prefixes=<s> circuits=<s> circuits_built=<n>``. With ``--runs`` a subset, it also
projects the CPU seconds of the whole sweep (every post-trained run, the plan's samples) and its wall
time on two otherwise idle cores with ``--jobs 2`` (CPU / 2; the book's sweep runs two processes).

Measured (2026-12-03, full profile, 512 questions, ``--runs sft --samples 1 --jobs 1``: 11 circuits;
old = eb60fca and new run side by side on a 2-core machine at load average 13-17, so CPU seconds,
not wall, are compared; wall under that load was 1075 s old, 958 s new):

* cpu seconds (all processes, incl. the unchanged answer-prefix sampling and question set): old 143.4,
  new 99.3 (x1.44); per circuit (CPU s, sft@250, 511 pairs): attribution 6.95 -> 4.88, exact head
  patching 1.39 -> 1.30, faithfulness 0.44 -> 0.54 (noise), bootstrap 0.94 -> 0.12; per process once:
  the question set 3.6-4.6 s, the first model load 2.1 s (imports).
* attribution's floor, a plain forward + 5 x (forward + backward) of the same batches: 5.25 CPU s (HF
  model); the old attribution was 1.32x it; the new one computes only the positions from the batch's
  first clean/corrupted difference (about half of them) and runs under it.
* projection: the old whole sweep took 1155 s wall in one process on a quieter machine; / 1.44 is about
  800 s in one process, and about 400 s with ``--jobs 2`` on two idle cores (target 480 s). This script's
  own projection from the loaded run (``cpu 1191 s``, wall about 596 s) carries the load's inflation of
  CPU seconds (the old code's loaded CPU projects to 1721 s against its 1155 s measured: x1.49).
* equality: the 11 circuits' cache keys, head sets, inclusion maps, exact effects and faithfulness are
  identical; head importance within 1e-7; per-example edge scores within 6.6e-6 of each circuit's
  largest score (per example: median 6.7e-7, 99th percentile 8.8e-6 of its own largest score). The old
  code's clean and corrupted sources differed by up to 2e-5 at the shared-prefix positions (float noise
  of two code paths; exactly 0 in the new runs), which is where these differences come from.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path


def _fresh_cache(profile: str) -> Path:
    """A new results cache whose ``organism/<profile>`` links the current cache's zoo (read-only use)."""
    from thinking_sparks import runtime

    zoo = runtime.cache_dir() / "organism" / profile
    if not zoo.exists():
        raise SystemExit(f"no organism/{profile} zoo under {runtime.cache_dir()} (set SPARKS_CACHE)")
    root = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    (root / "organism").mkdir()
    (root / "organism" / profile).symlink_to(zoo.resolve())
    return root


def _compare(job, settings, n_questions: int) -> tuple[float, float]:
    """``(old seconds, new seconds)`` of one circuit on ``n_questions`` questions, cache off."""
    from thinking_sparks.circuits.attribute import attribute
    from thinking_sparks.circuits.circuit import top_n
    from thinking_sparks.circuits.faithfulness import evaluate_circuit
    from thinking_sparks.circuits.patching import patch_nodes
    from thinking_sparks.emergence import sweep
    from thinking_sparks.emergence.pairs import build_pairs, sample_prefixes
    from thinking_sparks.models import load_model

    model, clean, corr, pp = job
    pp = dataclasses.replace(pp, n_questions=n_questions, sample=0)
    old_pp = dataclasses.replace(pp, sampling=dataclasses.replace(pp.sampling, batch_size=16))
    t0 = time.perf_counter()
    ps = build_pairs(sample_prefixes(clean, old_pp, use_cache=False), sample_prefixes(corr, old_pp, use_cache=False),
                     pp.answer_tokens)
    lm = load_model(model)
    kw = {"metric": settings.metric, "gqa": settings.gqa}
    a = attribute(lm.bridge, ps.pairs, method=settings.method, steps=settings.steps, rule=settings.rule,
                  keep_per_example=True, progress=False, **kw)
    c = top_n(a, settings.n_for(a.graph), settings.aggregation)
    evaluate_circuit(lm.bridge, ps.pairs, c, batch_size=8, metric=settings.metric)
    sweep.inclusion(a.per_example, a.graph, settings.n_for(a.graph), settings.n_boot, settings.seed)
    patch_nodes(lm.bridge, ps.pairs, direction="denoise", batch_size=8, **kw)
    old = time.perf_counter() - t0
    t0 = time.perf_counter()
    sweep.circuit_for(model, clean, corr, pp, settings, use_cache=False)
    return old, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="full")
    ap.add_argument("--runs", nargs="*", default=None, help="post-trained runs (default: every one of the profile)")
    ap.add_argument("--questions", type=int, default=None, help="questions per circuit (default: the plan's)")
    ap.add_argument("--samples", type=int, default=None, help="question samples (default: the plan's)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--compare", type=int, default=0, help="also time one circuit the old way on N questions")
    args = ap.parse_args()

    import torch

    from thinking_sparks import runtime
    from thinking_sparks.emergence.modelruns import resolve_runs
    from thinking_sparks.emergence.pairs import questions
    from thinking_sparks.emergence.sweep import circuit_for
    from thinking_sparks.emergence.trace import sweep_jobs, warm_sweep
    from thinking_sparks.organism.config import profile
    from thinking_sparks.pages.params import CircuitInputs, emergence_settings
    from thinking_sparks.plan import PLAN

    runs = args.runs or [name for name, spec in profile(args.profile).items() if spec.parent]
    cache = _fresh_cache(args.profile)
    os.environ["SPARKS_CACHE"] = str(cache)
    torch.set_num_threads(1)  # one thread per process: the workers are pinned the same way
    n_q = args.questions or PLAN.circuits.n_questions
    pairs, settings = emergence_settings(CircuitInputs(profile=args.profile, n_questions=n_q))
    pairs = dataclasses.replace(pairs, dataset=PLAN.circuits.question_set)
    settings = dataclasses.replace(settings, n_boot=PLAN.circuits.n_boot)
    jobs = sweep_jobs(resolve_runs(runs, args.profile), pairs, args.samples)
    print(f"cache {cache}; {len(runs)} runs, {len(jobs)} circuits of {n_q} questions, {args.jobs} processes")
    cpu0 = runtime.cpu_seconds()
    for pp in dict.fromkeys(job[3] for job in jobs):
        questions(pp)  # the question set, drawn once per process: not scaled in the projection below
    setup = runtime.cpu_seconds() - cpu0
    print(f"question set in this process: cpu {setup:.1f} s (each worker process draws it again)")
    cpu0, t0 = runtime.cpu_seconds(), time.perf_counter()
    phases = warm_sweep(jobs, settings, args.jobs)
    total = time.perf_counter() - t0
    cpu = runtime.cpu_seconds() - cpu0
    sums: dict[str, float] = {}
    pairs_of = []
    for job in jobs:
        r = circuit_for(*job, settings)
        pairs_of.append(r.n_pairs)
        for k, v in r.seconds.items():
            sums[k] = sums.get(k, 0.0) + float(v)
    print("per-circuit seconds summed over processes: "
          + ", ".join(f"{k.removesuffix('_s')} {v:.1f}" for k, v in sorted(sums.items())))
    print(f"cpu seconds (all processes) {cpu:.1f}")
    every = sweep_jobs(resolve_runs([n for n, spec in profile(args.profile).items() if spec.parent], args.profile),
                       pairs)  # the plan's question samples
    if len(every) != len(jobs):  # a subset of the runs: scale its CPU seconds to the whole sweep
        full_cpu = cpu * len(every) / len(jobs)
        print(f"projected whole sweep ({len(every)} circuits): cpu {full_cpu:.0f} s (+ {setup:.0f} s per process for "
              f"the question set), wall with --jobs 2 on 2 otherwise idle cores about {full_cpu / 2:.0f} s (cpu / 2)")
    if args.compare:
        richest = max(range(len(jobs)), key=lambda i: pairs_of[i])  # the circuit with the most usable pairs
        old, new = _compare(jobs[richest], settings, args.compare)
        print(f"one circuit on {args.compare} questions, cache off: old path {old:.1f} s, new {new:.1f} s "
              f"(x{old / new:.2f})")
    print(f"total={total:.1f} prefixes={phases['prefixes']:.1f} circuits={phases['circuits']:.1f} "
          f"circuits_built={len(jobs)}")


if __name__ == "__main__":
    main()
