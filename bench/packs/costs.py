"""What a GPU pack's steps cost, counted without a GPU: each estimate is a count (GPU tests, Triton
compilations, plan items) times a per-unit time with its source. The GPU packs (bench.packs) size their
time limits from these, and a CPU test holds every pack under its limit.

Every factor says where it comes from: measured on this project's CPU machine (2-core CPU, no GPU), read
from the GPU runs committed under reports/ (an H100 and an H200, 2026-11-22), or a library's documented
default. Where nothing was measured yet the factor says so; the first GPU run of a pack records what each
step took (its steps.txt), which replaces the assumption.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gpubench.bench.fleet.split import ITEM_OVERHEAD_S, call_seconds, datasheet, item_key, measured_costs
from gpubench.bench.measure.stopping import StoppingRule
from gpubench.bench.run.plan import PROFILES, PlanItem
from gpubench.kernels import compiled

__all__ = [
    "Cost", "GpuTest", "bench_cost", "collect_gpu_tests", "compile_keys", "compile_seconds", "layer_cost",
    "micro_cost", "ncu_cost", "sampling_bound", "tests_cost", "within",
]  # fmt: skip

REPO = Path(__file__).resolve().parents[2]

# ---- the factors -------------------------------------------------------------------------------------

# One Triton compilation, seconds: triton.compile for GPUTarget("cuda", 90, 32), as tests/support/aot.py does,
# measured on the 2-core CPU, no GPU (triton 3.6.0, a fresh cache): the attention kernels (forward, TMA
# forward, dK/dV, dQ, decode at d64 and d128) took 0.35-0.82 s each, vector_add 0.05-0.13 s. The slowest
# is taken for every compilation: the GPU machine's cores are not assumed faster.
COMPILE_S = 0.82
# Triton's autotuner times a candidate of a new key with do_bench's defaults (warmup 25 ms, rep 100 ms;
# triton/testing.py, triton 3.6.0). A Triton key is counted as one compilation and one such timing; the
# kernels that autotune over 2-4 tiles (attention's forward, the GEMMs, qmatmul: kernels/*/config.py)
# compile more, which TEST_S covers: it is the mean test time of a run with the GEMMs' autotuning in it,
# and tests/test_packs.py holds the estimate of that run not below the time it took.
AUTOTUNE_S = 0.125
# torch.compile's compile of one graph on the GPU, once per workload, variant, shape and dtype (the
# baselines compile with static shapes, kernels/compiled.py), not measured on a GPU yet. Default mode:
# inductor's lowering and code generation took 0.7-1.5 s a test-shape graph on the 2-core CPU, no GPU, with
# a warm inductor cache (tests/test_torch_compile.py; 9-12 s for the first graph of a fresh cache), taken as
# INDUCTOR_S, plus one Triton compilation for its kernel. max-autotune besides compiles and times each of
# inductor's GEMM template configs, 22 in torch 2.13's table (mm_configs, torch/_inductor/
# template_heuristics/triton.py), each counted as a Triton key (compilation and timing): an upper figure,
# since inductor compiles them side by side.
INDUCTOR_S = 1.5
MAX_AUTOTUNE_CHOICES = 22
# One CUDA C module compiled by NVRTC (CuPy), once per workload, variant and dtype (CuPy keeps it on disk
# for the other test processes): bench.cpucheck.nvrtc.compile_file for sm_90 on the 2-core CPU, no GPU, took
# 0.04-2.01 s a source, attention.cu the slowest; that is taken for every module.
NVRTC_S = 2.0
# The run of one GPU test beyond compiling: the mean test time of the committed H100 GPU-test report
# (reports/reference/NVIDIA-H100-80GB-HBM3/gpu-tests.xml: 1630 tests, 467 s of test time, compilations
# included, so this counts them twice: an upper figure).
TEST_S = 0.29
# pytest-xdist workers; the GPU machines have 16 cores, so 8 workers compile side by side without
# sharing a core with another worker's compiler, and one GPU is shared by 8 processes (each holds a CUDA
# context of a few hundred MiB of the 80 GiB).
WORKERS = 8
# Starting pytest on the GPU machine: collecting tests/gpu took 3 s on the 2-core CPU, no GPU, and each
# worker imports torch and initialises CUDA, counted as 15 s (not measured on a GPU yet).
PYTEST_START_S = 15.0
# Starting `gpubench run` (the orchestrator, then its worker: imports, a CUDA context, NVML): not
# measured apart on a GPU; importing torch, triton and the workloads took 7 s on the busy 2-core CPU, no
# GPU; assumed 20 s with the CUDA context and the worker (bench.fleet.split's per-item overhead is measured
# net of it).
RUN_START_S = 20.0
# Commands that only read results files, on the 2-core CPU, no GPU: `gpubench gate` of two 1.1 MB files
# took 2.2 s, the gate's calibration over 11 runs of the 31-record A/A plan 8.6 s; each is given about
# twice that.
GATE_S = 5.0
CALIB_S = 15.0


@dataclass(frozen=True)
class Cost:
    """A step's estimate: seconds, and the count it was derived from, in words."""

    seconds: float
    basis: str


