"""`gpubench device [--json]`: what the suite sees: the GPUs' properties, NVML, driver, library versions."""

from __future__ import annotations

import json

from gpubench.results import Device

_SHOWN = (
    "uuid", "driver", "cuda_driver", "cuda", "sm_clock_max_mhz", "mem_clock_max_mhz", "mem_bus_width_bits",
    "power_limit_w", "persistence_mode",
)  # fmt: skip


def add_parser(subparsers):
    p = subparsers.add_parser("device", help="what the suite sees: GPU properties, NVML, library versions")
    p.add_argument("--json", action="store_true", help="print it as JSON")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from gpubench.bench.measure.device import describe

    info = describe()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    gpu = info["gpu"]
    if not gpu["available"]:
        print(f"GPU: none ({gpu['reason']})")
        nv = info.get("nvml", {})
        print(f"NVML: {'available' if nv.get('available') else nv.get('reason')}")
    for raw in gpu.get("devices", []):
        d = Device.from_json(raw)
        print(
            f"GPU {d.index}: {d.name}  cc {d.compute_capability}  {d.sm_count} SMs  "
            f"L2 {(d.l2_bytes or 0) / 2**20:.0f} MiB  memory {(d.memory_bytes or 0) / 2**30:.1f} GiB"
        )
        nvml = d.nvml or {}
        print(f"  NVML: {'available' if nvml.get('available') else nvml.get('reason')}")
        for key in _SHOWN:
            if getattr(d, key) is not None:
                print(f"  {key}: {getattr(d, key)}")
    print("software: " + ", ".join(f"{k} {v}" for k, v in info["software"].items() if v))
    return 0
