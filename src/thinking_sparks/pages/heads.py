"""Page ``09_heads``: one head at a time — everything the paper's method says about it.

:class:`Params` is the notebook's parameters cell: page 04's parameters (whose cached result this
page reads: every run's head scores and inclusion at every checkpoint, the head classes, the noise
floors) plus the run and checkpoint explored. :func:`run` adds what page 04 does not hold, each from
a room below: the attention patterns of base and checkpoint on a few circuit questions
(:mod:`thinking_sparks.heads.attention`, on the circuits' cached answer prefixes), the single-head
ablations of the run's final model on the easy set (:mod:`thinking_sparks.interventions.single`,
every evaluation cached) and each head's strongest circuit edges (the checkpoint's cached circuit,
:func:`~thinking_sparks.emergence.drawing.circuit_graph`). :func:`head_facts` is one head's row for
``sparks head``; :func:`verdicts` compares the ablation effects of the head classes.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from thinking_sparks import models
from thinking_sparks.cache import cached
from thinking_sparks.emergence import modelruns
from thinking_sparks.emergence.device import use_device
from thinking_sparks.emergence.drawing import circuit_graph
from thinking_sparks.emergence.pairs import Side, sample_prefixes
from thinking_sparks.emergence.pairs import questions as circuit_questions
from thinking_sparks.emergence.sizing import sized_config
from thinking_sparks.emergence.trace import trace_models
from thinking_sparks.evaluation.generation import SamplingConfig
from thinking_sparks.evaluation.harness import EvalParams
from thinking_sparks.heads import parse_head
from thinking_sparks.heads.attention import attention_table
from thinking_sparks.interventions.single import class_difference, head_effects, single_head_table
from thinking_sparks.pages import emergence
from thinking_sparks.pages.interventions import model_fingerprints, set_fingerprints
from thinking_sparks.pages.params import _check_positive, emergence_settings
from thinking_sparks.plan import PLAN
from thinking_sparks.verdicts import Verdict, verdict_table

#: page 04's head status -> the class this page shows
CLASS_NAMES = {"emergent": "emergent", "base": "base-only", "retained": "retained", "inactive": "inactive"}


@dataclass
class Params(emergence.Params):
    """Parameters of ``09_heads`` (besides page 04's, :class:`~thinking_sparks.pages.emergence.Params`).

    Attributes:
        head_run: the run explored (one of ``runs``; None: the first): its checkpoint's circuit
            colours the grid, its final model is ablated head by head.
        checkpoint: the step of ``head_run`` whose circuit and attention are shown (None: the last).
        head: the head selected when the page opens (None: the run's emergent head with the largest
            ablation effect, else the head with the largest effect).
        attention_questions: circuit questions whose attention patterns are shown (the first ones).
        min_weight: attention weights below this are left out of the page (its weight in KB).
        top_edges: edges shown per head and direction.
        eval_set, n, limit, temperature, top_p, top_k, max_new_tokens: the single-head ablations'
            pass@1 (the easy set, all of its ``plan.PLAN.sizes.easy_size`` problems, ``sizes.head_k``
            samples each, the paper's sampling as on page 05).
    """

    head_run: str | None = None
    checkpoint: int | None = None
    head: str | None = None
    attention_questions: int = 3
    min_weight: float = 0.02
    top_edges: int = 5
    eval_set: str = "organism/easy"
    n: int = PLAN.sizes.head_k
    limit: int | None = PLAN.sizes.easy_size
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = 0
    max_new_tokens: int = 128

    def __post_init__(self):
        super().__post_init__()
        labels = list(self.runs) if not isinstance(self.runs, dict) else list(self.runs.keys())
        if self.head_run is None:
            self.head_run = labels[0]
        if self.head_run not in labels:
            raise ValueError(f"head_run {self.head_run!r} is not one of the page's runs: {', '.join(labels)}")
        if self.head is not None:
            parse_head(self.head)
        _check_positive(self, "attention_questions", "top_edges", "n", "max_new_tokens", optional=("limit",))
        if not 0 <= float(self.min_weight) < 1:
            raise ValueError(f"min_weight must lie in [0, 1), got {self.min_weight!r}")

    def emergence_params(self) -> emergence.Params:
        """Page 04's parameters (whose cached result this page reads)."""
        names = {f.name for f in dataclasses.fields(emergence.Params)}
        return emergence.Params(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})

    def eval_params(self) -> EvalParams:
        sampling = SamplingConfig(n=self.n, temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                                  max_new_tokens=self.max_new_tokens, batch_size=64)
        return EvalParams(dataset=self.eval_set, sampling=sampling, limit=self.limit, n_boot=PLAN.stats.n_resamples)


@dataclass
class Result:
    """What ``09_heads`` shows.

    Attributes:
        run, checkpoint, step, base, final: the run explored, its checkpoint shown (spec and step),
            its base and its final model (the one ablated).
        n_layers, n_heads: the model's shape.
        grid: one row per head: ``head, layer, index, class`` (in the checkpoint's circuit against
            the base's), ``importance, inclusion`` (at the checkpoint), ``effect, ci_low, ci_high``
            (single-head ablation of the final model).
        lines: ``run, step, head, measure (importance|inclusion), circuit (checkpoint|base), value``
            for every head of every run (base: the run's base circuit, drawn at each step).
        classes: ``head, run, class`` (each run's final circuit) and the run's emergent count by the
            plan's rule with its interval and noise floor (Table 3 of page 04), as text cells.
        effects: the single-head ablations (:data:`~thinking_sparks.interventions.single.EFFECT_COLUMNS`).
        samples: their samples (``condition, problem_id, difficulty, sample_index, correct``).
        attention: both models' attention (:data:`~thinking_sparks.heads.attention.ATTENTION_COLUMNS`
            + ``model``); ``questions``: the questions, by ``sequence``.
        edges: ``head, direction (in|out), edge, score``: each head's ``top_edges`` strongest edges.
        seconds: ``emergence`` (reading page 04), ``circuits``, ``attention``, ``ablation``.
    """

    run: str
    checkpoint: str
    step: int
    base: str
    final: str
    n_layers: int
    n_heads: int
    grid: pd.DataFrame
    lines: pd.DataFrame
    classes: pd.DataFrame
    effects: pd.DataFrame
    samples: pd.DataFrame
    attention: pd.DataFrame
    questions: list[str]
    edges: pd.DataFrame
    seconds: dict[str, float]

    @property
    def first_head(self) -> str:
        """The head selected when the page opens (when ``Params.head`` is None)."""
        g = self.grid.dropna(subset=["effect"])
        em = g[g["class"] == "emergent"]
        pool = em if len(em) else g
        return str(pool.sort_values(["effect", "layer", "index"], ascending=[False, True, True]).iloc[0]["head"])


def run(params: Params) -> Result:
    """Page 04's result (built or read from its cache), then this page's additions (cached)."""
    use_device(params.device)
    t0 = time.perf_counter()
    page04 = emergence.run(params.emergence_params())
    seconds = time.perf_counter() - t0
    runs = modelruns.resolve_runs(params.runs, params.profile)
    return _compute(params, runs, page04, seconds)


def _key(params: Params, runs: dict, page04: emergence.Result, seconds: float) -> dict[str, Any]:
    values = {k: v for k, v in dataclasses.asdict(params).items() if k not in ("build", "device", "threads", "head")}
    m = runs[params.head_run]
    return {"params": values, "runs": runs, "models": model_fingerprints([m.base, *m.checkpoints, m.final]),
            "sets": set_fingerprints([params.eval_set], params.limit), "page04": emergence._key(
                runs, *emergence_settings(params.emergence_params()), params.n_boot)}


@cached("page-heads", key=_key)
def _compute(params: Params, runs: dict, page04: emergence.Result, seconds: float) -> Result:
    times = {"emergence": round(seconds, 3)}
    m = runs[params.head_run]
    tables = page04.traces[params.head_run]
    step = tables.steps[-1] if params.checkpoint is None else params.checkpoint
    if step not in tables.steps:
        raise ValueError(f"checkpoint {step} is not a step of {params.head_run}: {tables.steps}")
    i = tables.steps.index(step)
    ckpt = str(tables.heads[tables.heads.step == step]["checkpoint"].iloc[0])

    t0 = time.perf_counter()  # the circuits, read from the cache page 04 filled (sample 0 only)
    pairs, config = emergence_settings(params.emergence_params())
    config = sized_config(params.size, runs, pairs, config)
    traces = trace_models(runs, pairs, config, samples=1)
    edges = _edges(circuit_graph(traces[params.head_run].results[i], config)[1], params.top_edges)
    times["circuits"] = round(time.perf_counter() - t0, 3)

    t0 = time.perf_counter()
    attention, questions = _attention(m.base, ckpt, pairs, params)
    times["attention"] = round(time.perf_counter() - t0, 3)

    t0 = time.perf_counter()
    lm = models.load_model(m.final, device=params.device)
    ablation = single_head_table(lm, params.eval_params(), params.eval_set)
    samples = ablation.samples[["condition", "problem_id", "difficulty", "sample_index", "correct"]]
    effects = head_effects(samples)
    times["ablation"] = round(time.perf_counter() - t0, 3)

    now = tables.heads[tables.heads.step == step]
    grid = (now[["head", "layer", "index", "status", "importance", "inclusion"]]
            .assign(**{"class": now["status"].map(CLASS_NAMES)}).drop(columns="status")
            .merge(effects[["head", "effect", "ci_low", "ci_high"]], on="head", how="left").reset_index(drop=True))
    return Result(run=params.head_run, checkpoint=ckpt, step=int(step), base=str(m.base), final=str(m.final),
                  n_layers=lm.n_layers, n_heads=lm.n_heads, grid=grid, lines=_lines(page04, traces),
                  classes=_classes(page04), effects=effects, samples=samples.reset_index(drop=True),
                  attention=attention, questions=questions, edges=edges, seconds=times)


def _lines(page04: emergence.Result, traces: dict) -> pd.DataFrame:
    frames = []
    for tr in page04.runs:
        h = tr.heads
        for measure in ("importance", "inclusion"):
            frames.append(h[["run", "step", "head"]].assign(measure=measure, circuit="checkpoint", value=h[measure]))
        frames.append(h[["run", "step", "head"]].assign(measure="importance", circuit="base", value=h["importance_base"]))
        base_inc = np.asarray(traces[tr.run].base.inclusion).ravel()  # [n_layers * n_heads], layer-major
        idx = h["layer"].to_numpy() * traces[tr.run].base.n_heads + h["index"].to_numpy()
        frames.append(h[["run", "step", "head"]].assign(measure="inclusion", circuit="base", value=base_inc[idx]))
    return pd.concat(frames, ignore_index=True).astype({"value": float})


def _classes(page04: emergence.Result) -> pd.DataFrame:
    table = page04.table.set_index("method")
    rows = []
    for tr in page04.runs:
        final = tr.heads[tr.heads.step == tr.steps[-1]]
        t = table.loc[tr.run] if tr.run in table.index else None
        count = "no circuit" if t is None or pd.isna(t["emergent"]) else \
            f"{t['emergent']:.0f} [{t['ci_low']:.0f}, {t['ci_high']:.0f}]"
        floor = "" if t is None or pd.isna(t["floor_q95"]) else f"{t['floor_q95']:.3g}"
        rows += [{"head": h, "run": tr.run, "class": CLASS_NAMES[s], "emergent heads [95% CI]": count,
                  "noise floor (q95)": floor} for h, s in zip(final["head"], final["status"], strict=True)]
    return pd.DataFrame(rows)


def _edges(edges: pd.DataFrame, top: int) -> pd.DataFrame:
    """Each head's ``top`` strongest edges (by |score|) in each direction."""
    heads = sorted({n for n in (*edges["src"], *edges["dst"]) if n.startswith("L")}, key=parse_head)
    frames = []
    for h in heads:
        out, inn = edges[edges["src"] == h], edges[edges["dst"] == h]
        out = out.assign(direction="out", edge=f"{h} → " + out["dst"])
        inn = inn.assign(direction="in", edge=inn["src"] + f" → {h}")
        for part in (inn, out):
            frames.append(part.loc[part["score"].abs().sort_values(ascending=False).index[:top]].assign(head=h))
    cols = ["head", "direction", "edge", "score"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def _attention(base: str, ckpt: str, pairs, params: Params) -> tuple[pd.DataFrame, list[str]]:
    """Attention of the base and of the checkpoint, each on its own answers to the first circuit questions
    (the circuits' cached answer prefixes, cut at ``answer_tokens``)."""
    frames, questions = [], []
    for label, spec in (("base", base), ("post-trained", ckpt)):
        pre = sample_prefixes(Side(spec), pairs)
        k = min(params.attention_questions, len(pre.prompts))
        cut = params.answer_tokens
        seqs = [list(p) + list(c[:cut] if cut else c) for p, c in zip(pre.prompts[:k], pre.completions[:k], strict=True)]
        lm = models.load_model(spec, device=params.device)
        frames.append(attention_table(lm, seqs, [len(p) for p in pre.prompts[:k]], params.min_weight).assign(model=label))
        if not questions:
            text = {q.id: q.question for q in circuit_questions(pairs)}
            questions = [text.get(qid, qid) for qid in pre.question_ids[:k]]
    return pd.concat(frames, ignore_index=True), questions


def head_facts(result: Result, head: str) -> pd.DataFrame:
    """One head's facts, one row per run (what ``sparks head`` prints): its class and its importance
    and inclusion at the final checkpoint, the base's, and (for the run explored) its ablation effect."""
    layer, index = parse_head(head)
    if layer >= result.n_layers or index >= result.n_heads:
        raise ValueError(f"no head {head} in a model of {result.n_layers} layers x {result.n_heads} heads "
                         f"(L0H0 .. L{result.n_layers - 1}H{result.n_heads - 1})")
    lines = result.lines[result.lines["head"] == head]
    last = lines.groupby("run")["step"].transform("max") == lines["step"]
    wide = lines[last].pivot_table(index="run", columns=["circuit", "measure"], values="value", aggfunc="first")
    wide.columns = [f"{m}" if c == "checkpoint" else f"{m} (base)" for c, m in wide.columns]
    out = result.classes[result.classes["head"] == head].set_index("run").drop(columns="head").join(wide)
    eff = result.effects[result.effects["head"] == head]
    out["ablation effect [95% CI]"] = ""
    if len(eff) and result.run in out.index:
        e = eff.iloc[0]
        out.loc[result.run, "ablation effect [95% CI]"] = f"{e.effect:.3f} [{e.ci_low:.3f}, {e.ci_high:.3f}]"
    return out.reset_index()


def verdicts(result: Result) -> pd.DataFrame:
    """The single-head ablation rows: emergent heads against retained ones (and against base-only
    ones), the per-problem difference of mean single-head drops with a bootstrap CI over problems."""
    final = result.classes[result.classes["run"] == result.run]
    by = {c: list(final[final["class"] == c]["head"]) for c in ("emergent", "retained", "base-only")}
    rows = []
    for other in ("retained", "base-only"):
        value, lo, hi = class_difference(result.samples, by["emergent"], by[other], PLAN.stats.n_resamples,
                                         PLAN.stats.seed)
        rows.append(Verdict(
            claim=f"Emergent heads matter more one by one than {other} heads",
            paper="no paper claim (this page's single-head ablations; cf. v2 Table 1)",
            statistic=f"{result.run}: mean pass@1 drop, emergent ({len(by['emergent'])}) minus {other} "
                      f"({len(by[other])}) heads, each zeroed alone",
            value=value, ci_low=lo, ci_high=hi))
    return verdict_table(rows)
