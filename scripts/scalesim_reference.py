#!/usr/bin/env python3
"""Run SCALE-Sim 3.0.0 on reference cases and write tests/data/scalesim_reference.json.

The table holds, for every case (a topology on a config) and each of the three dataflows, each layer's
dimensions as SCALE-Sim parsed them and SCALE-Sim's results: total cycles, stall cycles, mapping efficiency,
compute and overall utilisation, SRAM and DRAM accesses per operand. The default tests
(tests/test_systolic_reference.py) compare the suite's analytical model against it.

SCALE-Sim is not a dependency of the suite: install it in a virtualenv of its own and run this script with
that interpreter, e.g.

    python3 -m venv /tmp/ssvenv && /tmp/ssvenv/bin/pip install scalesim==3.0.0 "numpy<2.3"
    git clone https://github.com/scalesim-project/scale-sim-v3 /tmp/scale-sim-v3   # its example topologies
    /tmp/ssvenv/bin/python scripts/scalesim_reference.py --scalesim-repo /tmp/scale-sim-v3

(SCALE-Sim 3.0.0 fails under numpy >= 2.3, which refuses int() of a 1-element array.) Without
--scalesim-repo only the suite's own example topologies and the GEMM cases are run. The cases run in
parallel (--jobs); the whole table takes a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import platform
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "systolic" / "data"
OUT = REPO / "tests" / "data" / "scalesim_reference.json"
DATAFLOWS = ("os", "ws", "is")

# SCALE-Sim's example configuration (configs/scale.cfg): 32 x 32, 64 KiB SRAMs, CALC bandwidth.
SCALE_EXAMPLE = {
    "rows": 32,
    "cols": 32,
    "ifmap_kb": 64,
    "filter_kb": 64,
    "ofmap_kb": 64,
    "mode": "CALC",
    "bandwidth": 10,
    "bank_bandwidth": 10,
}
# Example topologies of the SCALE-Sim repository, read from --scalesim-repo (not copied into this one).
SCALESIM_TOPOLOGIES = (
    "topologies/conv_nets/test.csv",
    "topologies/conv_nets/alexnet.csv",
    "topologies/GEMM_mnk/test_mnk_input.csv",
    "topologies/GEMM_mnk/vit_s.csv",
)
SUITE_TOPOLOGIES = ("tiny_cnn.csv", "tiny_transformer.csv")
# Small GEMMs: a single fold, exact multiples, ragged edges, on square and non-square arrays.
GEMMS = (
    ("single_fold", 16, 16, 16),
    ("exact_fold", 32, 32, 32),
    ("multiples", 64, 96, 128),
    ("ragged", 100, 50, 70),
    ("ragged_small", 33, 17, 5),
    ("tall_k", 20, 40, 300),
    ("one", 1, 1, 1),
)
GEMM_ARRAYS = ((32, 32), (16, 8), (8, 32))
# USER bandwidth: operands that fit (no stalls) and ones that do not (bandwidth-bound).
USER_CASES = (
    (
        "user_fits",
        {
            "rows": 16,
            "cols": 8,
            "ifmap_kb": 64,
            "filter_kb": 64,
            "ofmap_kb": 64,
            "mode": "USER",
            "bandwidth": 4,
            "bank_bandwidth": 4,
        },
        (("a", 64, 48, 40), ("b", 100, 30, 20)),
    ),
    (
        "user_bound",
        {
            "rows": 32,
            "cols": 32,
            "ifmap_kb": 16,
            "filter_kb": 16,
            "ofmap_kb": 16,
            "mode": "USER",
            "bandwidth": 10,
            "bank_bandwidth": 10,
        },
        (("c", 256, 256, 256),),
    ),
    (
        "user_bound_slow",
        {
            "rows": 32,
            "cols": 32,
            "ifmap_kb": 16,
            "filter_kb": 16,
            "ofmap_kb": 16,
            "mode": "USER",
            "bandwidth": 2,
            "bank_bandwidth": 2,
        },
        (("d", 128, 256, 192),),
    ),
)

CONFIG_TEMPLATE = """[general]
run_name = reference

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: {ifmap_kb}
FilterSramSzkB: {filter_kb}
OfmapSramSzkB: {ofmap_kb}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth : {bandwidth}
Dataflow : {dataflow}
MemoryBanks: 1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: {bank_bandwidth}
IfmapSRAMBankNum: 1
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: {bank_bandwidth}
FilterSRAMBankNum: 1
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: {mode}
UseRamulatorTrace: False
"""


def with_trailing_commas(text: str) -> str:
    """SCALE-Sim drops the last field of every row, so rows must end in a comma; some of its own don't."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(line if line.endswith(",") else line + "," for line in lines) + "\n"


def _layer_record(topo, index: int, gemm: bool, items: list, detail: list) -> dict:
    a = topo.topo_arrays[index]
    if gemm:  # SCALE-Sim stores a GEMM as [name, M, K, 1, K, 1, N, 1, 1, ...]
        dims = {"kind": "gemm", "m": a[1], "n": a[6], "k": a[2]}
    else:
        dims = {
            "kind": "conv",
            "ifmap_h": a[1],
            "ifmap_w": a[2],
            "filter_h": a[3],
            "filter_w": a[4],
            "channels": a[5],
            "filters": a[6],
            "stride_h": a[7],
            "stride_w": a[8],
        }
    d = [float(x) for x in detail]
    result = {
        "cycles_with_prefetch": int(items[0]),
        "total_cycles": int(items[1]),
        "stall_cycles": int(items[2]),
        "overall_util_percent": float(items[3]),
        "mapping_efficiency_percent": float(items[4]),
        "compute_util_percent": float(items[5]),
        "sram_reads": {"ifmap": int(d[2]), "filter": int(d[5])},
        "sram_writes": {"ofmap": int(d[8])},
        "dram_reads": {"ifmap": int(d[11]), "filter": int(d[14])},
        "dram_writes": {"ofmap": int(d[17])},
    }
    return {"name": str(a[0]), **dims, "scalesim": result}


