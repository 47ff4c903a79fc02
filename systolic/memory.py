"""SRAM and DRAM traffic of one GEMM on the array, and the stalls a short DRAM bandwidth causes.

SRAM accesses follow SCALE-Sim's counts: every fold reads its input and filter tiles from SRAM and writes its
outputs (WS and IS write partial sums once per fold along K). Folds run column fold by column fold, and the
row folds of one column fold in turn, so one operand is re-used across the inner loop and the other is
streamed again for every outer iteration.

DRAM: each SRAM is double-buffered, the array working from one half while the other half fills. An operand
whose distinct words fit in one half is read from DRAM once. One that does not is read again on every pass
of the outer loop: the input once per column fold (OS, WS), the filter once per column fold (IS). Per pass,
OS reads each distinct input word once (consecutive row folds share their halo in SRAM) and WS reads what
each row fold's columns of the input matrix read (a conv re-reads an input pixel for every window chunk
that uses it). The stationary operand is read once (WS weights; IS inputs, consecutive pixel groups sharing
their halo), and an OS column fold's weights once if they fit in a half, else once per row fold. Outputs
(and WS/IS partial sums) go to DRAM as they are written, as in SCALE-Sim. A conv's input is counted in
distinct pixels, not in its im2col copy.

Stalls, with a bandwidth of B_p words per cycle on each SRAM's DRAM port p: before the layer's first cycle
each read SRAM pre-loads one half (as SCALE-Sim does; `prefetch_cycles`), and after its last cycle the ofmap
SRAM drains up to one half of its outputs (`drain_cycles`); neither is counted in the layer's cycles, as in
SCALE-Sim's 'Total Cycles'. The rest of the traffic overlaps the compute, so the array stalls for
max(0, max_p (traffic_p - edge_p) / B_p - compute cycles), edge_p being the pre-load or the final drain.
Without a bandwidth (SCALE-Sim's CALC mode) nothing stalls and `bandwidth_needed` says what each port must
sustain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .config import OPERANDS, ArrayConfig
from .errors import SystolicInputError
from .model import Compute
from .topology import Layer


@dataclass(frozen=True)
class Traffic:
    """Words moved by one instance of a layer."""

    sram_reads: dict[str, int]  # ifmap, filter
    sram_writes: dict[str, int]  # ofmap
    dram_reads: dict[str, int]  # ifmap, filter
    dram_writes: dict[str, int]  # ofmap
    resident: dict[str, bool]  # ifmap, filter: read from DRAM once and kept

    def port_words(self) -> dict[str, int]:
        return {**self.dram_reads, **self.dram_writes}


def fold_needs(layer: Layer, rows: int, cols: int, dataflow: str) -> dict[str, tuple[int, str]]:
    """Words one half of each SRAM must hold for one fold: the stationary tile (WS filter, IS input, OS
    outputs) and one word per array row or column for the streamed operands."""
    m, n, k = layer.m, layer.n, layer.k
    r_k, r_m, c_n, c_m = min(rows, k), min(rows, m), min(cols, n), min(cols, m)
    if dataflow == "os":
        return {
            "ifmap": (r_m, "one input per array row"),
            "filter": (c_n, "one weight per array column"),
            "ofmap": (r_m * c_n, f"the {r_m} x {c_n} output tile"),
        }
    if dataflow == "ws":
        return {
            "ifmap": (r_k, "one input per array row"),
            "filter": (r_k * c_n, f"the {r_k} x {c_n} weight tile"),
            "ofmap": (c_n, "one output per array column"),
        }
    return {
        "ifmap": (r_k * c_m, f"the {r_k} x {c_m} input tile"),
        "filter": (r_k, "one weight per array row"),
        "ofmap": (c_m, "one output per array column"),
    }


def check_fits(layer: Layer, config: ArrayConfig, dataflow: str | None = None) -> None:
    """SystolicInputError when an SRAM cannot hold one fold of the layer (double-buffered: in one half)."""
    dataflow = dataflow or config.dataflow
    for operand, (need, what) in fold_needs(layer, config.rows, config.cols, dataflow).items():
        half = config.half_words(operand)
        if need > half:
            kb = getattr(config, f"{operand}_kb")
            least = math.ceil(2 * need * config.word_bytes / 1024 * 100) / 100
            raise SystolicInputError(
                f"{operand} SRAM of {kb:g} KB ({half} words per half, double-buffered) cannot hold one fold "
                f"of layer {layer.name!r} ({config.rows}x{config.cols} {dataflow}): {what} needs {need} "
                f"words; give it at least {least:g} KB"
            )


def _streamed_input_words(layer: Layer, comp: Compute) -> int:
    """WS input words one column fold reads when the inputs do not stay resident: each row fold's columns of
    the input matrix (a conv re-reads an input pixel for every window chunk that uses it)."""
    rows, k = comp.rows, layer.k
    return sum(layer.window_words(f * rows, min(rows, k - f * rows)) for f in range(comp.row_folds))


def traffic(layer: Layer, comp: Compute, config: ArrayConfig) -> Traffic:
    """SRAM and DRAM words of one instance of `layer` (see the module docstring for the rules)."""
    m, n, k, u = layer.m, layer.n, layer.k, layer.ifmap_words
    rf, cf, df = comp.row_folds, comp.col_folds, comp.dataflow
    half_i, half_f = config.half_words("ifmap"), config.half_words("filter")
    in_fits = u <= half_i
    if df == "os":
        filt_fits = k * min(config.cols, n) <= half_f  # the column fold's weights stay for its row folds
        sram = {"ifmap": cf * m * k, "filter": rf * k * n}, m * n
        dram = {"ifmap": u if in_fits else u * cf, "filter": k * n if filt_fits else k * n * rf}, m * n
    elif df == "ws":
        filt_fits = True  # each weight tile is loaded once
        sram = {"ifmap": cf * m * k, "filter": k * n}, rf * m * n
        dram = (
            {"ifmap": u if in_fits else _streamed_input_words(layer, comp) * cf, "filter": k * n},
            rf * m * n,
        )
    else:
        filt_fits = k * n <= half_f
        sram = {"ifmap": m * k, "filter": cf * k * n}, rf * m * n
        dram = {"ifmap": u, "filter": k * n if filt_fits else k * n * cf}, rf * m * n
    return Traffic(
        sram[0], {"ofmap": sram[1]}, dram[0], {"ofmap": dram[1]}, {"ifmap": in_fits, "filter": filt_fits}
    )


@dataclass(frozen=True)
class Stalls:
    stall_cycles: int
    prefetch_cycles: int  # pre-loading the first halves, before the layer's first cycle
    drain_cycles: int  # writing the last half of the outputs, after the layer's last cycle
    memory_cycles: dict[str, int]  # per port: cycles to move the traffic that overlaps the compute


def edge_words(t: Traffic, config: ArrayConfig) -> dict[str, int]:
    """Words each port moves outside the compute: the read SRAMs' pre-load, the ofmap SRAM's final drain."""
    words = t.port_words()
    return {o: min(words[o], config.half_words(o)) for o in OPERANDS}


def stalls(t: Traffic, compute_lines: int, config: ArrayConfig) -> Stalls:
    """Stall cycles of one instance whose compute takes `compute_lines` cycles, at the config's bandwidth."""
    if config.bandwidth is None:
        return Stalls(0, 0, 0, {o: 0 for o in OPERANDS})
    bandwidth = dict(zip(OPERANDS, config.bandwidth))
    words, edge = t.port_words(), edge_words(t, config)
    memory = {o: math.ceil((words[o] - edge[o]) / bandwidth[o]) for o in OPERANDS}
    prefetch = max(math.ceil(edge[o] / bandwidth[o]) for o in ("ifmap", "filter"))
    drain = math.ceil(edge["ofmap"] / bandwidth["ofmap"])
    return Stalls(max(0, max(memory.values()) - compute_lines), prefetch, drain, memory)


def bandwidth_needed(t: Traffic, compute_lines: int, config: ArrayConfig) -> dict[str, float]:
    """Words per cycle each port must sustain for the memory never to stall the array (the pre-load and the
    final drain aside)."""
    words, edge = t.port_words(), edge_words(t, config)
    return {o: (words[o] - edge[o]) / max(compute_lines, 1) for o in OPERANDS}


def check_operands(layer: Layer) -> None:
    for name in ("m", "n", "k", "repeat"):
        if getattr(layer, name) <= 0:
            raise SystolicInputError(f"layer {layer.name!r}: {name} must be a positive integer")
