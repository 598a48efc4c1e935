"""``sparks head L5H1 --model PROFILE [--run RUN]``: page 09's facts about one head, as a terminal table.

Registered in :mod:`thinking_sparks.cli`. ``--model`` names the organism profile whose zoo the page
reads (``full``; ``tiny`` for tests), ``--run`` the run explored (its final model is ablated head by
head). The numbers are those of the page (:func:`thinking_sparks.pages.heads.run`, cached: a head
asked for after the page was built loads no model).
"""

from __future__ import annotations

from typing import List, Optional

import typer


def head_command(
    head: str = typer.Argument(..., help="The head, L<layer>H<head> (0-indexed), e.g. L5H1."),
    model: str = typer.Option("full", "--model", "-m", help="Organism profile whose zoo is read (full | tiny)."),
    run: Optional[str] = typer.Option(None, "--run", "-r", help="The run explored (default: the first of the page's runs, sft)."),
    checkpoint: Optional[int] = typer.Option(None, "--checkpoint", help="Step of the run shown (default: the last)."),
    build: bool = typer.Option(False, "--build/--no-build", help="Build missing zoo runs first."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="Another page parameter, NAME=VALUE "
                                              "(VALUE read as YAML), e.g. -p n_questions=8; repeatable."),
) -> None:
    """Print one head's class, importance and inclusion in every run, and its single-head ablation effect."""
    from thinking_sparks.heads import parse_head  # deferred: loaded only when this verb runs

    parse_head(head)  # a malformed name fails before anything loads
    import yaml  # deferred: loaded only when this verb runs

    from thinking_sparks.pages import heads  # deferred: loaded only when this verb runs
    from thinking_sparks.pages.params import make_params  # deferred: loaded only when this verb runs

    values = {"profile": model, "checkpoint": checkpoint, "build": build}
    if run is not None:
        values["head_run"] = run
    for item in param or []:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--param takes NAME=VALUE, got {item!r}")
        values[name.strip()] = yaml.safe_load(text)
    result = heads.run(make_params("09_heads", values))
    facts = heads.head_facts(result, head)
    typer.echo(f"{head} ({result.n_layers} layers x {result.n_heads} heads): its class, importance and inclusion "
               f"in each run's final circuit; zeroed alone in {result.final}")
    typer.echo(facts.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