# ---- GPU tests ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GpuTest:
    nodeid: str
    params: dict  # the test's parameters (JSON values), {} when it has none

    @property
    def file(self) -> str:
        return self.nodeid.split("::", 1)[0]


_COLLECT = r"""
import json, sys
import pytest

class Collect:
    def pytest_collection_finish(self, session):
        out = []
        for item in session.items:
            spec = getattr(item, "callspec", None)
            out.append({"nodeid": item.nodeid, "params": dict(spec.params) if spec else {}})
        sys.__stdout__.write("\nCOLLECTED " + json.dumps(out, default=str) + "\n")

code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "-m", "gpu",
                    *sys.argv[1:]], plugins=[Collect()])
sys.exit(0 if code in (0, 5) else code)
"""


_COLLECTED: dict[tuple[str, str], tuple[GpuTest, ...]] = {}  # (python, file) -> its tests, per process


def collect_gpu_tests(files: Sequence[str], python: str = sys.executable) -> list[GpuTest]:
    """The GPU tests of `files` (paths relative to the repository), collected without a GPU; each file
    once per process (a plan and the run of its pack ask for the same files), the new ones together."""
    new = [f for f in dict.fromkeys(files) if (python, f) not in _COLLECTED]
    if new:
        proc = subprocess.run(
            [python, "-c", _COLLECT, *new], capture_output=True, text=True, cwd=REPO, timeout=300
        )
        line = next((x for x in proc.stdout.splitlines() if x.startswith("COLLECTED ")), None)
        if proc.returncode != 0 or line is None:
            raise RuntimeError(
                f"collecting {', '.join(new)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
            )
        found = [GpuTest(t["nodeid"], t["params"]) for t in json.loads(line.split(" ", 1)[1])]
        for f in new:
            _COLLECTED[python, f] = tuple(t for t in found if t.file == f)
    return [t for f in files for t in _COLLECTED[python, f]]


def _workload_of(params: dict, registry):
    """The workload a test item runs one variant of, or None (a test that is not one variant on one shape)."""
    vname, shape = params.get("vname"), params.get("shape")
    if not isinstance(vname, str) or not isinstance(shape, dict):
        return None
    if params.get("name") in registry:
        return registry[params["name"]]
    for w in registry.values():
        if vname in w.variants and set(shape) == set(w.axes):
            return w
    return None


def compile_seconds(mode: str | None) -> float:
    """Seconds of one torch.compile of a graph in `mode` on the GPU (0 for a variant that compiles none)."""
    if mode is None:
        return 0.0
    key = COMPILE_S + AUTOTUNE_S
    return INDUCTOR_S + key + (MAX_AUTOTUNE_CHOICES * key if mode == compiled.MAX_AUTOTUNE else 0.0)


