"""A module profile as a table (pandas, CSV) and as text: every node, the heaviest, the totals."""

from __future__ import annotations

from gpubench.fmt import DASH, fmt_pct, fmt_sig, fmt_time
from gpubench.transformer.render import si

__all__ = ["COLUMNS", "frame", "table"]

COLUMNS = (
    "index",
    "name",
    "op",
    "target",
    "kind",
    "shape",
    "dtype",
    "time_s",
    "samples",
    "flops",
    "flops_source",
    "counter_flops",
    "bytes",
    "intensity",
    "bound",
    "predicted_s",
    "limit",
    "predicted_over_measured",
    "inputs",
)


def frame(p):
    """One row per node (placeholders, attributes and the output included, untimed), COLUMNS in order."""
    import pandas as pd

    rows = []
    for n in p.nodes:
        ratio = n.predicted_s / n.time_s if p.device_time and n.predicted_s and n.time_s else None
        row = {c: getattr(n, c, None) for c in COLUMNS}
        row.update(
            shape="x".join(map(str, n.shape)) if n.shape is not None else None,
            inputs=" ".join(n.inputs),
            predicted_over_measured=ratio,
        )
        rows.append(row)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df.attrs.update(module=p.module, tracer=p.tracer, timer=p.timer, gpu=p.gpu)
    return df


def _row(n, p, total: float) -> list[str]:
    ratio = n.predicted_s / n.time_s if p.device_time and n.predicted_s and n.time_s else None
    shape = "x".join(map(str, n.shape)) if n.shape else DASH
    return [
        n.name,
        n.target,
        shape,
        n.dtype or DASH,
        fmt_time(n.time_s),
        fmt_pct(n.time_s / total) if total else DASH,
        si(n.flops),
        (n.flops_source or "").split(":")[0].split(" (")[0],
        si(n.bytes),
        fmt_sig(n.intensity) if n.intensity is not None else DASH,
        n.bound or DASH,
        fmt_time(n.predicted_s),
        fmt_sig(ratio) if ratio is not None else DASH,
    ]


def _columns(rows: list[list[str]], right=frozenset({4, 5, 6, 8, 9, 11, 12})) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    fit = lambda i, x: x.rjust(widths[i]) if i in right else x.ljust(widths[i])  # noqa: E731
    return ["  ".join(fit(i, x) for i, x in enumerate(r)).rstrip() for r in rows]


def table(p, top: int = 10) -> str:
    timed = [n for n in p.timed() if n.kind != "view"]
    views = len(p.timed()) - len(timed)
    total = p.nodes_time_s
    on = f"on {p.gpu}'s roofline" if p.gpu else "not placed on a roofline"
    head = [
        "node",
        "op",
        "shape",
        "dtype",
        "time",
        "share",
        "FLOPs",
        "counted by",
        "bytes",
        "FLOP/B",
        "bound",
        "predicted",
        "pred/meas",
    ]
    lines = [
        f"{p.module}: {len(p.nodes)} fx nodes ({p.tracer}), {len(p.timed())} timed; {on}",
        f"times: {p.timer}",
        "",
        *_columns([head, *(_row(n, p, total) for n in timed)]),
        f"({views} views, which move nothing, are left out here; every node is in the CSV)" if views else "",
        "",
        f"sum of the nodes {fmt_time(total)}; the module called as one {fmt_time(p.module_time_s)}; "
        f"{si(p.total('flops'))} FLOPs, {si(p.total('bytes'))} bytes",
        "",
        f"heaviest {min(top, len(timed))} nodes by time:",
    ]
    heavy = [
        [n.name, n.target, fmt_time(n.time_s), fmt_pct(n.time_s / total) if total else DASH, n.bound or DASH]
        for n in p.heaviest(top)
    ]
    lines += ["  " + line for line in _columns(heavy, right={2, 3})] if heavy else []
    if not p.device_time:
        lines += [
            "",
            "these are host wall times on the CPU; on a CUDA device the suite's device timer is used",
        ]
    if p.gpu and not p.device_time:
        lines.append(f"predicted: the node on {p.gpu} (pred/meas needs device times)")
    lines += [f"note: {note}" for note in p.notes]
    return "\n".join(lines) + "\n"
