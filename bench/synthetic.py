"""Synthetic results files, for testing the reports and the gate before real GPU data covers a case.

Every document built here is marked `"synthetic": true` and its records carry the flag "synthetic":
the samples are generated, not measured, and the reports say so wherever they show them.
"""

from __future__ import annotations

import random

from gpubench.bench import results
from gpubench.bench.stats import summarize

_DEVICES = {
    "NVIDIA H100 80GB HBM3": dict(
        sm_count=132,
        l2_bytes=50 * 2**20,
        compute_capability="9.0",
        memory_bytes=80 * 2**30,
        sm_clock_max_mhz=1980,
        mem_clock_max_mhz=2619,
        mem_bus_width_bits=5120,
        bandwidth_gbs=3350.0,
    ),
    "NVIDIA H200": dict(
        sm_count=132,
        l2_bytes=60 * 2**20,
        compute_capability="9.0",
        memory_bytes=141 * 2**30,
        sm_clock_max_mhz=1980,
        mem_clock_max_mhz=3201,
        mem_bus_width_bits=6144,
        bandwidth_gbs=4800.0,
    ),
}


def make_document(
    gpu: str = "NVIDIA H100 80GB HBM3",
    *,
    seed: int = 0,
    samples: int = 50,
    noise: float = 0.01,
    slow: dict[tuple, float] | None = None,
) -> dict:
    """A results document for vector_add and window_sum on `gpu`, timed from a bandwidth model.

    `noise` is the log-normal sigma of the samples; `slow` maps record keys (see results.record_key)
    to a factor their samples are multiplied by.
    """
    if gpu not in _DEVICES:
        raise ValueError(f"no synthetic device {gpu!r}; known: {', '.join(_DEVICES)}")
    props = dict(_DEVICES[gpu])
    bandwidth = props.pop("bandwidth_gbs") * 1e9 * 0.9
    rng = random.Random(seed)
    device = {
        "name": gpu,
        "uuid": f"GPU-synthetic-{seed}",
        **props,
        "driver": "synthetic",
        "cuda": "synthetic",
    }
    software = {"python": "synthetic", "torch": "synthetic", "suite_commit": "synthetic"}
    doc = results.new_document(
        device, software, {"profile": "synthetic", "modes": ["cold", "warm"]}, synthetic=True
    )
    cases = [("vector_add", v, {"n": 1 << 26}, "fp32", 12 * (1 << 26), 1 << 26) for v in ("triton", "torch")]
    cases += [
        ("window_sum", v, {"n": 1 << 26, "radius": r}, "fp32", 8 * (1 << 26), (2 * r) * (1 << 26))
        for v in ("cuda_shared", "triton_blocked")
        for r in (1, 64)
    ]
    for workload, variant, shape, dtype, nbytes, flops in cases:
        for mode in ("cold", "warm"):
            rec = results.new_record(
                workload, variant, "synthetic", shape, dtype, mode, flops=flops, bytes=nbytes
            )
            base = nbytes / bandwidth * (1.0 if mode == "cold" else 0.97)
            factor = (slow or {}).get(results.record_key(rec), 1.0)
            xs = [base * factor * rng.lognormvariate(0.0, noise) for _ in range(samples)]
            rec["timing"] = {
                **summarize(xs),
                "samples": xs,
                "method": "synthetic",
                "stop_reason": "synthetic",
            }
            med = rec["timing"]["median"]
            rec["achieved"] = {"gbs": nbytes / med / 1e9, "tflops": flops / med / 1e12}
            rec["telemetry"] = {"available": False, "reason": "synthetic"}
            rec["flags"] = ["synthetic"]
            doc["records"].append(rec)
    doc["status"] = "complete"
    return doc
