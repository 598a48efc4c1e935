"""``sparks zoo build`` / ``sparks zoo list``: build and inspect the organism zoo."""

from __future__ import annotations

import time

import typer

zoo_app = typer.Typer(add_completion=False, no_args_is_help=True,
                      help="The model organism: build and list post-training runs and checkpoints.")


def _friendly(fn):
    from thinking_sparks.cli import friendly_errors

    return friendly_errors(fn)


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

    @_friendly
    def _run() -> None:
        from thinking_sparks.organism import zoo

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

    @_friendly
    def _run() -> None:
        from thinking_sparks.organism import zoo

        for r in zoo.list_runs(profile):
            steps = ",".join(map(str, r.steps)) if r.steps else "-"
            took = f"{r.seconds:.0f}s" if r.seconds is not None else "-"
            status = "built" if r.built else "missing"
            typer.echo(f"{r.profile:5s} {r.name:13s} {r.kind:9s} from={r.parent or '-':5s} {status:8s} "
                       f"{took:>6s} steps={steps}")

    _run()
