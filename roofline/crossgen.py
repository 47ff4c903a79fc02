"""One GPU's measurement carried to another: the time a record measured on GPU A should take on GPU B.

Two rules, by what the run measured:

split    a record off the tensor cores whose variant and shape the run also measured at a dtype of another
         size. Its time holds a part that scales with the bytes it moves and a part that scales with the
         elements it handles (the same at both dtypes: instruction issue, address arithmetic, latency
         chains). The two measurements on A fix both parts, on the model that the two overlap as a p-norm,
         t^p = M^p + C^p, with t'^p = (M/s)^p + C^p at the other dtype (s = bytes / bytes'). On B the byte
         part scales with the streaming bandwidth (the copy bandwidth measured on each GPU: one access
         pattern on both; else the datasheets' DRAM), the element part with the fp32 CUDA-core rate (SMs x
         clock). Undercounted bytes (a second pass, partial sums) scale alike at both dtypes, so the split
         sees the traffic the byte accounting misses.
residue  everything else: B's multi-term estimate (roofline.perfmodel) plus what A's measurement took
         beyond A's estimate, scaled by the limiting term (perfmodel.carry).

OVERLAP_P, the p of the split, is the overlap of DRAM streaming and SM work that the suite's own
arithmetic-intensity sweep shows on the H100 (a p-norm of the sweep's memory and FMA times fitted to its
knee, points within 4x of the ridge: 4.2; reports/reference/NVIDIA-H100-80GB-HBM3/ceilings.json, checked by
tests/test_crossgen.py). It comes from a micro-benchmark on the reference GPU, not from any kernel's
timings. Both machines use the ceilings measured on them where both have them, else both datasheets.
"""

from __future__ import annotations

from gpubench.results import MeasuredCeilings, Record, Run
from gpubench.roofline.perfmodel import carry
from gpubench.roofline.placement import RunCeilings, model_estimate
from gpubench.roofline.roof import Ceilings
from gpubench.roofline.specs import GPUSpec

__all__ = ["OVERLAP_P", "carried_time", "ceilings_of_spec", "rule_of", "sibling", "split_time"]

OVERLAP_P = 4.2


def sibling(run: Run | None, rec: Record) -> Record | None:
    """The same variant, shape and mode measured at a dtype of another size, off the tensor cores (the
    split rule's second measurement); None where the run has none."""
    if run is None or rec.uses_tensor_cores or not rec.bytes:
        return None
    for other in run.ok_records():
        k, o = rec.key, other.key
        same = (o.workload, o.variant, o.shape, o.mode) == (k.workload, k.variant, k.shape, k.mode)
        sized = bool(other.bytes) and other.bytes != rec.bytes and o.dtype != k.dtype
        if same and sized and not other.uses_tensor_cores:
            return other
    return None


def rule_of(rec: Record, run: Run | None) -> str:
    """'split' or 'residue': the rule that carries `rec` (see the module docstring)."""
    return "split" if sibling(run, rec) is not None else "residue"


def split_time(t: float, t_other: float, bytes_ratio: float, p: float = OVERLAP_P) -> tuple[float, float]:
    """(byte part, element part) of a time `t` whose sibling at another dtype took `t_other`, with
    bytes_ratio = this record's bytes / the sibling's: t^p = M^p + C^p, t_other^p = (M/s)^p + C^p."""
    mp = (t**p - t_other**p) / (1 - bytes_ratio**-p)
    mp = min(max(mp, 0.0), t**p)  # noise can push either part past its bounds
    return mp ** (1 / p), (t**p - mp) ** (1 / p)


def _scales(on_a: RunCeilings, on_b: RunCeilings, side: str) -> tuple[float, float] | None:
    """(byte-part scale, element-part scale) from A to B: bandwidth A/B, fp32 rate A/B."""
    ma, mb = on_a.machine(side), on_b.machine(side)
    bw = [on.copy_gbs if side == "measured" and on.copy_gbs else m.ceilings.mem_bandwidth_gbs
          for on, m in ((on_a, ma), (on_b, mb))]  # fmt: skip
    rate = [m.ceilings.peaks.get("fp32") for m in (ma, mb)]
    if not (all(bw) and all(rate)):
        return None
    return bw[0] / bw[1], rate[0] / rate[1]


def _split(rec_a: Record, other: Record, on_a: RunCeilings, on_b: RunCeilings, side: str) -> float | None:
    scales = _scales(on_a, on_b, side)
    if scales is None:
        return None
    p = OVERLAP_P
    m, c = split_time(rec_a.median, other.median, rec_a.bytes / other.bytes, p)
    return ((m * scales[0]) ** p + (c * scales[1]) ** p) ** (1 / p)


def carried_time(
    rec_a: Record, on_a: RunCeilings, rec_b: Record, on_b: RunCeilings, run_a: Run | None = None
) -> float | None:
    """B's time of `rec_a` (measured on A, in `run_a`, whose other records the split rule may use);
    `rec_b` holds the same counts (it may be `rec_a` itself). None where B's figures refuse the record
    (roofline.rates) or either side lacks what the rule needs."""
    side = "measured" if on_a.measured and on_b.measured else "datasheet"
    ma, mb = on_a.machine(side), on_b.machine(side)
    if ma is None or mb is None or not rec_a.ok or rec_a.flops is None or not rec_a.bytes:
        return None
    est_a, est_b = model_estimate(rec_a, ma), model_estimate(rec_b, mb)
    if est_b.time_s is None:
        return None
    if (other := sibling(run_a, rec_a)) is not None:
        return _split(rec_a, other, on_a, on_b, side)
    la, lb = on_a.dram_latency_s, on_b.dram_latency_s
    latency_ratio = lb / la if side == "measured" and la and lb else 1.0
    return carry(rec_a.median, est_a, est_b, latency_ratio)


def ceilings_of_spec(
    spec: GPUSpec, measured: MeasuredCeilings | None = None, origin: str = ""
) -> RunCeilings:
    """The ceilings of a GPU known from a spec (and measured on it, when given)."""
    latency = measured.latency_ns.get("dram") if measured is not None else None
    return RunCeilings(
        datasheet=Ceilings.from_spec(spec),
        measured=Ceilings.from_measured(measured) if measured is not None else None,
        spec=spec,
        l2_bytes=spec.l2_bytes,
        measured_origin=origin or ("none measured" if measured is None else "measured"),
        sm_count=spec.sm_count,
        dram_latency_s=latency * 1e-9 if latency else None,
        copy_gbs=measured.copy_gbs if measured is not None else None,
    )
