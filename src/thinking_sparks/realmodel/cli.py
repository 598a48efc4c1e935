"""``sparks real train`` / ``sparks real list``: a real model's SFT runs, cached like the zoo."""

from __future__ import annotations

import time

import typer

from thinking_sparks.errors import friendly_errors

real_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="A real model (SmolLM2-135M-Instruct) post-trained with the organism's SFT recipe.")


@real_app.command("train")
def train_command(
    name: str = typer.Argument("smollm2-sft", help="Run name (see `sparks real list`)."),
    sets: list[str] | None = typer.Option(None, "--set", help="Override a run field, e.g. --set device=cuda "
                                          "--set max_steps=48 (the run is cached under its own key)."),
    force: bool = typer.Option(False, "--force", help="Retrain even if cached."),
) -> None:
    """Train a run unless cached; print its checkpoint specs."""

    @friendly_errors
    def _run() -> None:
        from thinking_sparks.organism.config import override  # deferred: loaded only when this verb runs
        from thinking_sparks.realmodel import runs  # deferred: loaded only when this verb runs

        if name not in runs.RUNS:
            raise ValueError(f"unknown run {name!r}; runs: {', '.join(runs.RUNS)}")
        cfg = override(runs.RUNS[name], list(sets or []))
        t0 = time.perf_counter()
        out = runs.train(name, cfg, force=force)
        meta = runs.run_meta(name, cfg)
        spec = f"real/{name}" if cfg == runs.RUNS[name] else f"real/{out.name}"
        typer.echo(f"{spec}@<step>: {len(meta['steps'])} checkpoints in {out} (trained in {meta['seconds']:.0f} s, "
                   f"{meta['steps_per_second']:.3f} steps/s; this call {time.perf_counter() - t0:.0f} s)")

    _run()


@real_app.command("list")
def list_command() -> None:
    """The named runs, whether they are trained, and their checkpoint steps."""

    @friendly_errors
    def _run() -> None:
        from thinking_sparks.realmodel import runs  # deferred: loaded only when this verb runs

        for name, cfg in runs.RUNS.items():
            trained = runs.is_trained(name)
            steps = ",".join(s.rsplit("@", 1)[1] for s in runs.checkpoint_specs(name)) if trained else "-"
            typer.echo(f"real/{name:18s} data={cfg.data:6s} steps={cfg.max_steps} (gpu {cfg.gpu_steps}) "
                       f"{'trained' if trained else 'missing':8s} checkpoints={steps}")

    _run()
