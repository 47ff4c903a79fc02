"""`gpubench tiling`: DRAM bytes, arithmetic intensity and roofline bound of a tiled GEMM per dataflow.

For C = A @ B (A MxK, B KxN) cut into Tm x Tn x Tk tiles, the model (roofline.tiling) counts the DRAM
traffic of three dataflows, assuming no cache reuse beyond the tiles held on chip:
  output_stationary  a C tile stays on chip; A is read ceil(N/Tn) times, B ceil(M/Tm) times, C written once
  a_stationary       an A tile stays; A read once, B ceil(M/Tm) times, and C's partial sums make
                     ceil(K/Tk) - 1 fp32 round trips to DRAM before the final write
  b_stationary       the mirror image (B read once, A ceil(N/Tn) times)
Intensity is 2MNK / bytes. With ceilings (--bandwidth-gbs and --peak-tflops, or --gpu NAME from the
spec database), each dataflow also gets its roofline bound max(flops / peak, bytes / bandwidth).

Runs without torch or triton. Exit status 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json

from gpubench import dtypes
from gpubench.cliargs import count, needs, number, refuse_together
from gpubench.exits import usage_error
from gpubench.roofline.target import TargetError, add_target_arguments, target_from_args

PROG = "gpubench tiling"

DTYPE_BYTES = {d: dtypes.itemsize(d) for d in ("fp32", "tf32", "fp16", "bf16")}


def add_parser(subparsers):
    p = subparsers.add_parser(
        "tiling",
        help="GEMM tiling model: DRAM bytes and roofline bound per dataflow",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for axis in ("M", "N", "K"):
        p.add_argument(f"--{axis}", type=count("elements"), required=True, help=f"GEMM size {axis}")
    for t, axis in (("tm", "M"), ("tn", "N"), ("tk", "K")):
        p.add_argument(f"--{t}", type=count("elements"), required=True, help=f"tile size along {axis}")
    p.add_argument("--dtype", choices=tuple(DTYPE_BYTES), default="fp16", help="element type (default fp16)")
    p.add_argument("--bandwidth-gbs", type=number("GB/s", 0, low_open=True),
                   help="DRAM bandwidth ceiling in GB/s (1e9 bytes/s)")  # fmt: skip
    p.add_argument("--peak-tflops", type=number("TFLOP/s", 0, low_open=True),
                   help="compute ceiling in TFLOP/s for --dtype")  # fmt: skip
    add_target_arguments(p, "take both ceilings from this GPU")
    p.add_argument(
        "--group-m",
        type=count("tiles"),
        help="also show output-stationary traffic with grouped launch order and L2 reuse (optimistic)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per dataflow")
    for target in ("--gpu", "--spec-file"):
        refuse_together(p, target, "--bandwidth-gbs", "--peak-tflops", why=f"{target} takes both ceilings")
    for option in ("--ceilings", "--what-if"):
        needs(p, option, ["--gpu", "--spec-file"], "it describes the GPU whose ceilings are taken")
    p.set_defaults(func=run)
    return p


def _ceilings(args) -> tuple[float | None, float | None, str | None, str | None]:
    """(bandwidth GB/s, peak TFLOP/s, note, error)."""
    bw, peak = args.bandwidth_gbs, args.peak_tflops
    if (bw is None) != (peak is None):
        return None, None, None, "give both --bandwidth-gbs and --peak-tflops, or neither"
    if bw is not None:
        return bw, peak, None, None
    try:
        target = target_from_args(args, required=False)
    except TargetError as exc:
        return None, None, None, str(exc)
    if target is None:
        return None, None, "no ceilings given (--bandwidth-gbs/--peak-tflops or --gpu): bytes only", None
    from gpubench.roofline.rates import compute_rate

    on = target.ceilings()
    c = on.measured or on.datasheet
    rate = compute_rate(c.peaks, args.dtype, True, target.spec, c.label)  # a GEMM: tensor cores
    if rate.tflops is None:
        return None, None, f"{rate.refused}: bytes only", None
    note = f"{c.label} ceilings of {target.name}" + (f"; {rate.fallback}" if rate.fallback else "")
    return float(c.mem_bandwidth_gbs), rate.tflops, note, None


def run(args) -> int:
    from gpubench.roofline import tiling

    sizes = {k: getattr(args, k) for k in ("M", "N", "K", "tm", "tn", "tk")}
    bw, peak, note, err = _ceilings(args)
    if err:
        return usage_error(PROG, err)

    s = DTYPE_BYTES[args.dtype]
    M, N, K, tm, tn, tk = (sizes[k] for k in ("M", "N", "K", "tm", "tn", "tk"))
    rows = tiling.all_dataflows(M, N, K, tm, tn, tk, s)
    if args.group_m:
        rows.append(tiling.grouped_l2_traffic(M, N, K, tm, tn, tk, s, args.group_m))
    flops = 2 * M * N * K
    compulsory = tiling.compulsory_bytes(M, N, K, s)
    out = []
    for t in rows:
        rec = {
            "dataflow": t.dataflow,
            "a_bytes": t.a_bytes,
            "b_bytes": t.b_bytes,
            "c_bytes": t.c_bytes,
            "bytes": t.bytes,
            "intensity": t.intensity,
            "flops": flops,
            "compulsory_bytes": compulsory,
            "bound_s": None,
            "bound": None,
        }
        if bw is not None:
            rec["bound_s"] = tiling.bound_time_s(t, flops, bw, peak)
            rec["bound"] = tiling.bound_kind(t, flops, bw, peak)
        out.append(rec)

    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"GEMM M={M} N={N} K={K}, tiles {tm}x{tn}x{tk}, {args.dtype} ({s} bytes); no reuse beyond the tile")
    print(f"flops {flops:.4g}, compulsory bytes {compulsory:.4g} (intensity {flops / compulsory:.1f} FLOP/B)")
    if note:
        print(f"note: {note}")
    head = f"{'dataflow':<30} {'A bytes':>12} {'B bytes':>12} {'C bytes':>12} {'total':>12} {'FLOP/B':>9}"
    if bw is not None:
        head += f" {'bound':>12}"
    print(head)
    for r in out:
        line = (
            f"{r['dataflow']:<30} {r['a_bytes']:>12.4g} {r['b_bytes']:>12.4g} {r['c_bytes']:>12.4g} "
            f"{r['bytes']:>12.4g} {r['intensity']:>9.1f}"
        )
        if r["bound_s"] is not None:
            line += f" {r['bound_s'] * 1e6:>9.1f} us ({r['bound']})"
        print(line)
    return 0
