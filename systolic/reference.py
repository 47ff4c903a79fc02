"""The analytical model against the committed SCALE-Sim table (tests/data/scalesim_reference.json, written by
scripts/scalesim_reference.py).

What is compared, per layer, at a relative tolerance:

- total cycles and mapping efficiency (the agreement the model is held to), and compute utilisation and SRAM
  reads, in every case where the memory does not stall the array (CALC bandwidth, or operands that fit);
- where a user bandwidth is short, the stall model: SCALE-Sim's total cycles against `memory.stalls` fed with
  SCALE-Sim's own DRAM traffic. SCALE-Sim 3.0.0 re-fetches operands far more often than their reuse needs
  (its USER-mode read buffers fetch an operand as a ring in the order of first use, not of demand), so the
  two DRAM counts differ there; `summary` reports both.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import memory
from .analysis import LayerResult, evaluate_layer
from .config import ArrayConfig
from .topology import Layer, conv_layer, gemm_layer

DEFAULT_TABLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "scalesim_reference.json"


def load(path: str | Path = DEFAULT_TABLE) -> dict:
    return json.loads(Path(path).read_text())


def layer_of(record: dict) -> Layer:
    """The layer of one table row, as SCALE-Sim parsed it (depthwise layers already split per channel)."""
    if record["kind"] == "gemm":
        return gemm_layer(record["name"], record["m"], record["n"], record["k"])
    keys = ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "filters", "stride_h", "stride_w")
    return conv_layer(record["name"], *(record[k] for k in keys))


def config_of(case: dict) -> ArrayConfig:
    c = case["config"]
    bandwidth = None
    if c["mode"] == "USER":  # SCALE-Sim 3.0.0: ifmap/filter at the bank bandwidth, ofmap at Bandwidth
        bandwidth = (float(c["bank_bandwidth"]), float(c["bank_bandwidth"]), float(c["bandwidth"]))
    return ArrayConfig(
        rows=c["rows"],
        cols=c["cols"],
        dataflow=case["dataflow"],
        ifmap_kb=c["ifmap_kb"],
        filter_kb=c["filter_kb"],
        ofmap_kb=c["ofmap_kb"],
        bandwidth=bandwidth,
        name=case["id"],
    )


def _rel(ours: float, theirs: float) -> float:
    if theirs == 0:
        return 0.0 if ours == 0 else float("inf")
    return abs(ours - theirs) / abs(theirs)


def stalls_from_their_traffic(result: LayerResult, ss: dict) -> int:
    """Our stall model applied to SCALE-Sim's DRAM traffic for the layer."""
    theirs = memory.Traffic(
        result.traffic.sram_reads,
        result.traffic.sram_writes,
        ss["dram_reads"],
        ss["dram_writes"],
        result.traffic.resident,
    )
    return memory.stalls(theirs, result.compute_lines, result.config).stall_cycles


def compare_layer(case: dict, record: dict, cycle_model: str = "scalesim") -> dict:
    """Our figures and SCALE-Sim's for one layer of one case."""
    result = evaluate_layer(layer_of(record), config_of(case), cycle_model)
    ss = record["scalesim"]
    bound = ss["stall_cycles"] > 0 or result.stall_cycles > 0
    ours = {
        "total_cycles": result.cycles,
        "mapping_efficiency": result.compute.mapping_efficiency,
        "compute_util": result.compute.compute_utilization,
        "sram_reads": result.words("sram_reads"),
        "dram_reads": result.words("dram_reads"),
        "dram_writes": result.words("dram_writes"),
        "stall_cycles": result.stall_cycles,
    }
    if bound:
        ours["total_cycles_from_their_traffic"] = result.compute_cycles + stalls_from_their_traffic(
            result, ss
        )
    return {
        "case": case["id"],
        "dataflow": case["dataflow"],
        "layer": record["name"],
        "bound": bound,
        "ours": ours,
        "theirs": ss,
    }


def _failures(c: dict, tolerance: float) -> list[str]:
    o, t = c["ours"], c["theirs"]
    checks = [("mapping efficiency", o["mapping_efficiency"], t["mapping_efficiency_percent"] / 100)]
    if c["bound"]:
        checks.append(
            (
                "total cycles (stall model on SCALE-Sim's traffic)",
                o["total_cycles_from_their_traffic"],
                t["total_cycles"],
            )
        )
    else:
        checks += [
            ("total cycles", o["total_cycles"], t["total_cycles"]),
            ("compute utilisation", o["compute_util"], t["compute_util_percent"] / 100),
            ("ifmap SRAM reads", o["sram_reads"]["ifmap"], t["sram_reads"]["ifmap"]),
            ("filter SRAM reads", o["sram_reads"]["filter"], t["sram_reads"]["filter"]),
        ]
    where = f"{c['case']} {c['dataflow']} {c['layer']}"
    return [
        f"{where}: {what} {ours:.6g} vs SCALE-Sim {theirs:.6g} ({_rel(ours, theirs):.2%} > {tolerance:.0%})"
        for what, ours, theirs in checks
        if _rel(ours, theirs) > tolerance
    ]


def comparisons(table: dict, cycle_model: str = "scalesim") -> list[dict]:
    return [compare_layer(case, record, cycle_model) for case in table["cases"] for record in case["layers"]]


def check(table: dict, tolerance: float = 0.02, cycle_model: str = "scalesim") -> list[str]:
    """Every disagreement beyond `tolerance`, per layer and per case total; empty when the model agrees."""
    out = []
    by_case: dict[tuple, list[dict]] = {}
    for c in comparisons(table, cycle_model):
        out += _failures(c, tolerance)
        by_case.setdefault((c["case"], c["dataflow"]), []).append(c)
    for (case, df), items in by_case.items():
        key = "total_cycles_from_their_traffic"
        ours = sum(c["ours"].get(key, c["ours"]["total_cycles"]) for c in items)
        theirs = sum(c["theirs"]["total_cycles"] for c in items)
        if _rel(ours, theirs) > tolerance:
            out.append(f"{case} {df} total: cycles {ours} vs SCALE-Sim {theirs} ({_rel(ours, theirs):.2%})")
    return out


def summary(table: dict, cycle_model: str = "scalesim") -> dict:
    """Worst relative differences by figure (and the DRAM ones, which are not held to the tolerance)."""
    worst: dict[str, float] = {}

    def note(name, ours, theirs):
        worst[name] = max(worst.get(name, 0.0), _rel(ours, theirs))

    for c in comparisons(table, cycle_model):
        o, t = c["ours"], c["theirs"]
        note("mapping_efficiency", o["mapping_efficiency"], t["mapping_efficiency_percent"] / 100)
        if c["bound"]:
            note("cycles_bound_stall_model", o["total_cycles_from_their_traffic"], t["total_cycles"])
            note("cycles_bound_own_traffic", o["total_cycles"], t["total_cycles"])
            continue
        note("cycles", o["total_cycles"], t["total_cycles"])
        note("compute_utilization", o["compute_util"], t["compute_util_percent"] / 100)
        for op in ("ifmap", "filter"):
            note("sram_reads", o["sram_reads"][op], t["sram_reads"][op])
            note(f"dram_reads_{op}", o["dram_reads"][op], t["dram_reads"][op])
        note("dram_writes_ofmap", o["dram_writes"]["ofmap"], t["dram_writes"]["ofmap"])
    return worst
