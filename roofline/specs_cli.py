"""`gpubench specs [NAME] [--json]`: the GPU spec database as a table or as JSON.

Also runs as `python -m roofline.specs_cli [NAME] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import sys

from gpubench.roofline.comm import show as comm_show
from gpubench.roofline.specs import GPUSpec, get_spec, load_specs, match_gpu, to_json

_PEAK_COLUMNS = ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "specs",
        help="the GPU spec database: SMs, clocks, bandwidth, L2 and dense peaks, with sources",
        description="List the GPUs in the spec database with their derived dense peaks "
        "(TFLOP/s; TOP/s for int8). Use --json for every field, sparse peaks and sources.",
    )
    _add_arguments(p)
    p.set_defaults(func=run)
    return p


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="NAME", help="only GPUs whose name contains NAME (any case)")
    p.add_argument("--json", action="store_true", help="print a JSON list of full spec objects")


def select(name: str | None) -> list[GPUSpec]:
    """Specs whose canonical name or key contains `name`, else the one a device name like
    'NVIDIA H100 80GB HBM3' matches."""
    specs = load_specs()
    if not name:
        return specs
    needle = " ".join(name.lower().split())
    hits = [s for s in specs if needle in s.name.lower() or needle in s.key]
    if not hits and (spec := match_gpu(name)) is not None:
        hits = [spec]
    if not hits:  # a system's name (dgx-h100) shows its GPU
        hits = [get_spec(s.gpu) for s in comm_show.systems_of([], name)]
    return hits


def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table(specs: list[GPUSpec]) -> str:
    header = ["GPU", "SMs", "boost MHz", "BW GB/s", "L2 MiB", *_PEAK_COLUMNS]
    rows = []
    for s in specs:
        peaks, origin = s.peaks, s.peak_origin
        cells = [_fmt(peaks.get(k)) + ("*" if origin.get(k) == "published" else "") for k in _PEAK_COLUMNS]
        l2 = s.l2_bytes / 2**20 if s.l2_bytes else None
        rows.append([s.name, str(s.sm_count or "-"), _fmt(s.boost_clock_mhz, 0), _fmt(s.mem_bandwidth_gbs, 0),
                     _fmt(l2, 0), *cells])  # fmt: skip
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [header, *rows]]  # fmt: skip
    lines.append("")
    lines += [
        "Dense peaks, TFLOP/s (TOP/s for int8); tf32/fp16/bf16/fp8/int8 are tensor-core rates, fp64/fp32 not",
        "Derived as SMs x FLOP/clk/SM x the clock the vendor's peaks assume; * = vendor total, not derived",
        "Sparse (2:4) peaks, the clock of each peak and the source of every figure: --json",
    ]
    return "\n".join(lines)


def run(args) -> int:
    specs = select(getattr(args, "name", None))
    if not specs:
        known = "\n  ".join(s.name for s in load_specs())
        print(f"gpubench specs: no GPU matches {args.name!r}. Known GPUs:\n  {known}", file=sys.stderr)
        return 2
    keys, name = [s.key for s in specs], getattr(args, "name", None)
    if args.json:
        out = [{**to_json(s), "interconnect": comm_show.gpu_json(s.key)} for s in specs]
        print(json.dumps(out, indent=2))
    else:
        print(table(specs))
        print(comm_show.table(keys, {s.key: s.name for s in specs}, comm_show.systems_of(keys, name)))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m roofline.specs_cli", description=__doc__)
    _add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
