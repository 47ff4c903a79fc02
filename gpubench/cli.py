"""The `gpubench` command. Subcommands import only what they need: `report`, `gate`, `compare`, `specs`
and `tiling` run without torch."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys

# Subcommands implemented in other packages: (module, human summary). Each module has add_parser/run.
_EXTERNAL = {
    "specs": "gpubench.roofline.specs_cli",
    "tiling": "gpubench.kernels.gemm.tiling_cli",
    "micro": "gpubench.bench.micro.cli",
    "report": "gpubench.reports.report_cli",
    "gate": "gpubench.reports.gate_cli",
    "compare": "gpubench.reports.compare_cli",
}


def _cmd_list(args) -> int:
    from gpubench import kernels

    for name in kernels.names():
        w = kernels.get(name)
        print(f"{w.name}: {w.description}")
        print(f"  axes: {', '.join(w.axes)}   dtypes: {', '.join(w.dtypes)}")
        for vname, v in w.variants.items():
            print(f"  - {vname:<22} [{v.backend}] {v.description}")
        for set_name, shapes in w.shapes.items():
            shown = "; ".join(",".join(f"{k}={v}" for k, v in s.items()) for s in shapes)
            print(f"  shapes[{set_name}]: {shown}")
    return 0


def _cmd_device(args) -> int:
    from gpubench.bench.device import describe

    info = describe()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    gpu = info["gpu"]
    if not gpu["available"]:
        print(f"GPU: none ({gpu['reason']})")
        nv = info.get("nvml", {})
        print(f"NVML: {'available' if nv.get('available') else nv.get('reason')}")
    else:
        for d in gpu["devices"]:
            print(
                f"GPU {d['index']}: {d['name']}  cc {d['compute_capability']}  {d['sm_count']} SMs  "
                f"L2 {d['l2_bytes'] / 2**20:.0f} MiB  memory {d['memory_bytes'] / 2**30:.1f} GiB"
            )
            print(f"  NVML: {'available' if d['nvml']['available'] else d['nvml']['reason']}")
            for key in (
                "uuid",
                "driver",
                "cuda_driver",
                "cuda",
                "sm_clock_max_mhz",
                "mem_clock_max_mhz",
                "mem_bus_width_bits",
                "power_limit_w",
                "persistence_mode",
            ):
                if key in d:
                    print(f"  {key}: {d[key]}")
    print("software: " + ", ".join(f"{k} {v}" for k, v in info["software"].items() if v))
    return 0


def _cmd_run(args) -> int:
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if args.profile not in ("quick", "full"):
        print(f"gpubench run: unknown profile {args.profile!r}", file=sys.stderr)
        return 2
    if args.workload:
        from gpubench import kernels

        unknown = [w for w in args.workload if w not in kernels.REGISTRY]
        if unknown:
            print(
                f"gpubench run: unknown workload(s) {', '.join(unknown)}; "
                f"known: {', '.join(kernels.names())}",
                file=sys.stderr,
            )
            return 2
    if args.dry_run:
        from gpubench.bench.plan import PROFILES, build_plan

        try:
            plan = build_plan(PROFILES[args.profile], args.workload, args.variant, args.dtype, args.mode)
        except KeyError as exc:
            print(f"gpubench run: {exc.args[0]}", file=sys.stderr)
            return 2
        for item in plan:
            print(item["id"])
        print(f"{len(plan)} items (profile {args.profile}: {PROFILES[args.profile].description})")
        return 0
    if not has_gpu:
        print(
            "gpubench run: no CUDA GPU visible, so nothing is timed and no results file is written.\n"
            "Running the CPU checks instead: every Triton variant in the Triton interpreter against its\n"
            "reference (test shapes), and every CUDA C source through NVRTC for sm_80 and sm_90."
        )
        env = {**os.environ, "TRITON_INTERPRET": "1"}
        cmd = [sys.executable, "-m", "gpubench.bench.interp", *(args.workload or [])]
        code = subprocess.call(cmd, env=env)
        code = max(code, _nvrtc_pass())
        print(
            "\nTo see real measurements without a GPU, render the committed reference results:\n"
            "  nox -s report   (or: gpubench report --out report/)  then open report/index.html"
        )
        return code
    from gpubench.bench.runner import run_gpu

    try:
        return run_gpu(
            args.profile,
            args.workload,
            args.variant,
            args.dtype,
            args.mode,
            args.out,
            args.storage,
            args.ceilings,
        )
    except KeyError as exc:
        print(f"gpubench run: {exc.args[0]}", file=sys.stderr)
        return 2


def _nvrtc_pass() -> int:
    from gpubench.bench import nvrtc

    try:
        nvrtc.load_library()
    except nvrtc.NvrtcUnavailable as exc:
        print(f"NVRTC check skipped: {exc}")
        return 0
    bad = 0
    for path in nvrtc.cuda_sources():
        for arch in ("sm_80", "sm_90"):
            try:
                r = nvrtc.compile_file(path, arch)
                spills = f", SPILLS in {r.spills}" if r.spills else ""
                regs = max((k.registers for k in r.kernels), default=0)
                print(
                    f"  ok   {path.relative_to(path.parents[2])} {arch}: {len(r.kernels)} kernels, "
                    f"max {regs} registers{spills}"
                )
                bad += bool(r.spills)
            except nvrtc.CompileError as exc:
                print(f"  FAIL {path} {arch}: {exc}")
                bad += 1
    return 1 if bad else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gpubench",
        description="GPU kernel benchmarks: correctness, device time, telemetry, rooflines, regression gate.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sp = sub.add_parser("list", help="workloads, variants, axes and shape sets")
    sp.set_defaults(func=_cmd_list)
    sp = sub.add_parser("device", help="what the suite sees: GPU properties, NVML, library versions")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=_cmd_device)
    sp = sub.add_parser("run", help="correctness-check and time the kernels (what `nox -s bench` calls)")
    sp.add_argument("--profile", default="quick", help="quick (a few minutes) or full (within ten minutes)")
    sp.add_argument("--workload", nargs="+", metavar="NAME", help="only these workloads")
    sp.add_argument("--variant", nargs="+", metavar="NAME", help="only these variants")
    sp.add_argument("--dtype", nargs="+", metavar="DTYPE", help="only these dtypes (default: the profile's)")
    sp.add_argument("--mode", nargs="+", choices=("cold", "warm"), help="L2 modes (default: the profile's)")
    sp.add_argument("--out", metavar="PATH", help="results file (default results/<gpu>-<time>.json)")
    sp.add_argument("--storage", default=".benchmarks", help="pytest-benchmark storage root (per GPU model)")
    sp.add_argument("--ceilings", metavar="PATH", help="measured ceilings file to predict against")
    sp.add_argument("--dry-run", action="store_true", help="print the plan (one line per item) and exit")
    sp.set_defaults(func=_cmd_run)
    for name, module in _EXTERNAL.items():
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue  # a subcommand whose optional module is absent is simply not offered
        mod.add_parser(sub)
        sub.choices[name].set_defaults(func=mod.run)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
