"""What `gpubench train` shows: the memory per GPU, the step by term, the collectives, the throughput
(text); the same as one JSON document; and where the step's time goes as a stacked bar chart."""

from __future__ import annotations

from gpubench.fmt import fmt_bytes, fmt_pct, fmt_sig, fmt_time
from gpubench.transformer.render import columns
from gpubench.transformer.training.search import SearchResult
from gpubench.transformer.training.step import TERMS, StepPrediction

__all__ = ["SCHEMA", "budget", "plot", "search_json", "search_table", "step_json", "table"]

SCHEMA = "gpubench.train"
SCHEMA_VERSION = 1


def budget(p: StepPrediction, tokens: float) -> dict:
    """What `tokens` tokens cost at the predicted rate: hours, GPU-hours, days."""
    seconds = tokens / p.tokens_per_s
    return {"tokens": tokens, "hours": seconds / 3600, "gpu_hours": seconds / 3600 * p.layout.gpus,
            "days": seconds / 86400}  # fmt: skip


def _head(p: StepPrediction) -> list[str]:
    job, lay, topo = p.job, p.layout, p.topology
    where = f"{topo.name} ({topo.nodes} nodes of {topo.gpus_per_node})" if topo is not None else "one GPU"
    return [
        f"{job.cfg.name} ({job.cfg.params() / 1e9:.1f} B params) on {lay.gpus} x {p.spec.name}, {where}",
        f"  batch {job.global_batch} x {job.seq} tokens, {job.dtype}, gradients {job.grad_dtype}, "
        f"{job.attention} attention{', dropout' if job.dropout else ''}",
        f"  layout {lay.describe()}; {lay.micro_batches(job)} micro-batches per step",
        f"  roofs: {p.roofs.side}: {p.roofs.origin}",
    ]


def _memory(p: StepPrediction) -> list[str]:
    m = p.memory
    rows = [["memory per GPU", "bytes", "share"]]
    rows += [[name, fmt_bytes(b), fmt_pct(b / m.total)] for name, b in m.terms.items()]
    rows.append(["total", fmt_bytes(m.total), ""])
    lines = [
        "",
        f"Memory ({m.stage} pipeline stage, the fullest)",
        *("  " + x for x in columns(rows, {1, 2})),
    ]
    if m.capacity:
        verdict = "fits, with" if m.fits else "does NOT fit: short by"
        lines.append(f"  {verdict} {fmt_bytes(abs(m.headroom))} of {fmt_bytes(m.capacity)}")
    return lines


def _terms(p: StepPrediction) -> list[str]:
    rows = [["step term", "time", "share", "note"]]
    rows += [[t.name, fmt_time(t.seconds), fmt_pct(t.seconds / p.step_time_s), t.note] for t in p.terms]
    rows.append(["step", fmt_time(p.step_time_s), "", f"slowest stage: {p.slowest}"])
    return [
        "",
        "Step time by term (per GPU, the slowest pipeline stage)",
        *("  " + x for x in columns(rows, {1, 2})),
    ]


def _comm(p: StepPrediction) -> list[str]:
    if not p.comm:
        return []
    rows = [["group", "collective", "size", "ranks", "x", "each", "exposed", "algorithm", "what; why"]]
    for c in p.comm:
        rows.append([c.group, c.collective, fmt_bytes(c.nbytes), f"{c.ranks} ({c.ranks_per_node}/node)",
                     str(c.count), fmt_time(c.each_s), fmt_time(c.exposed_s), c.algorithm,
                     f"{c.what}; {c.why}"])  # fmt: skip
    note = "x: per layer and micro-batch (TP, CP), per micro-batch (stage ends), per step (PP, DP)"
    return ["", f"Collectives ({note})", *("  " + x for x in columns(rows, {2, 4, 5, 6}))]


def _rates(p: StepPrediction) -> list[str]:
    return [
        "",
        f"step {fmt_time(p.step_time_s)}, {fmt_sig(p.tokens_per_s)} tokens/s, "
        f"{fmt_sig(p.tflops_per_gpu)} TFLOP/s per GPU (model), MFU {fmt_pct(p.mfu)}, HFU {fmt_pct(p.hfu)} "
        f"(of the {fmt_sig(p.peak_tflops)} TFLOP/s {p.job.dtype} datasheet peak)",
    ]


