"""The ``sparks`` command line. Each room registers its verbs at the bottom of this file.

Every command turns bad input into one line on stderr and a non-zero exit (no traceback); pass
``--debug`` before the verb for the full traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import List, Optional

import typer

from thinking_sparks import runtime
from thinking_sparks.errors import _DEBUG, USER_ERRORS, OneLineUsageGroup, friendly_errors  # noqa: F401 (re-exported)
from thinking_sparks.interventions import cli as iv_cli

app = typer.Typer(name="sparks", cls=OneLineUsageGroup, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Thinking Sparks companion: circuits, heads, interventions, evaluation, organism.")

@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch threads (default: pinned)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors."),
) -> None:
    _DEBUG["on"] = debug
    runtime.setup(threads=threads, level=logging.WARNING if quiet else logging.INFO)


@app.command()
@friendly_errors
def generate(
    model: str = typer.Option(..., "--model", "-m", help="Model spec (dir, hub name, smollm2-135m-instruct, organism/<run>@<step>)."),
    prompt: str = typer.Option(..., "--prompt", "-p", help="User message; the chat template is applied when the tokenizer has one."),
    max_new_tokens: int = typer.Option(64, "--max-new-tokens", min=1),
    system: Optional[str] = typer.Option(None, "--system", help="Optional system message."),
    think: Optional[bool] = typer.Option(None, "--think/--no-think", help="enable_thinking for templates that know it."),
    stop: Optional[List[str]] = typer.Option(None, "--stop", help="Stop string, kept in the output (repeatable; default: none)."),
    ablate: Optional[List[str]] = typer.Option(None, "--ablate", help=iv_cli.ABLATE_HELP),
    ablate_mode: str = typer.Option("zero", "--ablate-mode", help=iv_cli.MODE_HELP),
    scale: Optional[List[str]] = typer.Option(None, "--scale", help=iv_cli.SCALE_HELP),
    reference: str = typer.Option("organism/easy", "--reference", help="Eval set whose prompts (+ greedy completions) give the means of --ablate-mode mean."),
    reference_limit: int = typer.Option(32, "--reference-limit", min=1, help=iv_cli.REFERENCE_LIMIT_HELP),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, ... (default: auto)."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="float32, bfloat16, ... (default: bfloat16 on CUDA, float32 on CPU)."),
) -> None:
    """Greedy completion of one prompt (temperature 0, KV cache), printed to stdout.

    Stops at an end-of-turn token, a --stop string or --max-new-tokens. With --ablate / --scale the
    heads are edited at every position: --ablate H gives the same text as the model with H's
    o_proj columns zeroed, --scale H=0.5 as those columns halved.
    """
    from thinking_sparks.evaluation.generation import SamplingConfig  # deferred: loaded only when this verb runs
    from thinking_sparks.evaluation.generation import (
        generate as run_generate,  # deferred: loaded only when this verb runs
    )
    from thinking_sparks.interventions.means import reference_texts  # deferred: loaded only when this verb runs
    from thinking_sparks.models import load_model  # deferred: loaded only when this verb runs

    iv_cli.check_options(ablate, ablate_mode, scale)
    lm = load_model(model, device=device, dtype=dtype)
    if lm.tokenizer is None:
        raise ValueError(f"model {model!r} has no tokenizer (no tokenizer files in {lm.path}); "
                         "sparks generate needs one to encode the prompt")
    intervention = iv_cli.build_intervention(
        lm, ablate, ablate_mode, scale,
        reference=lambda: reference_texts(lm, reference, limit=reference_limit, max_new_tokens=max_new_tokens,
                                          system=system, enable_thinking=think))
    cfg = SamplingConfig(n=1, temperature=0.0, max_new_tokens=max_new_tokens, stop=tuple(stop or ()), batch_size=1)
    text = lm.chat(prompt, system=system, enable_thinking=think)
    (gen,) = run_generate(lm, [text], cfg, intervention=intervention, progress=False)
    typer.echo(gen.text.strip())


@app.command()
@friendly_errors
def doctor(device: str = typer.Option("cpu", "--device", help="Device for the self-checks.")) -> None:
    """Versions, threads, devices, and a seconds-long self-check (KV cache, bridge, offline chart)."""
    from thinking_sparks.doctor import report  # deferred: loaded only when this verb runs

    text, ok = report(device=device)
    typer.echo(text)
    if not ok:
        raise typer.Exit(1)


@app.command("cache-clear")
@friendly_errors
def cache_clear(kind: Optional[str] = typer.Argument(None, help="Only this kind (circuit, eval, ...).")) -> None:
    """Delete cached results (not models or the organism zoo)."""
    from thinking_sparks.cache import ResultCache  # deferred: loaded only when this verb runs

    typer.echo(f"removed {ResultCache().clear(kind)} entries")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="sparks")


# ---- verbs registered by the rooms (keep one block per room) ------------------------------

# evaluation: `sparks eval`
from thinking_sparks.interventions.eval_command import eval_command  # noqa: E402

app.command("eval")(friendly_errors(eval_command))

# circuits: `sparks circuit`
from thinking_sparks.circuits.cli import circuit_command  # noqa: E402

app.command("circuit")(friendly_errors(circuit_command))

# circuits: `sparks patch` (exact patching beside attributions)
from thinking_sparks.circuits.patch_cli import patch_command  # noqa: E402

app.command("patch")(friendly_errors(patch_command))

# emergence: `sparks heads`, `sparks trace`
from thinking_sparks.emergence.cli import heads_command, trace_command  # noqa: E402

app.command("heads")(friendly_errors(heads_command))
app.command("trace")(friendly_errors(trace_command))

# pages: `sparks head L5H1` (page 09's facts about one head)
from thinking_sparks.pages.heads_cli import head_command  # noqa: E402

app.command("head")(friendly_errors(head_command))

# organism room: sparks zoo build / list
from thinking_sparks.organism.cli import zoo_app  # noqa: E402

app.add_typer(zoo_app, name="zoo")

# organism room: sparks train RECIPE --model SPEC (the zoo's recipes on any model)
from thinking_sparks.organism.cli import train_command  # noqa: E402

app.command("train")(friendly_errors(train_command))

# batch room: sparks batch GRID.yaml --out DIR (a notebook over a parameter grid, on Dask)
from thinking_sparks.batch.cli import batch_command  # noqa: E402

app.command("batch")(friendly_errors(batch_command))

# realmodel room: sparks real train / list (SmolLM2 post-trained, cached)
from thinking_sparks.realmodel.cli import real_app  # noqa: E402

app.add_typer(real_app, name="real")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
