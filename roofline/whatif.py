"""Hardware what-ifs: a GPU with one figure changed (`--what-if dram_bw=2x`, `sm_clock=1.5GHz`, `l2=100MiB`),
applied to its spec and to the ceilings measured on it alike, so both sides of a prediction ask the same
question.

    key          value                          changes
    dram_bw      2x | 6000GB/s | 6.7TB/s        DRAM bandwidth (every measured DRAM and copy figure too)
    sm_clock     0.8x | 1500MHz | 1.5GHz        every clock the peaks assume; measured peaks and on-chip
                                                (L1, L2, shared) bandwidths scale with it
    sm_count     2x | 264                       SMs; peaks and on-chip bandwidths scale with them
    l2           2x | 100MiB | 96MB             L2 size (what fits in it; not its bandwidth)
    mem          2x | 192GiB                    memory capacity (what fits on the GPU)
    peak.KEY     2x | 2000TFLOPS                one dense peak (KEY as in `gpubench specs --json` peaks)

A factor ("2x") multiplies the figure; a value with its unit replaces it. A what-if the spec cannot answer
(sm_clock on a GPU with no clock, a peak it lacks) is a WhatIfError naming it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gpubench.results import MeasuredCeilings
from gpubench.roofline.specs import PEAK_KEYS, RATE_TO_PEAK, Document, GPUSpec
from gpubench.roofline.specs.model import frozen

__all__ = ["WHAT_IF_KEYS", "WhatIf", "WhatIfError", "apply_all", "parse_what_if"]

_UNITS = {
    "bandwidth": {"gb/s": 1.0, "tb/s": 1e3},
    "clock": {"mhz": 1.0, "ghz": 1e3},
    "bytes": {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
              "tib": 2**40},
    "count": {"": 1.0},
    "rate": {"tflops": 1.0, "tflop/s": 1.0, "tops": 1.0, "pflops": 1e3, "pflop/s": 1e3},
}  # fmt: skip
WHAT_IF_KEYS = {"dram_bw": "bandwidth", "sm_clock": "clock", "sm_count": "count", "l2": "bytes",
                "mem": "bytes", "peak.KEY": "rate"}  # fmt: skip
_EXAMPLES = {"bandwidth": "6000GB/s", "clock": "1.5GHz", "bytes": "100MiB", "count": "264",
             "rate": "2000TFLOPS"}  # fmt: skip
_NUMBER = re.compile(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([a-z/]*)\s*")
_ON_CHIP = ("l1_gbs", "l2_gbs", "smem_gbs")
_DRAM = ("dram_gbs", "copy_gbs", "dram_read_gbs", "dram_write_gbs", "dram_copy_gbs", "dram_triad_gbs",
         "dram_copy_torch_gbs")  # fmt: skip


class WhatIfError(ValueError):
    """A what-if that cannot be read or answered; the message names it."""


@dataclass(frozen=True)
class WhatIf:
    key: str  # dram_bw, sm_clock, sm_count, l2, mem or peak.<key>
    text: str  # as given: "dram_bw=2x"
    factor: float | None  # "2x"
    value: float | None  # an absolute value in the key's base unit (GB/s, MHz, bytes, count, TFLOP/s)

    def scale(self, current: float | None) -> float:
        """The factor this what-if applies to a figure now `current`."""
        if self.factor is not None:
            return self.factor
        if not current:
            raise WhatIfError(f"--what-if {self.text}: the GPU has no figure to replace")
        return self.value / current


def parse_what_if(text: str) -> WhatIf:
    key, sep, raw = text.partition("=")
    key, raw = key.strip().lower(), raw.strip().lower()
    kind = WHAT_IF_KEYS.get("peak.KEY" if key.startswith("peak.") else key)
    if not sep or kind is None:
        known = ", ".join(WHAT_IF_KEYS)
        raise WhatIfError(f"--what-if {text!r}: expected KEY=VALUE with KEY one of {known}")
    if key.startswith("peak.") and key[5:] not in PEAK_KEYS:
        raise WhatIfError(f"--what-if {text}: no peak {key[5:]!r}; peaks: {', '.join(PEAK_KEYS)}")
    m = _NUMBER.fullmatch(raw)
    if m and m.group(2) == "x" and float(m.group(1)) > 0:
        return WhatIf(key, text, float(m.group(1)), None)
    unit = _UNITS[kind].get(m.group(2)) if m else None
    if unit is None or not float(m.group(1)) > 0:
        raise WhatIfError(
            f"--what-if {text}: expected a factor such as 2x or a value such as {_EXAMPLES[kind]}"
        )
    return WhatIf(key, text, None, float(m.group(1)) * unit)


def _scaled(table, factor: float, keys=None):
    return frozen({k: v * factor if keys is None or k in keys else v for k, v in table.items()})


def _apply_spec(spec: GPUSpec, w: WhatIf) -> tuple[dict, float]:
    """(the spec fields this what-if changes, the factor on every measured peak and on-chip bandwidth)."""
    if w.key == "dram_bw":
        return {"mem_bandwidth_gbs": spec.mem_bandwidth_gbs * w.scale(spec.mem_bandwidth_gbs)}, 1.0
    if w.key in ("l2", "mem"):
        fld = "l2_bytes" if w.key == "l2" else "mem_bytes"
        return {fld: int(round(getattr(spec, fld) * w.scale(getattr(spec, fld))))}, 1.0
    if w.key.startswith("peak."):
        peak = w.key[5:]
        f = w.scale(spec.peaks.get(peak))
        rate = {r for r, p in RATE_TO_PEAK.items() if p == peak}
        return {"flops_per_clk_per_sm": _scaled(spec.flops_per_clk_per_sm, f, rate),
                "published_dense_tflops": _scaled(spec.published_dense_tflops, f, {peak})}, 1.0  # fmt: skip
    published_only = [k for k in spec.published_dense_tflops if k not in spec.derived_peaks()]
    if w.key == "sm_clock":
        f = w.scale(spec.peak_clock_mhz)
        clocks = {c: getattr(spec, c) * f for c in ("base_clock_mhz", "boost_clock_mhz", "peak_clock_mhz")
                  if getattr(spec, c)}  # fmt: skip
        clocks["peak_clock_overrides_mhz"] = _scaled(spec.peak_clock_overrides_mhz, f)
    else:
        f = w.scale(spec.sm_count)
        clocks = {"sm_count": int(round(spec.sm_count * f))}
    return {**clocks, "published_dense_tflops": _scaled(spec.published_dense_tflops, f, published_only)}, f


def _apply_measured(m: MeasuredCeilings, w: WhatIf, factor: float, dram_factor: float) -> MeasuredCeilings:
    changes = {k: getattr(m, k) * dram_factor for k in _DRAM if getattr(m, k) is not None}
    changes |= {k: getattr(m, k) * factor for k in _ON_CHIP if getattr(m, k) is not None}
    peaks = dict(_scaled(m.peaks, factor))
    if w.key.startswith("peak."):
        peaks = dict(_scaled(peaks, w.scale(m.peaks.get(w.key[5:])), {w.key[5:]}))
    return dataclasses.replace(m, peaks=peaks, **changes)


def apply_all(
    spec: GPUSpec, measured: MeasuredCeilings | None, what_ifs: Sequence[WhatIf]
) -> tuple[GPUSpec, MeasuredCeilings | None]:
    """The spec (and the ceilings measured on it) with every what-if applied, in order; each changed
    figure cites the what-if as its source, and the spec's name and notes say what was changed."""
    for w in what_ifs:
        before = spec
        try:
            changes, factor = _apply_spec(spec, w)
        except TypeError:  # the figure is None: nothing to scale
            raise WhatIfError(f"--what-if {w.text}: {spec.name} has no figure for it") from None
        doc = (Document("what-if", f"what-if {w.text}", "", "user"),)
        sources = {**spec.sources, **{k: doc for k in changes}}
        note = f"What-if {w.text} on {before.name}"
        spec = dataclasses.replace(spec, **changes, name=f"{spec.name} [{w.text}]", sources=sources,
                                   notes=(*spec.notes, note))  # fmt: skip
        if measured is not None:
            dram = spec.mem_bandwidth_gbs / before.mem_bandwidth_gbs if w.key == "dram_bw" else 1.0
            measured = _apply_measured(measured, w, factor, dram)
    return spec, measured
