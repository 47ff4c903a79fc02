"""One GPU's measurement carried to another: the time a record measured on GPU A should take on GPU B.

B's multi-term estimate (roofline.perfmodel) plus what A's measurement took beyond A's estimate,
scaled by the limiting term (perfmodel.carry). Both machines use the ceilings measured on them where
both have them (the DRAM latency ratio then scales the memory residue), else both datasheets, so the
two estimates are alike.
"""

from __future__ import annotations

from gpubench.results import MeasuredCeilings, Record
from gpubench.roofline.perfmodel import carry
from gpubench.roofline.placement import RunCeilings, model_estimate
from gpubench.roofline.roof import Ceilings
from gpubench.roofline.specs import GPUSpec

__all__ = ["carried_time", "ceilings_of_spec"]


def carried_time(rec_a: Record, on_a: RunCeilings, rec_b: Record, on_b: RunCeilings) -> float | None:
    """B's time of `rec_a` (measured on A); `rec_b` holds the same counts (it may be `rec_a` itself)."""
    side = "measured" if on_a.measured and on_b.measured else "datasheet"
    ma, mb = on_a.machine(side), on_b.machine(side)
    if ma is None or mb is None or not rec_a.ok or rec_a.flops is None or not rec_a.bytes:
        return None
    la, lb = on_a.dram_latency_s, on_b.dram_latency_s
    latency_ratio = lb / la if side == "measured" and la and lb else 1.0
    return carry(rec_a.median, model_estimate(rec_a, ma), model_estimate(rec_b, mb), latency_ratio)


def ceilings_of_spec(
    spec: GPUSpec, measured: MeasuredCeilings | None = None, origin: str = ""
) -> RunCeilings:
    """The ceilings of a GPU known from the spec database (and measured on it, when given)."""
    latency = measured.latency_ns.get("dram") if measured is not None else None
    return RunCeilings(
        datasheet=Ceilings.from_spec(spec),
        measured=Ceilings.from_measured(measured) if measured is not None else None,
        spec=spec,
        l2_bytes=spec.l2_bytes,
        measured_origin=origin or ("none measured" if measured is None else "measured"),
        sm_count=spec.sm_count,
        dram_latency_s=latency * 1e-9 if latency else None,
    )
