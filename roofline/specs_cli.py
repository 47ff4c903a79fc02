"""`gpubench specs [NAME] [--ridge] [--ceilings FILE] [--spec-file FILE] [--json]`: the GPU spec database as
a table or as JSON, and the ridge points of each GPU.

A ridge point is peak / bandwidth (FLOP per byte): the arithmetic intensity above which a kernel fed from
that memory level can be compute-bound. --ridge prints them per peak (dtype) and per memory level: DRAM
from the datasheet, and DRAM, L2 and shared memory from the ceilings measured on the GPU where --ceilings
names a `gpubench micro` file of that GPU model. --spec-file adds your own GPUs (docs/model.md).
Also runs as `python -m gpubench.roofline.specs_cli`. Exit 0, or 2 on a usage or file error.
"""

from __future__ import annotations

import argparse
import json
import sys

from gpubench.cliargs import needs, standalone
from gpubench.exits import usage_error
from gpubench.roofline.comm import show as comm_show
from gpubench.roofline.roof import Ceilings, ridge_points
from gpubench.roofline.specs import (
    GPUSpec,
    SpecFileError,
    get_spec,
    load_spec_file,
    load_specs,
    match_gpu,
    to_json,
)
from gpubench.roofline.target import TargetError, check_ceilings

PROG = "gpubench specs"
_PEAK_COLUMNS = ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "specs",
        help="the GPU spec database: SMs, clocks, bandwidth, L2 and dense peaks, with sources; ridge points",
        description="List the GPUs in the spec database with their derived dense peaks "
        "(TFLOP/s; TOP/s for int8). Use --json for every field, sparse peaks and sources, --ridge for the "
        "ridge points per dtype and memory level.",
    )
    configure(p)
    p.set_defaults(func=run)
    return p


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("name", nargs="?", metavar="NAME", help="only GPUs whose name contains NAME (any case)")
    p.add_argument("--json", action="store_true", help="print a JSON list of full spec objects")
    p.add_argument("--ridge", action="store_true", help="the ridge points per dtype and memory level")
    p.add_argument("--ceilings", metavar="FILE", help="with --ridge: measured ridges from this ceilings file")
    p.add_argument("--spec-file", metavar="FILE", help="also your own GPUs, from a spec file")
    needs(p, "--ceilings", "--ridge", "the ceilings give the measured ridge points")
    return p


def select(name: str | None, specs: list[GPUSpec] | None = None) -> list[GPUSpec]:
    """Specs whose canonical name or key contains `name`, else the one a device name like
    'NVIDIA H100 80GB HBM3' matches."""
    specs = load_specs() if specs is None else specs
    if not name:
        return specs
    needle = " ".join(name.lower().split())
    hits = [s for s in specs if needle in s.name.lower() or needle in s.key]
    if not hits and (spec := match_gpu(name, specs)) is not None:
        hits = [spec]
    if not hits:  # a system's name (dgx-h100) shows its GPU
        hits = [get_spec(s.gpu) for s in comm_show.systems_of([], name)]
    return hits


def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
            for r in [header, *rows]]  # fmt: skip


def table(specs: list[GPUSpec]) -> str:
    header = ["GPU", "SMs", "boost MHz", "BW GB/s", "L2 MiB", *_PEAK_COLUMNS]
    rows = []
    for s in specs:
        peaks, origin = s.peaks, s.peak_origin
        cells = [_fmt(peaks.get(k)) + ("*" if origin.get(k) == "published" else "") for k in _PEAK_COLUMNS]
        l2 = s.l2_bytes / 2**20 if s.l2_bytes else None
        rows.append([s.name, str(s.sm_count or "-"), _fmt(s.boost_clock_mhz, 0), _fmt(s.mem_bandwidth_gbs, 0),
                     _fmt(l2, 0), *cells])  # fmt: skip
    lines = [*_columns(header, rows), ""]
    lines += [
        "Dense peaks, TFLOP/s (TOP/s for int8); tf32/fp16/bf16/fp8/int8 are tensor-core rates, fp64/fp32 not",
        "Derived as SMs x FLOP/clk/SM x the clock the vendor's peaks assume; * = vendor total, not derived",
        "Sparse (2:4) peaks, each peak's clock and every figure's source: --json; ridge points: --ridge",
    ]
    return "\n".join(lines)


