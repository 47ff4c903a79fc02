"""`gpubench dse TOPOLOGY --objective EXPR`: sweep array shape, SRAM sizes and dataflow, rank by EXPR.

The objective is maximised (`--minimize` to flip it) over every configuration of the sweep; the top k distinct
configurations are listed, with the Pareto front of cycles vs area (and a plot with --plot). Exit codes: 0
success, 2 bad input (one line on stderr). Also runs as `python -m gpubench.systolic.dse_cli`.
"""

from __future__ import annotations

import argparse
import json
import sys

from gpubench import cliargs
from gpubench.cliargs import number, refuse_together, standalone

from . import dse
from .args import add_array_arguments, build_config, input_errors
from .errors import SystolicInputError
from .expr import FUNCTIONS, VARIABLES, Objective
from .model import check_cycle_model
from .report import count, percent, table
from .topology import read_topology

PROG = "gpubench dse"
DEFAULT_OBJECTIVE = "-cycles"


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("topology", metavar="TOPOLOGY", help="SCALE-Sim conv/GEMM CSV or the suite's .toml/.json")
    p.add_argument(
        "--objective",
        default=DEFAULT_OBJECTIVE,
        metavar="EXPR",
        help=f"expression to maximise (default {DEFAULT_OBJECTIVE!r}), over: {', '.join(VARIABLES)}; "
        f"functions {', '.join(FUNCTIONS)}",
    )
    p.add_argument("--minimize", action="store_true", help="minimise the objective instead")
    p.add_argument(
        "--rows", default="8..128", help="array rows: list and/or LOW..HIGH powers of two (8..128)"
    )
    p.add_argument("--cols", default="8..128", help="array columns, as --rows (default 8..128)")
    p.add_argument(
        "--shapes", metavar="RxC,...", help="explicit shapes, e.g. 16x64,32x32 (instead of rows x cols)"
    )
    p.add_argument(
        "--sram-kb", metavar="KB,...", help="SRAM sizes applied to all three SRAMs (default: config's)"
    )
    for operand in ("ifmap", "filter", "ofmap"):
        p.add_argument(f"--{operand}-kb", metavar="KB,...", help=f"{operand} SRAM sizes, swept independently")
    p.add_argument("--dataflows", default="os,ws,is", help="dataflows to try (default os,ws,is)")
    p.add_argument(
        "--top", type=cliargs.count("configurations"), default=5, metavar="K",
        help="how many configurations to list (default 5)",
    )  # fmt: skip
    p.add_argument(
        "--pe-area",
        type=number("mm^2", 0),
        default=dse.AreaModel.pe_mm2,
        metavar="MM2",
        help=f"area of one PE in mm^2 for `area` (default {dse.AreaModel.pe_mm2})",
    )
    p.add_argument(
        "--sram-area-per-kb",
        type=number("mm^2", 0),
        default=dse.AreaModel.sram_mm2_per_kb,
        metavar="MM2",
        help=f"SRAM area per KiB in mm^2 (default {dse.AreaModel.sram_mm2_per_kb})",
    )
    p.add_argument("--plot", metavar="PNG", help="write the cycles-vs-area Pareto plot here")
    p.add_argument("--max-configs", type=cliargs.count("configurations"), default=20000,
                   help="refuse larger sweeps (default 20000)")  # fmt: skip
    add_array_arguments(p)
    refuse_together(p, "--shapes", "--rows", "--cols", why="--shapes names the array shapes itself")
    refuse_together(p, "--sram-kb", "--ifmap-kb", "--filter-kb", "--ofmap-kb",
                    why="--sram-kb sets all three SRAMs")  # fmt: skip
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "dse",
        help="systolic-array design-space exploration: sweep shape, SRAM and dataflow under your objective",
        description="Evaluate TOPOLOGY on every array shape x SRAM sizes x dataflow of the sweep, rank the "
        "configurations by the objective, list the top k distinct ones and the Pareto front of cycles vs "
        "area. Exit codes: 0 ok, 2 bad input.",
    )
    configure(p)
    p.set_defaults(func=run)
    return p


