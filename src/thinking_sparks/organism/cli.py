"""``sparks zoo build`` / ``sparks zoo list``: build and inspect the organism zoo."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import typer

from thinking_sparks import atomic
from thinking_sparks.errors import friendly_errors
from thinking_sparks.organism.premises import HARD_N
from thinking_sparks.plan import PLAN

zoo_app = typer.Typer(add_completion=False, no_args_is_help=True,
                      help="The model organism: build and list post-training runs and checkpoints.")


@zoo_app.command("build")
def build_command(
    profile: str = typer.Option("full", "--profile", help="full (the zoo, <= 20 min on 2 CPU cores) or tiny (tests)."),
    runs: list[str] | None = typer.Option(None, "--runs", help="Only these runs (and what they start from); "
                                             "repeat or comma-separate."),
    force: bool = typer.Option(False, "--force", help="Rebuild the named runs even if cached."),
    jobs: int = typer.Option(2, "--jobs", min=1, help="Runs trained in parallel processes, 1 torch thread each "
                             "(2 fits a 2-core machine; 1 = sequential, in this process)."),
) -> None:
    """Build whatever is missing (cached, resumable, deterministic by seed)."""

    @friendly_errors
    def _run() -> None:
        from thinking_sparks.organism import zoo  # deferred: loaded only when this verb runs

        names = [r.strip() for item in (runs or []) for r in item.split(",") if r.strip()] or None
        t0 = time.perf_counter()
        finals = zoo.build(profile, names, force=force, jobs=jobs)
        for name, path in finals.items():
            typer.echo(f"organism/{profile}/{name}@final  {path}")
        typer.echo(f"zoo {profile}: {len(finals)} runs ready in {time.perf_counter() - t0:.1f} s")

    _run()


@zoo_app.command("list")
def list_command(
    profile: str | None = typer.Option(None, "--profile", help="Only this profile (default: all)."),
) -> None:
    """List runs, whether they are built, and their checkpoint steps."""

    @friendly_errors
    def _run() -> None:
        from thinking_sparks.organism import zoo  # deferred: loaded only when this verb runs

        for r in zoo.list_runs(profile):
            steps = ",".join(map(str, r.steps)) if r.steps else "-"
            took = f"{r.seconds:.0f}s" if r.seconds is not None else "-"
            status = "built" if r.built else "missing"
            typer.echo(f"{r.profile:5s} {r.family:6s} {r.name:13s} {r.kind:9s} from={r.parent or '-':10s} {status:8s} "
                       f"{took:>6s} steps={steps}")

    _run()


@zoo_app.command("report")
def report_command(
    profile: str | None = typer.Option(None, "--profile", help="full or tiny (default: $SPARKS_ORGANISM_PROFILE or full)."),
    n: int = typer.Option(HARD_N, "--n", min=1, help="Samples per problem on the easy and medium sets (pass@1 is "
                          "their mean; default: the analysis plan's, as --hard-n)."),
    hard_n: int = typer.Option(HARD_N, "--hard-n", min=1, help="Samples per problem on the hard set, where the "
                               "premise checks are decided (default: the analysis plan's, plan.PLAN.sizes.premise_k)."),
    temperature: float = typer.Option(0.6, "--temperature", min=0.0, help="Sampling temperature."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N problems of each set."),
    out: str | None = typer.Option(None, "--out", help="Also write the tidy table to this CSV file."),
) -> None:
    """pass@1 per eval set for the final checkpoint of every run (hybrid: think vs no_think), then
    the premise checks (paired differences on the hard set, GRPO's reward rise)."""

    @friendly_errors
    def _run() -> None:
        from thinking_sparks.organism import curves, premises, scores  # deferred: loaded only when this verb runs

        t0 = time.perf_counter()
        evaluation = scores.zoo_evaluation(profile, n=n, hard_n=hard_n, limit=limit, temperature=temperature,
                                           progress=True)
        table = evaluation.table
        if out:
            path = Path(out)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic.write_text(path, table.to_csv(index=False))
        typer.echo(scores.wide(table).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        typer.echo(f"{len(table)} evaluations, n={n} (hard: {hard_n}), T={temperature}, in "
                   f"{time.perf_counter() - t0:.0f} s\n")
        checks = premises.claims(evaluation.samples, curves.reward_summary(profile), difficulty=PLAN.levels.premise_set)
        shown = checks[["claim", "value", "ci_low", "ci_high", "verdict"]]
        typer.echo(shown.to_string(index=False, float_format=lambda v: f"{v:+.3f}"))

    _run()


@zoo_app.command("levels")
def levels_command(
    profile: str | None = typer.Option(None, "--profile", help="full or tiny (default: $SPARKS_ORGANISM_PROFILE or full)."),
    levels: str | None = typer.Option(None, "--levels", help="Comma-separated difficulty levels (default: all)."),
    runs: str | None = typer.Option(None, "--runs", help="Comma-separated runs (default: all; base is needed for "
                                    "the pair column)."),
    problems: int | None = typer.Option(None, "--problems", min=1, help="Pilot problems per level "
                                        "(default: the analysis plan's levels.pilot_problems)."),
    samples: int | None = typer.Option(None, "--samples", min=1, help="Samples per problem "
                                       "(default: the plan's levels.pilot_samples)."),
    out: str | None = typer.Option(None, "--out", help="Also write the tidy pilot table to this CSV file."),
) -> None:
    """The difficulty pilot: pass@1 per level of every final model (binomial 95 % CIs) on problems no
    eval set holds, and the level mix that puts the most models within the plan's band."""

    @friendly_errors
    def _run() -> None:
        from thinking_sparks.organism import levels as pilot_levels  # deferred: loaded only when this verb runs

        chosen = [int(x) for x in levels.split(",") if x.strip()] if levels else None
        names = [r.strip() for r in runs.split(",") if r.strip()] if runs else None
        t0 = time.perf_counter()
        table = pilot_levels.pilot(profile, levels=chosen, n_problems=problems, k=samples, runs=names, progress=True)
        if out:
            path = Path(out)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic.write_text(path, table.to_csv(index=False))
        typer.echo(pilot_levels.wide(table).to_string(index=False))
        typer.echo(f"{len(table)} cells in {time.perf_counter() - t0:.0f} s")
        from thinking_sparks.organism.task import EVAL_SETS
        from thinking_sparks.plan import PLAN

        # the premise's comparisons: base and the students (the teacher is compared where it is in band)
        compared = [m for m in dict.fromkeys(table["model"]) if m != "teacher"]
        cap = pilot_levels.capacity(table, problems or PLAN.levels.pilot_problems)
        choice = pilot_levels.choose_levels(table, compared, size=EVAL_SETS["calibrated"][1], capacity=cap)
        typer.echo(f"eval set: {choice.sentence()}")
        if table["distinct_from_base"].notna().all():
            size = PLAN.circuits.n_questions * PLAN.circuits.n_samples
            circuit = pilot_levels.choose_circuit_levels(table, compared, size=size, capacity=cap)
            typer.echo(f"circuit set: {circuit.sentence()}")

    _run()


RECIPES = ("sft", "grpo", "distill", "hybrid")


def train_command(
    recipe: str = typer.Argument(..., help="sft | grpo | distill | hybrid"),
    model: str | None = typer.Option(None, "--model", "-m", help="Start model spec (dir, hub name, "
                                     "organism/[<profile>/]<run>@<step|final>); required unless --show."),
    out: str | None = typer.Option(None, "--out", help="Run directory (checkpoints, log.csv, run.json); "
                                   "required unless --show."),
    teacher: str | None = typer.Option(None, "--teacher", help="Teacher model spec (distill only)."),
    like: str = typer.Option("grpo-hard", "--like", help="Zoo run (full profile) whose recipe is the starting "
                             "point for grpo (grpo-easy, grpo-hard, grpo-hard-lr, grpo-hard-lr20); other recipes "
                             "use their run."),
    sets: list[str] | None = typer.Option(None, "--set", help="Override a recipe field, e.g. --set learning_rate=1e-6 "
                                          "--set device=cuda --set bf16=true (nested: --set student.max_steps=500)."),
    show: bool = typer.Option(False, "--show", help="Print the resolved recipe as JSON and stop."),
) -> None:
    """Run one post-training recipe on any model: the zoo's recipe, with your overrides."""
    from thinking_sparks.organism import config, distill, grpo, hybrid, sft  # deferred: loaded only when this verb runs

    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    table = config.profile("full")
    run = like if recipe == "grpo" else recipe
    if run not in table or table[run].kind != recipe:
        raise ValueError(f"--like {like!r} is not a {recipe} run of the zoo")
    cfg = config.override(table[run].config, list(sets or []))
    if show:
        typer.echo(json.dumps(dataclasses.asdict(cfg), indent=1, default=str))
        return
    missing = [flag for flag, value in (("--model", model), ("--out", out)) if not value]
    if missing:
        raise ValueError(f"sparks train {recipe} needs {' and '.join(missing)} (or --show to print the recipe)")
    if recipe == "distill" and teacher is None:
        raise ValueError("distill needs --teacher SPEC (the model that writes the traces)")
    out_dir = Path(out)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ValueError(f"--out {out_dir} is not empty; choose a new run directory")
    from thinking_sparks.atomic import atomic_dir  # deferred: loaded only when this verb runs

    t0 = time.perf_counter()
    with atomic_dir(out_dir) as tmp:  # the run directory appears whole at the end, or not at all
        if recipe == "sft":
            cfg = dataclasses.replace(cfg, model=model)
            final = sft.train_sft(cfg, model, tmp, out_dir.name)
        elif recipe == "grpo":
            cfg = dataclasses.replace(cfg, model=model)
            final = grpo.train_grpo(cfg, model, tmp, out_dir.name)
        elif recipe == "hybrid":
            cfg = dataclasses.replace(cfg, sft=dataclasses.replace(cfg.sft, model=model))
            final = hybrid.train_hybrid(cfg, model, tmp, out_dir.name)
        else:
            cfg = dataclasses.replace(cfg, student=dataclasses.replace(cfg.student, model=model))
            final = distill.train_distill(cfg, model, teacher, tmp, out_dir.name)
        meta = {"recipe": recipe, "model": model, "teacher": teacher, "seconds": round(time.perf_counter() - t0, 2),
                "config": dataclasses.asdict(cfg)}
        atomic.write_json(tmp / "run.json", meta, indent=1)
        card = tmp / "README.md"  # TRL's model card names the run after its (temporary) directory
        if card.exists():
            card.write_text(card.read_text().replace(tmp.name, out_dir.name))
    final = out_dir / Path(final).relative_to(tmp)
    typer.echo(f"{recipe} done in {meta['seconds']:.0f} s: final checkpoint {final}")