def run_case(case: dict) -> dict:
    """One topology on one config under one dataflow, in a scratch directory."""
    from scalesim.scale_sim import scalesim

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "config.cfg").write_text(CONFIG_TEMPLATE.format(dataflow=case["dataflow"], **case["config"]))
        (tmp / "topology.csv").write_text(with_trailing_commas(case["topology_text"]))
        (tmp / "layout.csv").write_text("Layer name, unused,\n")  # required even without custom layouts
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                sim = scalesim(
                    save_disk_space=True,
                    verbose=False,
                    config="config.cfg",
                    topology="topology.csv",
                    layout="layout.csv",
                    input_type_gemm=case["gemm"],
                )
                sim.run_scale(top_path=str(tmp / "out"))
        finally:
            os.chdir(cwd)
        layers = [
            _layer_record(
                sim.topo, i, case["gemm"], obj.get_compute_report_items(), obj.get_detail_report_items()
            )
            for i, obj in enumerate(sim.runner.single_layer_sim_object_list)
        ]
    out = {k: case[k] for k in ("id", "source", "dataflow", "gemm")}
    return {**out, "config": case["config"], "layers": layers}


def _gemm_csv(gemms) -> str:
    return "Layer, M, N, K,\n" + "".join(f"{name}, {m}, {n}, {k},\n" for name, m, n, k in gemms)


def cases(scalesim_repo: Path | None) -> list[dict]:
    base = []  # (id, source, text, config)
    if scalesim_repo is not None:
        for rel in SCALESIM_TOPOLOGIES:
            text = (scalesim_repo / rel).read_text()
            base.append((f"scalesim:{rel}", f"SCALE-Sim repository {rel}", text, SCALE_EXAMPLE))
    for name in SUITE_TOPOLOGIES:
        base.append(
            (f"suite:{name}", f"systolic/data/{name}", (DATA / name).read_text(), SCALE_EXAMPLE)
        )
    for rows, cols in GEMM_ARRAYS:
        config = {**SCALE_EXAMPLE, "rows": rows, "cols": cols}
        base.append((f"gemms:{rows}x{cols}", "small GEMMs (this script)", _gemm_csv(GEMMS), config))
    for case_id, config, gemms in USER_CASES:
        base.append((case_id, "USER bandwidth GEMMs (this script)", _gemm_csv(gemms), config))
    out = []
    for case_id, source, text, config in base:
        first = text.splitlines()[0].split(",")
        gemm = [f.strip().lower() for f in first[1:4]] == ["m", "n", "k"]
        for df in DATAFLOWS:
            out.append(
                {
                    "id": case_id,
                    "source": source,
                    "topology_text": text,
                    "config": dict(config),
                    "dataflow": df,
                    "gemm": gemm,
                }
            )
    return out


def dump(table: dict) -> str:
    """JSON with one line per layer, so that a regenerated table diffs readably."""
    head = {k: v for k, v in table.items() if k != "cases"}
    lines = ["{"] + [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()] + [' "cases": [']
    for i, case in enumerate(table["cases"]):
        meta = {k: v for k, v in case.items() if k != "layers"}
        layers = ",\n".join(f"   {json.dumps(layer)}" for layer in case["layers"])
        end = "," if i < len(table["cases"]) - 1 else ""
        lines.append(f'  {json.dumps(meta)[:-1]}, "layers": [\n{layers}\n  ]}}{end}')
    return "\n".join(lines + [" ]", "}"]) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--scalesim-repo", type=Path, help="a checkout of scale-sim-v3, for its example topologies"
    )
    p.add_argument("--out", type=Path, default=OUT, help=f"where to write the table (default {OUT})")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel SCALE-Sim runs")
    args = p.parse_args(argv)
    try:
        version = metadata.version("scalesim")
    except metadata.PackageNotFoundError:
        print("scalesim is not installed in this interpreter; see the docstring", file=sys.stderr)
        return 2
    if version != "3.0.0":
        print(f"expected scalesim 3.0.0, found {version}", file=sys.stderr)
        return 2
    if args.scalesim_repo is not None:
        missing = [rel for rel in SCALESIM_TOPOLOGIES if not (args.scalesim_repo / rel).is_file()]
        if missing:
            print(f"{args.scalesim_repo} is not a scale-sim-v3 checkout: no {missing[0]}", file=sys.stderr)
            return 2
    runs = cases(args.scalesim_repo)
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(run_case, runs))
    table = {
        "generator": "scripts/scalesim_reference.py",
        "scalesim_version": version,
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "numpy": metadata.version("numpy"),
        "dataflows": list(DATAFLOWS),
        "notes": "Per layer: the dimensions SCALE-Sim parsed and its COMPUTE_REPORT / DETAILED_ACCESS_REPORT "
        "figures. total_cycles is its 'Total Cycles' (compute + stalls, the index of the last cycle); "
        "cycles_with_prefetch its 'Total Cycles (incl. prefetch)'.",
        "cases": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dump(table))
    print(f"wrote {len(results)} runs ({sum(len(r['layers']) for r in results)} layers) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
