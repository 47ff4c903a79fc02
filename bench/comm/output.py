"""`gpubench comm`'s rows: one per (collective, bytes, ranks, backend, dtype, mode), measured beside
predicted, as a table like nccl-tests' or as JSON. No torch: the predict-only path uses it too."""

from __future__ import annotations

from gpubench import dtypes
from gpubench.bench.comm.plan import CommItem
from gpubench.results import Record
from gpubench.roofline.comm import Topology, predict
from gpubench.roofline.comm.placement import place_collective


def _pred_fields(p) -> dict:
    if p is None:
        return {"predicted_time_s": None, "predicted_busbw_GBps": None, "algorithm": None, "limit": None}
    label = f"{p.algorithm}/{p.protocol}" if p.protocol else p.algorithm
    return {
        "predicted_time_s": p.time_s,
        "predicted_busbw_GBps": p.busbw_gbps,
        "algorithm": label,
        "chosen_by": p.chosen_by,
        "limit": p.limit,
        "ceiling_busbw_GBps": p.ceiling_busbw_gbps,
    }


def measured_row(rec: Record) -> dict:
    c = rec.collective
    placed = place_collective(rec)
    return {
        "collective": c.name,
        "bytes": c.nbytes,
        "ranks": c.ranks,
        "nodes": c.nodes,
        "backend": c.backend,
        "dtype": rec.dtype,
        "mode": rec.mode,
        "status": rec.status,
        "wrong": c.wrong,
        "clock": c.clock,
        "time_s": rec.median,
        "algbw_GBps": rec.algbw_gbps,
        "busbw_GBps": rec.busbw_gbps,
        "samples": rec.timing.n if rec.timing else 0,
        "stop": rec.timing.stop_reason if rec.timing else None,
        **_pred_fields(placed.prediction if placed else None),
    }


def predicted_row(
    item: CommItem,
    ranks: int,
    topology: Topology,
    backend: str,
    algorithm=None,
    protocol=None,
    ranks_per_node=None,
) -> dict:
    p = predict(item.collective, item.nbytes, ranks, topology, ranks_per_node, algorithm, protocol, backend)
    return {
        "collective": item.collective,
        "bytes": item.nbytes,
        "ranks": ranks,
        "nodes": -(-ranks // (ranks_per_node or topology.gpus_per_node)),
        "backend": backend,
        "dtype": item.dtype,
        "mode": item.mode,
        "time_s": None,
        "algbw_GBps": None,
        "busbw_GBps": None,
        **_pred_fields(p),
        "predicted_algbw_GBps": p.algbw_gbps,
        "topology": topology.name,
    }


def _f(x, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def table(rows: list[dict]) -> str:
    """nccl-tests' columns (size, count, type, time, algbw, busbw, #wrong) and the model's beside them."""
    head = [
        "collective",
        "size(B)",
        "count",
        "type",
        "mode",
        "time(us)",
        "algbw",
        "busbw",
        "#wrong",
        "pred busbw",
        "pred time(us)",
        "algorithm",
        "limit",
    ]
    body = []
    for r in rows:
        t = r["time_s"] * 1e6 if r["time_s"] else None
        pt = r["predicted_time_s"] * 1e6 if r["predicted_time_s"] is not None else None
        body.append(
            [
                r["collective"],
                str(r["bytes"]),
                str(r["bytes"] // int(dtypes.itemsize(r["dtype"]))),
                r["dtype"],
                r["mode"],
                _f(t, ".2f"),
                _f(r["algbw_GBps"], ".3f"),
                _f(r["busbw_GBps"], ".3f"),
                str(r.get("wrong", "-")),
                _f(r["predicted_busbw_GBps"], ".3f"),
                _f(pt, ".2f"),
                r["algorithm"] or "-",
                r["limit"] or "-",
            ]
        )
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in [head, *body]]
    lines.append(
        "GB/s = 1e9 B/s; busbw = algbw x nccl-tests' factor; pred: the collective model (roofline.comm)"
    )
    return "\n".join(lines)


def average_busbw(rows: list[dict]) -> float | None:
    """nccl-tests' 'Avg bus bandwidth': the mean busbw over the measured rows."""
    vals = [r["busbw_GBps"] for r in rows if r.get("busbw_GBps") is not None]
    return sum(vals) / len(vals) if vals else None