def ridges(spec: GPUSpec, measured: Ceilings | None) -> dict[str, dict[str, dict[str, float]]]:
    """{"datasheet": peak -> level -> FLOP/byte, "measured": the same where measured ceilings are given}."""
    out = {"datasheet": ridge_points(Ceilings.from_spec(spec))}
    if measured is not None:
        out["measured"] = ridge_points(measured)
    return out


def ridge_table(spec: GPUSpec, measured: Ceilings | None, origin: str | None) -> str:
    sheet = Ceilings.from_spec(spec)
    r = ridges(spec, measured)
    levels = [("datasheet", "DRAM", sheet.mem_bandwidth_gbs)]
    if measured is not None:
        levels += [("measured", name, measured.bandwidth_gbs(lv)) for name, lv in (("DRAM", "dram"),
                   ("L2", "l2"), ("shared", "smem")) if measured.bandwidth_gbs(lv)]  # fmt: skip
    header = ["peak", "TFLOP/s", *(f"{side} {name} ({_fmt(gbs, 0)} GB/s)" for side, name, gbs in levels)]
    if measured is not None:
        header.insert(2, "measured TFLOP/s")
    keys = list(dict.fromkeys([*sheet.peaks, *(measured.peaks if measured is not None else ())]))
    rows = []
    for k in keys:
        row = [k, _fmt(sheet.peaks.get(k))]
        if measured is not None:
            row.append(_fmt(measured.peaks.get(k)))
        rows.append(row + [_fmt(r[side].get(k, {}).get(name)) for side, name, _ in levels])
    lines = [f"{spec.name}: ridge points, FLOP per byte (peak / bandwidth)", *_columns(header, rows), ""]
    lines.append("Above its ridge a kernel fed from that level can be compute-bound; below it, memory-bound.")
    if origin:
        lines.append(f"measured: {origin}")
    return "\n".join(lines)


def run(args) -> int:
    try:
        extra = load_spec_file(args.spec_file) if getattr(args, "spec_file", None) else []
    except SpecFileError as exc:
        return usage_error(PROG, f"--spec-file {exc}")
    specs = select(getattr(args, "name", None), [*extra, *load_specs()])
    if not specs:
        where = "`gpubench specs` lists the GPUs and systems it knows; yours come with --spec-file FILE"
        return usage_error(PROG, f"no GPU or system matches {args.name!r}: {where}")
    keys, name = [s.key for s in specs], getattr(args, "name", None)
    ceilings_file = getattr(args, "ceilings", None)
    measured = origin = None
    if ceilings_file:
        if len(specs) != 1:
            found = ", ".join(s.key for s in specs)
            return usage_error(PROG, f"--ceilings needs a NAME that selects one GPU ({found} match)")
        try:
            m, on = check_ceilings(specs[0], ceilings_file)
        except TargetError as exc:
            return usage_error(PROG, str(exc))
        measured, origin = Ceilings.from_measured(m), f"{on}, {ceilings_file}"
    if args.json:
        docs = [to_json(s) | {"interconnect": comm_show.gpu_json(s.key)}
                | ({"ridge": ridges(s, measured)} if args.ridge else {}) for s in specs]  # fmt: skip
        print(json.dumps(docs, indent=2))
    elif args.ridge:
        print("\n\n".join(ridge_table(s, measured, origin) for s in specs))
    else:
        print(table(specs))
        print(comm_show.table(keys, {s.key: s.name for s in specs}, comm_show.systems_of(keys, name)))
    return 0


def main(argv=None) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    return standalone(configure, run, PROG, __doc__, argv, formatter_class=raw)


if __name__ == "__main__":
    sys.exit(main())
