"""What `gpubench model` shows: the operator table, the totals, the memory footprint, the what-ifs
against the baseline (text), the same as one JSON document, and the time per operator class as a
stacked bar chart."""

from __future__ import annotations

from gpubench.fmt import DASH, fmt_bytes, fmt_pct, fmt_sig, fmt_time
from gpubench.transformer.predict import ModelPrediction, Row
from gpubench.transformer.whatif import WhatIf, changes

__all__ = ["KINDS", "columns", "plot", "si", "table", "to_json"]

KINDS = ("gemm", "attention", "softmax", "norm", "elementwise", "embedding")


def si(x) -> str:
    """1.23 G, 45.6 M, 789 k: FLOP and byte counts at a glance."""
    if x is None:
        return DASH
    for unit, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{fmt_sig(x / scale)} {unit}"
    return fmt_sig(x)


def columns(rows: list[list[str]], right: set[int]) -> list[str]:
    """Rows of cells as aligned lines: the columns in `right` right-aligned, the others left."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    cell = lambda i, x: x.rjust(widths[i]) if i in right else x.ljust(widths[i])  # noqa: E731
    return ["  ".join(cell(i, x) for i, x in enumerate(r)).rstrip() for r in rows]


def _op_cells(r: Row, p: ModelPrediction) -> list[str]:
    ds = r.times["datasheet"]
    cells = [
        r.op.name,
        f"{r.count}x",
        si(r.op.flops),
        si(r.op.bytes),
        fmt_sig(r.op.intensity) if r.op.intensity is not None else DASH,
        ds.bound,
        fmt_time(ds.time_s),
        ds.limit or DASH,
    ]
    if "measured" in p.sides:
        m = r.times["measured"]
        cells += [fmt_time(m.time_s), m.limit or DASH]
    total = p.predicted_s("measured" if "measured" in p.sides else "datasheet")
    mine = r.total_s("measured" if "measured" in p.sides else "datasheet")
    return cells + [fmt_pct(mine / total) if mine is not None and total else DASH]


def _header(p: ModelPrediction) -> list[str]:
    head = ["operator", "runs", "FLOPs", "bytes", "FLOP/B", "bound", "datasheet", "limit"]
    if "measured" in p.sides:
        head += ["measured", "limit"]
    return head + ["share"]


def _sum_cells(label: str, p: ModelPrediction, rows: list[Row], per_call: bool) -> list[str]:
    pick = (lambda r, a: getattr(r.op, a)) if per_call else (lambda r, a: getattr(r.op, a) * r.count)
    flops, nbytes = sum(pick(r, "flops") for r in rows), sum(pick(r, "bytes") for r in rows)
    t = lambda side: p.layer_s(side) if per_call else p.predicted_s(side)  # noqa: E731
    cells = [
        label,
        "",
        si(flops),
        si(nbytes),
        fmt_sig(flops / nbytes) if nbytes else DASH,
        "",
        fmt_time(t("datasheet")),
        "",
    ]
    if "measured" in p.sides:
        cells += [fmt_time(t("measured")), ""]
    return cells + [""]


def _memory_lines(p: ModelPrediction) -> list[str]:
    m, sc = p.memory, p.sc
    parts = (
        f"memory: weights {fmt_bytes(m.weights)} + KV cache {fmt_bytes(m.kv_cache)} (batch {sc.batch}, "
        f"context {sc.context}) + activations ~{fmt_bytes(m.activations)} = {fmt_bytes(m.total)}"
    )
    if m.fits is None:
        return [f"{parts} (the GPU's memory is not in the database)"]
    if m.fits:
        return [f"{parts} of the GPU's {fmt_bytes(m.capacity)}: fits"]
    return [
        f"{parts} of the GPU's {fmt_bytes(m.capacity)}: does NOT fit; at least {m.gpus_needed} GPUs of "
        "this kind by memory alone (the times above assume one GPU runs it all)"
    ]


def _totals_lines(p: ModelPrediction) -> list[str]:
    lines = []
    for side in p.sides:
        t, tps = p.predicted_s(side), p.tokens_per_s(side)
        rate = f"{fmt_sig(tps)} tokens/s" if tps else DASH
        if p.sc.phase == "decode" and t:
            rate += f" over the batch ({fmt_sig(p.sc.seq / t)} per sequence)"
        kinds = p.by_kind(side)
        share = ", ".join(f"{k} {fmt_pct(kinds[k] / t)}" for k in KINDS if k in kinds and t)
        lines.append(f"predicted ({side}): {fmt_time(t)} a forward, {rate}; {share}")
    return lines


def _worth_a_note(r: Row) -> bool:
    """GEMMs, attention, the softmax and unfused norms say how they are counted; the rest is plain."""
    return r.op.kind in ("gemm", "attention", "softmax") or bool(r.op.parts)


def table(p: ModelPrediction, whatifs: list[WhatIf] = ()) -> str:
    cfg, sc = p.cfg, p.sc
    weights = sc.weights or sc.dtype
    fusion = (
        "fused (flash attention, fused norms)"
        if sc.fusion
        else "unfused (materialised scores, norms as torch ops)"
    )
    gemm = f"tiled {'x'.join(map(str, sc.tile))} {sc.dataflow}" if sc.tile else "compulsory"
    lines = [
        f"{cfg.name} on {p.spec.name}: {sc.describe()}",
        f"weights {weights}; {fusion}; GEMM bytes {gemm}",
        "ceilings: datasheet" + (f", and measured ({p.measured_origin})" if "measured" in p.sides else ""),
        "",
    ]
    rows = [_header(p)] + [_op_cells(r, p) for r in p.rows]
    rows += [_sum_cells("one layer", p, p.layer_rows(), True), _sum_cells("model", p, p.rows, False)]
    lines += columns(rows, right={1, 2, 3, 4, 6, 8, 10})
    lines += ["", *_totals_lines(p), *_memory_lines(p), "", "notes:"]
    lines += [f"  {r.op.name}: {r.op.note}" for r in p.rows if r.op.note and _worth_a_note(r)]
    lines += [f"  {n}" for n in (*p.notes(), *cfg.notes)]
    if "measured" not in p.sides:
        lines.append(
            "  datasheet times have no launch or latency term; a ceilings file (--ceilings) adds both"
        )
    lines.append(f"  {cfg.name}: " + "; ".join(cfg.sources))
    for w in whatifs:
        lines += ["", *_whatif_lines(w)]
    return "\n".join(lines) + "\n"


def _whatif_lines(w: WhatIf) -> list[str]:
    side = "measured" if "measured" in w.alt.sides else "datasheet"
    ratio = lambda what: f"{w.ratio(what, side):.3g}x" if w.ratio(what, side) is not None else DASH  # noqa: E731
    lines = [
        f"what-if {w.label} against the baseline ({side}): FLOPs {ratio('flops')}, bytes {ratio('bytes')}, "
        f"time {fmt_time(w.base.predicted_s(side))} -> {fmt_time(w.alt.predicted_s(side))} ({ratio('time')})",
    ]
    rows = [["operator", "FLOPs", "bytes", "peak", "bound", "time"]]
    arrow = lambda a, b: a if a == b else f"{a} -> {b}"  # noqa: E731
    for name, b, a in changes(w):
        cell = lambda r, f: f(r) if r is not None else DASH  # noqa: E731
        tb, ta = (cell(r, lambda x: x.times[side]) if r is not None else None for r in (b, a))
        rows.append(
            [
                name,
                arrow(cell(b, lambda r: si(r.op.flops)), cell(a, lambda r: si(r.op.flops))),
                arrow(cell(b, lambda r: si(r.op.bytes)), cell(a, lambda r: si(r.op.bytes))),
                arrow(cell(b, lambda r: r.op.dtype), cell(a, lambda r: r.op.dtype)),
                arrow(tb.bound if tb else DASH, ta.bound if ta else DASH),
                arrow(fmt_time(tb.time_s) if tb else DASH, fmt_time(ta.time_s) if ta else DASH),
            ]
        )
    if len(rows) > 1:
        lines += ["  " + line for line in columns(rows, right=set())]
    return lines


def _op_json(r: Row, p: ModelPrediction) -> dict:
    op = r.op
    return {
        "name": op.name,
        "kind": op.kind,
        "scope": op.scope,
        "count": r.count,
        "flops": op.flops,
        "bytes": op.bytes,
        "intensity": op.intensity,
        "dtype": op.dtype,
        "tensor_cores": op.tensor_cores,
        "shape": op.shape,
        "weight_bytes": op.weight_bytes,
        "kv_bytes": op.kv_bytes,
        "kernels": op.kernels,
        "note": op.note,
        **{side: r.times[side].to_json() for side in p.sides},
    }


def to_json(p: ModelPrediction, whatifs: list[WhatIf] = ()) -> dict:
    predicted = {s: p.predicted_s(s) for s in p.sides}
    return {
        "model": p.cfg.to_json(),
        "gpu": {"key": p.spec.key, "name": p.spec.name},
        "scenario": p.sc.to_json(),
        "sides": list(p.sides),
        "measured_ceilings": p.measured_origin,
        "operators": [_op_json(r, p) for r in p.rows],
        "per_layer": {
            "flops": p.layer_flops(),
            "bytes": p.layer_bytes(),
            "predicted": {s: p.layer_s(s) for s in p.sides},
        },
        "total_flops": p.total_flops,
        "total_bytes": p.total_bytes,
        "predicted_s": predicted["datasheet"],
        "predicted_measured_s": predicted.get("measured"),
        "predicted": predicted,
        "tokens_per_s": {s: p.tokens_per_s(s) for s in p.sides},
        "time_by_kind": {s: p.by_kind(s) for s in p.sides},
        "memory": p.memory.to_json(),
        "fits": p.memory.fits,
        "notes": [*p.notes(), *p.cfg.notes],
        "whatifs": [w.to_json() for w in whatifs],
    }


def plot(p: ModelPrediction, whatifs: list[WhatIf], path: str) -> None:
    """Predicted time per operator class, stacked: the run, or the baseline and each what-if, on every
    side (datasheet, measured) predicted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [("baseline", whatifs[0].base), *((w.label, w.alt) for w in whatifs)] if whatifs else [("", p)]
    bars: list[tuple[str, ModelPrediction, str]] = []
    for label, run in runs:
        bars += [(f"{label} ({side})".strip(), run, side) for side in run.sides]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.5 * len(bars)))
    colours = plt.get_cmap("tab10")
    for i, kind in enumerate(KINDS):
        lefts = [sum(run.by_kind(side).get(k, 0.0) for k in KINDS[:i]) * 1e3 for _, run, side in bars]
        widths = [run.by_kind(side).get(kind, 0.0) * 1e3 for _, run, side in bars]
        if any(widths):
            ax.barh(range(len(bars)), widths, left=lefts, color=colours(i), label=kind)
    ax.set_yticks(range(len(bars)), [b[0] for b in bars])
    ax.invert_yaxis()
    ax.set_xlabel("predicted time of one forward (ms)")
    ax.set_title(f"{p.cfg.name} on {p.spec.name}: {p.sc.describe()}", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
