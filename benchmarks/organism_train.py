"""Where the organism's training time goes: per-step costs of pretraining, SFT and GRPO on CPU.

Parts (``--part``, repeatable):

- ``data``     corpus generation, tokenization and packing of a pretraining config (once per run);
- ``pretrain`` per optimiser step: a plain torch loop (forward, backward, AdamW) against the
  ``transformers.Trainer`` step as the zoo runs it (with logging every step and every 50 steps),
  plus one checkpoint save; ``--compile`` adds the plain loop under ``torch.compile``;
- ``sft``      the SFT recipe's step (TRL ``SFTTrainer``) from a fresh model of the shape;
- ``grpo``     the GRPO recipe's step split into generation, scoring (log-probs, rewards), loss
  forward+backward and the optimiser (TRL ``GRPOTrainer``);
- ``schedule`` the built zoo's per-run wall and CPU seconds (``run.json``) and the wall time the
  ``--jobs 2`` scheduler would take if every run got a whole core (its CPU seconds): the build time
  of an unshared 2-core machine, estimated on a shared one;
- ``parallel`` the plain pretraining loop in two processes with one thread each (as ``zoo build
  --jobs 2`` runs) against one process with two threads, as steps per second of the machine.

Shapes: ``--shape LxH`` (layers x query heads; ``--d-model``, ``--kv-heads``, ``--d-ff`` set the
rest; default the full profile's student). Timings are wall seconds; the machine may be shared, so
run ``uptime`` beside it. Medians of per-step times after ``--warmup`` steps.

Usage: ``PYTHONPATH=src .venv/bin/python benchmarks/organism_train.py --part pretrain --shape 8x8 --steps 50``
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

from thinking_sparks import runtime


class Clock:
    """Accumulates wall time of wrapped callables by name (``totals[name]``, ``calls[name]``)."""

    def __init__(self):
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, owner, attr: str, name: str | None = None) -> None:
        fn = getattr(owner, attr)
        name = name or attr

        @functools.wraps(fn)
        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.totals[name] += time.perf_counter() - t
                self.calls[name] += 1

        setattr(owner, attr, timed)


def _shape(args):
    from thinking_sparks.organism.config import profile

    base = profile("full")["base"].config.shape
    if not args.shape:
        return base
    layers, heads = (int(x) for x in args.shape.lower().split("x"))
    return dataclasses.replace(base, n_layers=layers, n_heads=heads,
                               d_model=args.d_model or base.d_model, n_kv_heads=args.kv_heads or base.n_kv_heads,
                               d_ff=args.d_ff or base.d_ff, head_dim=args.head_dim or base.head_dim)


def _pretrain_cfg(args):
    from thinking_sparks.organism.config import profile

    cfg = profile("full")["base"].config
    return dataclasses.replace(cfg, shape=_shape(args), batch_size=args.batch_size or cfg.batch_size,
                               seq_len=args.seq_len or cfg.seq_len, progress=False)


def _params(model) -> str:
    return f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params"


def part_data(args) -> None:
    from thinking_sparks.organism.pretrain import corpus_texts, packed_dataset
    from thinking_sparks.organism.tokenizer import build_tokenizer

    cfg = _pretrain_cfg(args)
    tok = build_tokenizer()
    t = time.process_time()
    texts = corpus_texts(cfg, tok)
    t_texts = time.process_time() - t
    t = time.process_time()
    ids = tok(texts, add_special_tokens=False)["input_ids"]
    t_tok = time.process_time() - t
    t = time.process_time()
    data = packed_dataset(texts, tok, cfg.seq_len)
    t_pack = time.process_time() - t
    n_tok = sum(map(len, ids))
    steps = int(cfg.epochs * len(data) // cfg.batch_size)
    print(f"[data] {len(texts)} docs, {n_tok} tokens ({n_tok / len(texts):.1f}/doc), {len(data)} rows of "
          f"{cfg.seq_len} -> {steps} steps at batch {cfg.batch_size}")
    print(f"[data] cpu seconds: corpus_texts {t_texts:.1f}, tokenize {t_tok:.1f}, packed_dataset (tokenize+pack) {t_pack:.1f}")


def _batch(cfg, vocab: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (cfg.batch_size, cfg.seq_len), generator=g)  # [B, T]


def raw_loop(cfg, steps: int, warmup: int, compile_model: bool = False) -> tuple[float, float, float]:
    """Median wall and CPU seconds per plain torch step (fwd + bwd + AdamW), and the first step's wall
    seconds (warm-up / compile)."""
    from thinking_sparks.organism.pretrain import init_model
    from thinking_sparks.organism.tokenizer import build_tokenizer

    tok = build_tokenizer()
    model = init_model(cfg, tok).train()
    fwd = torch.compile(model) if compile_model else model
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    x = _batch(cfg, len(tok))
    times, cpu = [], []
    for _ in range(steps + warmup):
        t, c = time.perf_counter(), time.process_time()
        loss = fwd(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(times[warmup:]), min(cpu[warmup:]), times[0]


class _StepTimes:
    """Trainer callback: wall time between consecutive step ends."""

    def __new__(cls):
        from transformers import TrainerCallback

        class StepTimes(TrainerCallback):
            def __init__(self):
                self.ends: list[float] = []
                self.cpu: list[float] = []

            def on_train_begin(self, *a, **k):
                self.ends.append(time.perf_counter())
                self.cpu.append(time.process_time())

            def on_step_end(self, *a, **k):
                self.ends.append(time.perf_counter())
                self.cpu.append(time.process_time())

            def deltas(self, cpu: bool = False) -> list[float]:
                xs = self.cpu if cpu else self.ends
                return [b - a for a, b in itertools.pairwise(xs)]

        return StepTimes()


def trainer_steps(cfg, steps: int, logging_steps: int, out: Path) -> tuple[list[float], list[float], float]:
    """Per-step wall and CPU times of the zoo's pretraining ``Trainer`` (no saves) and one save's seconds."""
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    from thinking_sparks.organism.logs import (
        CleanCheckpointCallback,
        TidyLogCallback,
        drop_printer,
    )
    from thinking_sparks.organism.pretrain import PackedCollator, init_model
    from thinking_sparks.organism.tokenizer import build_tokenizer

    tok = build_tokenizer()
    rows = _batch(dataclasses.replace(cfg, batch_size=cfg.batch_size * steps), len(tok)).tolist()
    data = Dataset.from_dict({"input_ids": rows})
    model = init_model(cfg, tok)
    args = TrainingArguments(
        output_dir=str(out), max_steps=steps, per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate, lr_scheduler_type="cosine_with_min_lr", lr_scheduler_kwargs={"min_lr_rate": 0.1},
        warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay, adam_beta2=0.98, max_grad_norm=1.0,
        logging_steps=logging_steps, save_strategy="no", report_to="none", seed=0, use_cpu=True,
        dataloader_num_workers=0, train_sampling_strategy="random", disable_tqdm=True)
    clock = _StepTimes()
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=PackedCollator(), processing_class=tok,
                      callbacks=[TidyLogCallback(out / "log.csv", "bench"), CleanCheckpointCallback(tok), clock])
    drop_printer(trainer)
    trainer.train()
    t = time.perf_counter()
    trainer.save_model(str(out / "checkpoint-save"))
    tok.save_pretrained(str(out / "checkpoint-save"))
    return clock.deltas(), clock.deltas(cpu=True), time.perf_counter() - t


def part_pretrain(args) -> None:
    cfg = _pretrain_cfg(args)
    from thinking_sparks.organism.pretrain import init_model
    from thinking_sparks.organism.tokenizer import build_tokenizer

    n = _params(init_model(cfg, build_tokenizer()))
    print(f"[pretrain] shape {cfg.shape.n_layers}x{cfg.shape.n_heads} d_model {cfg.shape.d_model} kv "
          f"{cfg.shape.n_kv_heads} d_ff {cfg.shape.d_ff} ({n}), batch {cfg.batch_size} x seq {cfg.seq_len}, "
          f"threads {torch.get_num_threads()}")
    raw, raw_cpu, first = raw_loop(cfg, args.steps, args.warmup)
    tok_s = cfg.batch_size * cfg.seq_len / raw_cpu
    print(f"[pretrain] plain torch loop: wall {raw * 1000:.1f} ms/step, cpu {raw_cpu * 1000:.1f} ms/step "
          f"({tok_s:.0f} tokens per cpu-second)")
    if args.compile:
        comp, comp_cpu, first = raw_loop(cfg, args.steps, max(args.warmup, 3), compile_model=True)
        print(f"[pretrain] torch.compile loop: wall {comp * 1000:.1f} ms/step, cpu {comp_cpu * 1000:.1f} ms/step, "
              f"first step (compile) {first:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for every in (1, args.steps):
            d, c, save = trainer_steps(cfg, args.steps, every, Path(tmp) / f"log{every}")
            med, cmed = statistics.median(d[args.warmup:]), statistics.median(c[args.warmup:])
            print(f"[pretrain] Trainer, logging every {every:3d} steps: wall {med * 1000:.1f} ms/step, cpu "
                  f"{cmed * 1000:.1f} (cpu overhead over plain loop {100 * (cmed / raw_cpu - 1):+.0f}%); one checkpoint "
                  f"save {save * 1000:.0f} ms")


def _start_dir(args, tmp: Path) -> str:
    """A starting checkpoint: ``--model`` or a fresh model of the shape saved with its tokenizer."""
    if args.model:
        return args.model
    from thinking_sparks.organism.pretrain import init_model
    from thinking_sparks.organism.tokenizer import build_tokenizer

    tok = build_tokenizer()
    init_model(_pretrain_cfg(args), tok).save_pretrained(tmp / "start")
    tok.save_pretrained(tmp / "start")
    return str(tmp / "start")


def part_grpo(args) -> None:
    from transformers import set_seed
    from trl import GRPOTrainer

    from thinking_sparks.organism import grpo
    from thinking_sparks.organism.config import profile
    from thinking_sparks.organism.logs import TidyLogCallback, drop_printer
    from thinking_sparks.organism.sft import load_start

    recipe = dataclasses.replace(profile("full")["grpo-hard"].config, max_steps=args.steps, n_checkpoints=1,
                                 progress=False)
    if args.prompts_per_step:
        recipe = dataclasses.replace(recipe, prompts_per_step=args.prompts_per_step)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = _start_dir(args, tmp)
        set_seed(0)
        hf, tok = load_start(start, recipe)
        cfg = recipe.trl_config(str(tmp / "run"))  # one save, at the end
        clock = Clock()
        steps = _StepTimes()
        trainer = GRPOTrainer(model=hf, reward_funcs=[grpo.accuracy_reward, grpo.format_reward], args=cfg,
                              train_dataset=grpo.grpo_dataset(recipe), processing_class=tok,
                              callbacks=[TidyLogCallback(tmp / "log.csv", "bench"), steps])
        drop_printer(trainer)
        clock.wrap(hf, "generate")
        clock.wrap(trainer, "_generate_and_score_completions", "generate_and_score")
        clock.wrap(trainer, "compute_loss", "loss_forward")
        clock.wrap(trainer, "training_step", "training_step")
        clock.wrap(torch.optim.AdamW, "step", "optimizer")
        t, c = time.perf_counter(), time.process_time()
        trainer.train()
        total, cpu = time.perf_counter() - t, time.process_time() - c
    n = args.steps
    print(f"[grpo] start {start if args.model else 'fresh model ' + args.shape}, {n} steps x "
          f"{recipe.prompts_per_step} prompts x {recipe.num_generations} completions, "
          f"max {recipe.max_completion_length} tokens, threads {torch.get_num_threads()}")
    gen = clock.totals["generate"]
    score = clock.totals["generate_and_score"] - gen
    step = clock.totals["training_step"] - clock.totals["generate_and_score"]
    opt = clock.totals["optimizer"]
    other = total - clock.totals["training_step"] - opt
    for name, sec in (("generation", gen), ("scoring (logprobs, rewards)", score), ("loss fwd+bwd", step),
                      ("optimizer", opt), ("other (trainer, logging)", other)):
        print(f"[grpo]   {name:28s} {sec / n * 1000:8.1f} ms/step ({100 * sec / total:4.1f}%)")
    print(f"[grpo]   total                        {total / n * 1000:8.1f} ms/step (cpu {cpu / n * 1000:.1f}); median step "
          f"{statistics.median(steps.deltas()[args.warmup:]) * 1000:.1f} ms")


def part_sft(args) -> None:
    from thinking_sparks.organism.config import profile
    from thinking_sparks.organism.sft import train_sft

    recipe = dataclasses.replace(profile("full")["sft"].config, max_steps=args.steps, n_checkpoints=1, progress=False)
    if args.sampling:
        recipe = dataclasses.replace(recipe, sampling=args.sampling)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = _start_dir(args, tmp)
        t, c = time.perf_counter(), time.process_time()
        train_sft(recipe, start, tmp / "run", "bench")
        total, cpu = time.perf_counter() - t, time.process_time() - c
    print(f"[sft] sampling {recipe.sampling}: {args.steps} steps x batch {recipe.batch_size} (incl. dataset build, one save): "
          f"wall {total / args.steps * 1000:.1f} ms/step, cpu {cpu / args.steps * 1000:.1f} ms/step, threads "
          f"{torch.get_num_threads()}")


def part_parallel(args) -> None:
    """Two 1-thread processes side by side vs one 2-thread process (plain loop)."""
    me = [sys.executable, __file__, "--part", "_raw", "--steps", str(args.steps), "--warmup", str(args.warmup)]
    for k, v in vars(args).items():
        if k in ("shape", "d_model", "kv_heads", "d_ff", "head_dim", "batch_size", "seq_len") and v:
            me += [f"--{k.replace('_', '-')}", str(v)]
    one = json.loads(subprocess.run(me + ["--threads", "2"], capture_output=True, text=True, check=True).stdout
                     .splitlines()[-1])
    procs = [subprocess.Popen(me + ["--threads", "1"], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    two = [json.loads(p.communicate()[0].splitlines()[-1]) for p in procs]
    single = json.loads(subprocess.run(me + ["--threads", "1"], capture_output=True, text=True, check=True).stdout
                        .splitlines()[-1])
    print(f"[parallel] 1 process x 1 thread alone : wall {single['ms']:.1f} ms/step, cpu {single['cpu_ms']:.1f} -> "
          f"{1000 / single['ms']:.2f} steps/s")
    print(f"[parallel] 1 process x 2 threads      : wall {one['ms']:.1f} ms/step, cpu {one['cpu_ms']:.1f} -> "
          f"{1000 / one['ms']:.2f} steps/s")
    rate = sum(1000 / r["ms"] for r in two)
    print(f"[parallel] 2 processes x 1 thread     : wall {two[0]['ms']:.1f} / {two[1]['ms']:.1f} ms/step, cpu "
          f"{two[0]['cpu_ms']:.1f} / {two[1]['cpu_ms']:.1f} -> {rate:.2f} steps/s together")


def part_schedule(args) -> None:
    """Per-run times of a built profile and the simulated ``--jobs 2`` wall time from CPU seconds."""
    from thinking_sparks.organism import zoo
    from thinking_sparks.organism.config import profile

    table = profile(args.profile)
    meta = {}
    for name in table:
        path = zoo.run_dir(args.profile, name) / "run.json"
        if path.exists():
            meta[name] = json.loads(path.read_text())
    for name, m in meta.items():
        print(f"[schedule] {name:13s} wall {m['seconds']:7.1f} s  cpu {m.get('cpu_seconds', float('nan')):7.1f} s")
    if len(meta) < len(table):
        print(f"[schedule] not built: {', '.join(n for n in table if n not in meta)}")
        return
    cost = {n: meta[n].get("cpu_seconds") or meta[n]["seconds"] for n in table}
    pending, running, done, now = list(table), {}, {}, 0.0  # same rule as zoo._build_parallel
    while pending or running:
        for name in list(pending):
            deps = [d for d in (table[name].parent, table[name].teacher) if d]
            if len(running) < args.jobs and all(d in done for d in deps):
                running[name] = now + cost[name]
                pending.remove(name)
        name = min(running, key=running.get)
        now = running.pop(name)
        done[name] = now
    total = sum(cost.values())
    print(f"[schedule] cpu total {total / 60:.1f} min; --jobs {args.jobs} on {args.jobs} free cores: {now / 60:.1f} min "
          f"(critical path through {max(done, key=done.get)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", action="append",
                    choices=["data", "pretrain", "sft", "grpo", "schedule", "parallel", "_raw"])
    ap.add_argument("--profile", default="full", help="zoo profile for --part schedule")
    ap.add_argument("--jobs", type=int, default=2, help="parallel runs for --part schedule")
    ap.add_argument("--shape", help="LxH, e.g. 8x8 (default: the full profile's student)")
    ap.add_argument("--d-model", type=int)
    ap.add_argument("--kv-heads", type=int)
    ap.add_argument("--d-ff", type=int)
    ap.add_argument("--head-dim", type=int)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--seq-len", type=int)
    ap.add_argument("--prompts-per-step", type=int)
    ap.add_argument("--sampling", choices=["random", "group_by_length"], help="SFT batch order")
    ap.add_argument("--model", help="GRPO/SFT start checkpoint (default: a fresh model of --shape)")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()
    runtime.setup(threads=args.threads, level=30)
    parts = args.part or ["data", "pretrain", "grpo"]
    if parts == ["_raw"]:
        wall, cpu, _ = raw_loop(_pretrain_cfg(args), args.steps, args.warmup)
        print(json.dumps({"ms": wall * 1000, "cpu_ms": cpu * 1000, "shape": args.shape}))
        return
    for part in parts:
        globals()[f"part_{part}"](args)


if __name__ == "__main__":
    main()
