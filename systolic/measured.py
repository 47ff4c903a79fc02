"""The same layers measured on a GPU: the array's cycles at its clock beside the conv2d records of a results
file (`gpubench systolic ... --gpu NAME --results FILE`), not only beside the roofline's prediction.

A topology's conv layer is one image lowered to a GEMM (topology.py); a conv2d record is `batch` images of
one convolution. A record is the layer's when it is the same GEMM: groups 1, dilation 1, the filter, the
channels, the filters and the stride the layer has, and an output of the layer's size (gpubench.opcount's
rule on the record's input and padding against SCALE-Sim's on the layer's input: a layer file for the
records gives each layer the padded input rows and columns its windows cover, (P - 1) stride + R, so the
two agree; systolic/data/conv_layers.toml does). The array's time for the record is batch x the layer's
cycles / clock; the GPU's is the record's median, the fastest ok variant's where several measured it.
"""

from __future__ import annotations

from collections.abc import Iterable

from gpubench import results
from gpubench.opcount import conv_out

from .analysis import TopologyResult
from .errors import SystolicInputError
from .report import table
from .topology import Layer

WORKLOAD = "conv2d"  # the convolution alone: what the array's lowered GEMM computes


def read_results(path: str) -> results.Run:
    """The results file of --results; SystolicInputError names what is wrong with it."""
    try:
        run = results.read(path)
    except (results.ResultsError, OSError) as exc:
        raise SystolicInputError(f"--results: {exc}") from None
    if problem := results.no_records(run, "set beside the array"):
        raise SystolicInputError(problem)
    return run


def is_layer(layer: Layer, shape: dict) -> bool:
    """Whether a conv2d record of `shape` computes `layer`'s GEMM (see the module's notes)."""
    c = layer.conv
    if c is None or shape.get("groups") != 1 or shape.get("dilation") != 1:
        return False
    k, s, p = shape["kernel"], shape["stride"], shape["padding"]
    return (
        (c.filter_h, c.filter_w, c.stride_h, c.stride_w) == (k, k, s, s)
        and (c.channels, c.filters) == (shape["in_channels"], shape["out_channels"])
        and c.ofmap_h == conv_out(shape["height"], k, s, p)
        and c.ofmap_w == conv_out(shape["width"], k, s, p)
    )


def _fastest(records: Iterable[results.Record]) -> dict[int, results.Record]:
    """batch -> the fastest ok record of that batch."""
    best: dict[int, results.Record] = {}
    for rec in records:
        b = rec.shape["batch"]
        if b not in best or rec.median < best[b].median:
            best[b] = rec
    return best


def measured(result: TopologyResult, run: results.Run, clock_mhz: float, dtype: str) -> dict:
    """Per layer and batch the array's time at `clock_mhz` beside the fastest record of `dtype`."""
    recs = [r for r in run.records if r.workload == WORKLOAD and r.ok and r.dtype == dtype]
    rows = []
    for r in result.layers:
        mine = [rec for rec in recs if is_layer(r.layer, rec.shape)]
        for batch, rec in sorted(_fastest(mine).items()):
            array_s = batch * r.cycles / (clock_mhz * 1e6)
            rows.append({
                "name": r.layer.name, "batch": batch, "array_time_s": array_s, "gpu_variant": rec.variant,
                "gpu_median_s": rec.median, "gpu_mode": rec.mode, "array_over_gpu": array_s / rec.median,
            })  # fmt: skip
    other = sorted({r.dtype for r in run.records if r.workload == WORKLOAD and r.ok} - {dtype})
    note = None
    if not rows:
        note = f"no ok {WORKLOAD} record of dtype {dtype} in {run.path} matches a layer" + (
            f" (its {WORKLOAD} records are {', '.join(other)}: --dtype)" if other else "")  # fmt: skip
    return {"results": str(run.path), "device": run.device.name, "dtype": dtype, "rows": rows, "note": note}


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.2f}"


def measured_table(m: dict) -> str:
    if not m["rows"]:
        return f"measured: {m['note']}"
    header = ["layer", "batch", "array us", "GPU us", "variant", "array/GPU"]
    rows = [[x["name"], str(x["batch"]), _us(x["array_time_s"]), _us(x["gpu_median_s"]), x["gpu_variant"],
             f"{x['array_over_gpu']:,.2f}x"] for x in m["rows"]]  # fmt: skip
    head = f"measured on {m['device']} ({m['dtype']}, {m['results']}): the fastest variant's median"
    return "\n".join([head, "", table(header, rows)])