def compile_keys(tests: Iterable[GpuTest], registry) -> tuple[set, set, dict]:
    """(Triton keys, NVRTC keys, {torch.compile key: its mode}) the tests compile. A Triton variant
    compiles once per workload, variant, dtype and shape: an upper count of the JIT's specialisations
    (dtypes, constexprs and each integer's divisibility, all functions of those); a CUDA C variant once per
    workload, variant and dtype; a torch.compile baseline once per workload, variant, dtype and shape.
    A test that is not one variant on one shape (a direct kernel call, a tile sweep) is one Triton key."""
    triton, nvrtc, inductor = set(), set(), {}
    for t in tests:
        w = _workload_of(t.params, registry)
        if w is None:
            triton.add(t.nodeid)
            continue
        v, dtype = t.params["vname"], t.params.get("dtype")
        backend = w.variants[v].backend
        if (mode := compiled.mode_of(w.variants[v])) is not None:
            inductor[(w.name, v, dtype, tuple(sorted(t.params["shape"].items())))] = mode
        elif backend == "triton":
            triton.add((w.name, v, dtype, tuple(sorted(t.params["shape"].items()))))
        elif backend == "cupy":
            nvrtc.add((w.name, v, dtype))
    return triton, nvrtc, inductor


def tests_cost(tests: Sequence[GpuTest], registry, workers: int = WORKERS) -> Cost:
    """Seconds of one pytest run of `tests` over `workers` processes."""
    triton, nvrtc, inductor = compile_keys(tests, registry)
    compiles = sum(compile_seconds(mode) for mode in inductor.values())
    compiling = len(triton) * (COMPILE_S + AUTOTUNE_S) + len(nvrtc) * NVRTC_S + compiles
    seconds = PYTEST_START_S + (compiling + len(tests) * TEST_S) / workers
    basis = (
        f"{len(tests)} tests, {len(triton)} Triton keys x {COMPILE_S + AUTOTUNE_S:.2f} s, "
        f"{len(nvrtc)} NVRTC modules x {NVRTC_S:.0f} s, {len(inductor)} torch.compile graphs "
        f"({compiles:.0f} s), {TEST_S} s a test, over {workers} workers"
    )
    return Cost(seconds, basis)


# ---- benchmark runs ----------------------------------------------------------------------------------


def sampling_bound(rule: StoppingRule, call_s: float) -> float:
    """The most sampling one item takes under `rule`: its timeout, or max_samples calls, the sooner."""
    return min(rule.timeout_s, rule.max_samples * call_s)


def bench_cost(items: Sequence[PlanItem], rule: StoppingRule, gpu_name: str, registry, previous=None) -> Cost:
    """Seconds of one `gpubench run` of `items`, an upper figure: the run's start, and per item the measured
    overhead (bench.fleet.split.ITEM_OVERHEAD_S) and the stopping rule's bound on its sampling on the
    datasheet roofline of `gpu_name` (its timeout where the GPU is unknown); an item that `previous` (a
    results file of this GPU model) holds costs what it took there."""
    ceilings, l2 = datasheet(gpu_name)
    measured = measured_costs(previous) if previous is not None else {}
    graphs = {_graph(item): compiled.mode_of(w.variants[item.variant]) for item in items
              if (w := registry.get(item.workload)) is not None and item.variant in w.variants}  # fmt: skip
    compiles = sum(compile_seconds(mode) for mode in graphs.values())
    seconds, known = RUN_START_S + compiles, 0
    for item in items:
        if (cost := measured.get(item_key(item))) is not None:
            seconds, known = seconds + cost, known + 1
            continue
        w = registry.get(item.workload)
        call = call_seconds(item, w, ceilings, l2) if ceilings is not None and w is not None else None
        seconds += ITEM_OVERHEAD_S + (rule.timeout_s if call is None else sampling_bound(rule, call))
    basis = (f"{len(items)} items ({known} as measured before) x ({ITEM_OVERHEAD_S} s + sampling <= "
             f"min({rule.timeout_s} s, {rule.max_samples} calls)) + {RUN_START_S:.0f} s start")  # fmt: skip
    if compiles:
        basis += f" + {compiles:.0f} s of torch.compile"
    return Cost(seconds, basis)