def _srams(args, base) -> tuple[tuple[float, float, float], ...]:
    separate = [getattr(args, f"{o}_kb") for o in ("ifmap", "filter", "ofmap")]
    if args.sram_kb:
        return tuple((s, s, s) for s in dse.parse_sizes(args.sram_kb, "--sram-kb"))
    own = (base.ifmap_kb, base.filter_kb, base.ofmap_kb)
    lists = [
        dse.parse_sizes(v, f"--{o}-kb") if v else (d,)
        for v, o, d in zip(separate, ("ifmap", "filter", "ofmap"), own)
    ]
    return tuple((i, f, o) for i in lists[0] for f in lists[1] for o in lists[2])


def build_space(args, base) -> dse.Space:
    if args.shapes:
        shapes = dse.parse_shapes(args.shapes)
    else:
        shapes = tuple(
            (r, c) for r in dse.parse_ints(args.rows, "--rows") for c in dse.parse_ints(args.cols, "--cols")
        )
    dataflows = tuple(s.strip().lower() for s in args.dataflows.split(",") if s.strip())
    space = dse.Space(shapes, _srams(args, base), dataflows)
    if space.size > args.max_configs:
        raise SystolicInputError(
            f"the sweep has {space.size} configurations, more than --max-configs {args.max_configs}"
        )
    return space


def _point_rows(points: list[dse.Point], ranked: bool) -> list[list[str]]:
    rows = []
    for i, p in enumerate(points, start=1):
        c, v = p.config, p.values
        sram = "/".join(f"{x:g}" for x in (c.ifmap_kb, c.filter_kb, c.ofmap_kb))
        rows.append(
            ([str(i)] if ranked else [])
            + [
                f"{c.rows}x{c.cols}",
                c.dataflow,
                sram,
                count(v["cycles"]),
                count(v["stall_cycles"]),
                percent(v["mapping_efficiency"]),
                f"{v['area']:.3f}",
                f"{p.objective:.6g}",
            ]
        )
    return rows


def report(out: dict, top: list[dse.Point], front: list[dse.Point]) -> str:
    header = ["array", "df", "SRAM KB in/flt/out", "cycles", "stalls", "map eff", "area mm2", "objective"]
    way = "minimised" if out["minimize"] else "maximised"
    lines = [
        f"{out['topology']}: {out['evaluated']} configurations evaluated, {len(out['skipped'])} skipped "
        f"(an SRAM too small for one fold); objective {out['objective']!r} {way}",
        "",
        f"top {len(top)}:",
        table(["rank", *header], _point_rows(top, True), left=3),
        "",
        f"Pareto front, cycles vs area ({len(front)} configurations):",
        table(header, _point_rows(front, False), left=3),
    ]
    if out.get("plot"):
        lines += ["", f"plot: {out['plot']}"]
    return "\n".join(lines)


def _run(args) -> int:
    cycle_model = check_cycle_model(args.cycle_model)
    objective = Objective(args.objective)
    area = dse.AreaModel(args.pe_area, args.sram_area_per_kb)
    base = build_config(args)
    topology = read_topology(args.topology)
    space = build_space(args, base)
    points, skipped = dse.sweep(topology, base, space, objective, area, cycle_model)
    if not points:
        raise SystolicInputError(
            f"no configuration of the sweep can run {topology.name}: "
            f"{skipped[0]['reason'] if skipped else 'empty sweep'}"
        )
    top, front = dse.top_k(points, args.top, not args.minimize), dse.pareto(points)
    out = {
        "topology": topology.name,
        "source": topology.source,
        "objective": objective.text,
        "minimize": args.minimize,
        "cycle_model": cycle_model,
        "evaluated": len(points),
        "area_model": {"pe_mm2": area.pe_mm2, "sram_mm2_per_kb": area.sram_mm2_per_kb},
        "base_config": base.to_dict(),
        "skipped": skipped,
        "top": [p.to_dict() for p in top],
        "pareto": [p.to_dict() for p in front],
        "plot": None,
    }
    if args.plot:
        from .plot import plot_pareto

        title = f"{topology.name}: {len(points)} configurations"
        out["plot"] = str(plot_pareto(points, front, args.plot, title))
    print(json.dumps(out, indent=2) if args.json else report(out, top, front))
    return 0


def run(args) -> int:
    return input_errors(_run, args, PROG)


def main(argv=None) -> int:
    return standalone(configure, run, PROG, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
