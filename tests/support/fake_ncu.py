"""A stand-in for the ncu executable in the CPU tests of `gpubench ncu`: it does not run the target (that
needs a GPU) but answers as ncu does, in the layout of tests/data/ncu/raw-page-2025.csv (the text columns
the raw page carries whatever --metrics asks for included): --version,
--query-metrics, and a profile whose CSV goes to --log-file with one kernel per call of every item,
named after the NVTX range when --print-nvtx-rename kernel is given. Its numbers are fixed, written by
hand, not measurements: per call 100 us times (item + 1), 1 MB read and 2 MB written.
FAKE_NCU_MODE: "ok", "norename" (ignores the renaming, as an older ncu), "denied" (no counter access),
"skip1" (the target reports item 1 skipped), "na_write" (n/a for the DRAM bytes written)."""

import json
import os
import sys

args = sys.argv[1:]
mode = os.environ.get("FAKE_NCU_MODE", "ok")
if args == ["--version"]:
    print("NVIDIA (R) Nsight Compute Command Line Profiler\nVersion 2026.1.0.0 (build 0)")
    sys.exit(0)
if args == ["--query-metrics"]:
    print("Device GH100 (sm_90)\nMetric Name    Metric Description\ndram__bytes    # of bytes in DRAM\n"
          "sm__pipe_tensor_op_hmma_cycles_active    # of cycles")  # fmt: skip
    sys.exit(0)
if mode == "denied":
    print("==ERROR== ERR_NVGPUCTRPERM - The user does not have permission to access NVIDIA GPU Performance "
          "Counters on the target device 0.")  # fmt: skip
    sys.exit(1)
log = args[args.index("--log-file") + 1]
at = args.index("gpubench.bench.ncu.target")
items_path, status_path = args[at + 1], args[at + 2]
calls = int(args[args.index("--calls", at) + 1])
items = json.loads(open(items_path).read())
rename = "--print-nvtx-rename" in args and mode != "norename"
metrics = args[args.index("--metrics") + 1].split(",")
TEXT = {
    "device__attribute_confidential_computing_mode": "No-CC",
    "device__attribute_display_name": "Fake GPU",
    "launch__func_cache_config": "CachePreferNone",
}
header = [
    "ID",
    "Process ID",
    "Process Name",
    "Host Name",
    "Kernel Name",
    "Context",
    "Stream",
    "Block Size",
    "Grid Size",
    "Device",
    "CC",
    *TEXT,
    *metrics,
]
units = {"gpu__time_duration.sum": "ns", "dram__bytes_read.sum": "byte", "dram__bytes_write.sum": "byte",
         "lts__t_bytes.sum": "byte", "sm__cycles_elapsed.avg.per_second": "cycle/second"}  # fmt: skip
value = {"gpu__time_duration.sum": "{t:,}", "dram__bytes_read.sum": "1,000,000",
         "dram__bytes_write.sum": "2,000,000", "lts__t_bytes.sum": "4,000,000",
         "sm__cycles_elapsed.avg.per_second": "1,980,000,000"}  # fmt: skip
lines = ["==PROF== Connected to process 1 (python)", ",".join(f'"{h}"' for h in header)]
lines.append(",".join(['""'] * (11 + len(TEXT)) + [f'"{units.get(m, "%")}"' for m in metrics]))
if mode == "na_write":
    value["dram__bytes_write.sum"] = "n/a"
status, n = [], 0
for i, _ in enumerate(items):
    skipped = mode == "skip1" and i == 1
    status.append(
        {
            "index": i,
            "status": "skipped" if skipped else "ok",
            "reason": "no GPU of its kind" if skipped else None,
        }
    )
    for c in range(0 if skipped else calls):
        name = f"gpubench:{i}:{c}" if rename else "some_kernel"
        cells = [str(n), "1", "python", "127.0.0.1", name, "1", "7", "(256, 1, 1)", "(132, 1, 1)", "0", "9.0"]
        cells += TEXT.values()
        cells += [value.get(m, "50").format(t=100_000 * (i + 1)) for m in metrics]
        lines.append(",".join(f'"{x}"' for x in cells))
        n += 1
open(log, "w").write("\n".join(lines) + "\n")
open(status_path, "w").write(json.dumps(status))
print("==PROF== Disconnected from process 1")