def table(p: StepPrediction, tokens: float | None = None) -> str:
    lines = _head(p) + _memory(p) + _terms(p) + _comm(p) + _rates(p)
    if tokens:
        b = budget(p, tokens)
        lines.append(f"{tokens:.3g} tokens: {fmt_sig(b['gpu_hours'])} GPU-hours, {fmt_sig(b['days'])} days "
                     f"on {p.layout.gpus} GPUs")  # fmt: skip
    return "\n".join(lines) + "\n"


def step_json(p: StepPrediction, tokens: float | None = None) -> dict:
    job = p.job
    topo = p.topology
    out = {
        "model": job.cfg.to_json(),
        "gpu": p.spec.key,
        "topology": None if topo is None else {"name": topo.name, "nodes": topo.nodes,
                                               "gpus_per_node": topo.gpus_per_node, "source": topo.source},
        "job": {"seq": job.seq, "global_batch": job.global_batch, "dtype": job.dtype,
                "grad_dtype": job.grad_dtype, "attention": job.attention, "dropout": job.dropout,
                "tokens_per_step": job.tokens},
        "layout": {**p.layout.to_json(), "micro_batches": p.layout.micro_batches(job)},
        "roofs": {"side": p.roofs.side, "origin": p.roofs.origin},
        "step_time_s": p.step_time_s,
        "tokens_per_s": p.tokens_per_s,
        "tflops_per_gpu": p.tflops_per_gpu,
        "mfu": p.mfu,
        "hfu": p.hfu,
        "peak_tflops": p.peak_tflops,
        "memory_per_gpu_bytes": p.memory.total,
        "memory": p.memory.to_json(),
        "terms": [{"name": t.name, "seconds": t.seconds, "note": t.note} for t in p.terms],
        "stages": {k: vars(s) for k, s in p.stages.items()},
        "slowest_stage": p.slowest,
        "collectives": [c.to_json() for c in p.comm],
    }  # fmt: skip
    if tokens:
        out["budget"] = budget(p, tokens)
    return out


def search_table(res: SearchResult) -> str:
    lines = [f"{res.considered} layouts considered, {res.too_big} do not fit memory, "
             f"{len(res.ranked)} fastest shown"]  # fmt: skip
    if res.ranked:
        best = res.ranked[0].prediction
        lines = _head(best)[:2] + lines
        rows = [["#", "layout", "step", "tokens/s", "MFU", "memory", "against the best"]]
        for i, r in enumerate(res.ranked, 1):
            p = r.prediction
            rows.append([str(i), p.layout.describe(), fmt_time(p.step_time_s), fmt_sig(p.tokens_per_s),
                         fmt_pct(p.mfu), fmt_bytes(p.memory.total), r.why])  # fmt: skip
        lines += ["", *columns(rows, {0, 2, 3, 4, 5})]
    if res.closest is not None:
        lay, short = res.closest
        lines.append(f"closest that does not fit: {lay.describe()}, short by {fmt_bytes(short)}")
    return "\n".join(lines) + "\n"


def search_json(res: SearchResult, tokens: float | None = None) -> dict:
    closest = None
    if res.closest is not None:
        closest = {"layout": res.closest[0].to_json(), "short_bytes": res.closest[1]}
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "considered": res.considered,
            "do_not_fit": res.too_big, "closest_not_fitting": closest,
            "ranked": [{**step_json(r.prediction, tokens), "against_best": r.why}
                       for r in res.ranked]}  # fmt: skip


def plot(preds: list[StepPrediction], path: str) -> None:
    """Where each step's time goes, one stacked bar per prediction (the best first for a search)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 1.4 + 0.45 * len(preds)))
    colours = plt.get_cmap("tab10")
    for i, name in enumerate(TERMS):
        lefts = [sum(p.term(t) for t in TERMS[:i]) for p in preds]
        widths = [p.term(name) for p in preds]
        if any(widths):
            ax.barh(range(len(preds)), widths, left=lefts, color=colours(i % 10), label=name)
    ax.set_yticks(range(len(preds)), [p.layout.describe() for p in preds], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("predicted step time (s), per GPU on the slowest pipeline stage")
    p = preds[0]
    what = f"{p.job.global_batch} x {p.job.seq} tokens"
    ax.set_title(f"{p.job.cfg.name}, {p.layout.gpus} x {p.spec.name}, {what} "
                 f"({p.roofs.side} roofs)", fontsize=9)  # fmt: skip
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
