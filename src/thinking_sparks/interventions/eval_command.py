"""``sparks eval``: sample a model on an eval set (optionally with heads ablated or scaled), grade,
write samples.parquet + summary.json.

Registered in :mod:`thinking_sparks.cli`; kept import-light (torch loads only when the verb runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from thinking_sparks.interventions import cli as iv_cli


def eval_command(
    model: str = typer.Option(..., "--model", "-m",
                              help="Model spec (dir, hub name, smollm2-135m-instruct, organism/<run>@<step>)."),
    dataset: str = typer.Option(..., "--dataset", "-d",
                                help="organism/easy|medium|hard or a .jsonl file with question/answer."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory for samples.parquet and summary.json."),
    n: int = typer.Option(8, "--n", help="Samples per problem."),
    temperature: float = typer.Option(0.6, "--temperature", "-t", help="0 = greedy."),
    top_p: float = typer.Option(0.95, "--top-p"),
    top_k: int = typer.Option(0, "--top-k", help="0 = off."),
    min_p: float = typer.Option(0.0, "--min-p", help="0 = off."),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens"),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N problems."),
    seed: int = typer.Option(0, "--seed"),
    batch_size: int = typer.Option(16, "--batch-size", help="Sequences decoded together."),
    k: Optional[List[int]] = typer.Option(None, "--k",
                                          help="k for pass@k/success@k (repeatable; default powers of 2 <= n)."),
    stop: Optional[List[str]] = typer.Option(None, "--stop", help="Stop string (repeatable; default </answer>)."),
    system: Optional[str] = typer.Option(None, "--system", help="System message for the chat template."),
    think: Optional[bool] = typer.Option(None, "--think/--no-think",
                                         help="enable_thinking for templates that know it."),
    instruction: Optional[str] = typer.Option(None, "--instruction", help="Text appended to every question."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, ... (default: auto)."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="float32, bfloat16, ... (default: auto)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute even if a cached result exists."),
    ablate: Optional[List[str]] = typer.Option(None, "--ablate", help=iv_cli.ABLATE_HELP),
    ablate_mode: str = typer.Option("zero", "--ablate-mode", help=iv_cli.MODE_HELP),
    scale: Optional[List[str]] = typer.Option(None, "--scale", help=iv_cli.SCALE_HELP),
    reference: Optional[str] = typer.Option(None, "--reference",
                                            help="Eval set for --ablate-mode mean (default: --dataset)."),
    reference_limit: int = typer.Option(32, "--reference-limit", min=1, help=iv_cli.REFERENCE_LIMIT_HELP),
) -> None:
    """Evaluate a model: pass@1, pass@k, success@k with bootstrap CIs, by difficulty."""
    from thinking_sparks.evaluation.generation import SamplingConfig  # deferred: loaded only when this verb runs
    from thinking_sparks.evaluation.harness import EvalParams, run_eval  # deferred: loaded only when this verb runs

    if n < 1:
        raise ValueError(f"--n must be >= 1, got {n}")
    iv_cli.check_options(ablate, ablate_mode, scale)
    from thinking_sparks.atomic import atomic_dir, check_replaceable  # deferred: loaded only when this verb runs
    from thinking_sparks.evaluation.harness import (  # deferred: loaded only when this verb runs
        SAMPLES_FILE,
        SUMMARY_FILE,
    )

    check_replaceable(out, (SAMPLES_FILE, SUMMARY_FILE))
    sampling = SamplingConfig(n=n, temperature=temperature, top_p=top_p, top_k=top_k, min_p=min_p,
                              max_new_tokens=max_new_tokens, seed=seed, batch_size=batch_size,
                              stop=tuple(stop) if stop else SamplingConfig.stop)
    params = EvalParams(dataset=dataset, sampling=sampling, limit=limit, system=system, enable_thinking=think,
                        instruction=instruction, ks=tuple(k) if k else None)
    from thinking_sparks.evaluation.datasets import load_eval_set  # deferred: loaded only when this verb runs
    from thinking_sparks.models import load_model  # deferred: loaded only when this verb runs

    load_eval_set(dataset, limit=limit)  # fail on a bad eval set before loading the model
    lm = load_model(model, device=device, dtype=dtype)
    from thinking_sparks.interventions.means import reference_texts  # deferred: loaded only when this verb runs

    intervention = iv_cli.build_intervention(
        lm, ablate, ablate_mode, scale,
        reference=lambda: reference_texts(lm, reference or dataset, limit=reference_limit,
                                          max_new_tokens=max_new_tokens, system=system, enable_thinking=think,
                                          batch_size=batch_size))
    if intervention:
        typer.echo(f"intervention: {intervention.describe()}")
    with atomic_dir(out) as tmp:  # --out appears whole at the end, or not at all
        result = run_eval(lm, params, out_dir=tmp, use_cache=not no_cache, intervention=intervention)
    result.out_dir = out
    typer.echo(format_summary(result))
    typer.echo(f"wrote {out / 'samples.parquet'} and {out / 'summary.json'}"
               + (" (from cache)" if result.info.get("cached") else ""))


def format_summary(result) -> str:
    """A short plain-text table: one line per difficulty, pass@k and success@k with CIs."""
    frame = result.summary.to_frame()
    lines = []
    for diff, g in frame.groupby("difficulty", sort=False):
        parts = [f"{r.metric}@{r.k} {r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]" for r in g.itertuples()]
        lines.append(f"{diff} (n_problems={g['n_problems'].iloc[0]}): " + "; ".join(parts))
    timing = result.info.get("timing", {})
    if timing:
        lines.append(f"generation: {timing.get('new_tokens')} new tokens in {timing.get('seconds')} s "
                     f"({timing.get('tokens_per_second')} tok/s)")
    return "\n".join(lines)