def _graph(item: PlanItem) -> tuple:
    """What a compiled baseline compiles once: its workload, variant, shape and dtype (both modes)."""
    return item.workload, item.variant, tuple(sorted(item.shape.items())), item.dtype


def within(items: Sequence[PlanItem], limit_s: float, cost: Callable[[list[PlanItem]], Cost]) -> list:
    """The longest run of `items` from the start, whole (workload, variant, shape, dtype) groups at a time,
    whose `cost` is at most `limit_s` (the first group at least): a pack's share of owed work, the rest left
    owed for its next run."""
    groups: dict[tuple, list[PlanItem]] = {}
    for item in items:
        groups.setdefault(_graph(item), []).append(item)
    taken: list[PlanItem] = []
    for group in groups.values():
        if taken and cost([*taken, *group]).seconds > limit_s:
            break
        taken += group
    return taken


# ---- micro-benchmarks --------------------------------------------------------------------------------

# The full `gpubench micro` run committed for the H100 took 18.3 s (run.wall_s of reports/reference/
# NVIDIA-H100-80GB-HBM3/ceilings.json: 28 entries and 38 sweep points); it had no burst/sustained rates.
MICRO_MEASURED_S = 18.3
# Rates measured burst and sustained since then (bench.micro.rates): mma.sync fp16, bf16, int8
# (bench/micro/compute.py) and cuBLAS bf16, fp16, tf32, fp8, int8 (bench/micro/cublas.py).
RATE_ENTRIES = 8
BURST_TIMEOUT_S = 0.25  # bench.micro.rates.burst_rule's timeout


def micro_cost(quick: bool) -> Cost:
    """Seconds of one `gpubench micro` run: the measured run, plus, per burst/sustained rate, its rest,
    its burst window and its load (bench.micro.common.Context.idle_s and load_s), plus the start."""
    idle, load = (0.5, 1.5) if quick else (1.0, 3.0)
    extra = RATE_ENTRIES * (idle + BURST_TIMEOUT_S + load)
    seconds = RUN_START_S + MICRO_MEASURED_S + extra
    basis = (
        f"measured {MICRO_MEASURED_S} s + {RATE_ENTRIES} rates x {idle + BURST_TIMEOUT_S + load} s + start"
    )
    return Cost(seconds, basis)


# ---- Nsight Compute ----------------------------------------------------------------------------------

# Not measured on a GPU yet (the first `truth` pack records it): ncu replays each profiled kernel once per
# metric pass (9 passes for the suite's metrics in the layout the Nsight Compute documentation shows),
# saving and restoring the memory the kernel writes before every pass; counted as 0.5 s a profiled call.
NCU_CALL_S = 0.5
# ncu itself and the profiled process (imports, CUDA context) before the first record: as RUN_START_S,
# doubled for ncu's own start and its --query-metrics and --version calls.
NCU_START_S = 2 * RUN_START_S


def ncu_cost(records: int, calls: int) -> Cost:
    """Seconds of `gpubench ncu` over `records` records, `calls` profiled calls each: per record the item
    overhead (its inputs, compilation and warm-up, unprofiled) and its calls, plus the starts."""
    seconds = NCU_START_S + records * (ITEM_OVERHEAD_S + calls * NCU_CALL_S)
    return Cost(
        seconds, f"{records} records x ({ITEM_OVERHEAD_S} s + {calls} calls x {NCU_CALL_S} s) + start"
    )


# ---- one model layer ---------------------------------------------------------------------------------


def layer_cost(variants_per_op: Sequence[int]) -> Cost:
    """Seconds of `gpubench layer`: every operator's variants (a torch op: one) and the whole layer, each
    an item of the quick stopping rule (overhead + its timeout: the shapes are large), and the start."""
    rule = PROFILES["quick"].rule
    timed = sum(max(1, n) for n in variants_per_op) + 1
    seconds = RUN_START_S + timed * (ITEM_OVERHEAD_S + rule.timeout_s)
    return Cost(
        seconds,
        f"{timed} timed (operators' variants and the layer) x ({ITEM_OVERHEAD_S} + {rule.timeout_s} s)",
    )
