"""CPU checks of the micro-benchmarks: their CUDA sources compile, their accounting, the pointer-chase
permutation, the ceilings file, and `gpubench micro` without a GPU."""

import json
import re
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gpubench import results
from gpubench.bench.cpucheck import nvrtc
from gpubench.bench.micro import (
    FAMILIES,
    HERE,
    common,
    compute,
    cublas,
    cuda_sources,
    latency,
    launch,
    memory,
    sweep,
)
from gpubench.bench.micro import ceilings as ceil
from gpubench.results import MeasuredCeilings, Telemetry

try:
    nvrtc.load_library()
    HAVE_NVRTC = True
except nvrtc.NvrtcUnavailable:  # pragma: no cover - the test extra installs it
    HAVE_NVRTC = False
needs_nvrtc = pytest.mark.skipif(not HAVE_NVRTC, reason="NVRTC not installed (pip install nvidia-cuda-nvrtc)")

SOURCES = cuda_sources()
GIB, MIB, KIB = 1 << 30, 1 << 20, 1 << 10
H100_L2 = 50 * MIB  # torch's L2_cache_size on the H100 of this project's device notes (50 MB)

# Every kernel the Python side launches, per source file.
EXPECTED_KERNELS = {
    "memory.cu": {"dram_read", "dram_write", "dram_copy", "dram_triad", "cache_sweep", "cache_sweep_cg",
                  "smem_read"},  # fmt: skip
    "compute.cu": {"fma_fp32", "fma_fp64", "fma_f16x2", "mma_sync_fp16", "mma_sync_bf16", "mma_sync_int8"},
    "latency.cu": {"chase_l1", "chase_l2"},
    "launch.cu": {"empty_kernel"},
    "sweep.cu": {f"ai_sweep_{dt}_k{k}" for dt in sweep.ELEMENT_BYTES for k in sweep.SWEEP_K},
}


def test_sources_found():
    assert {p.name for p in SOURCES} == set(EXPECTED_KERNELS)
    assert all(p.parent == HERE for p in SOURCES)


@pytest.mark.slow
@needs_nvrtc
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_compiles_without_spills(path, arch):
    result = nvrtc.compile_file(path, arch)
    assert result.cubin_bytes > 0
    assert {k.name for k in result.kernels} == EXPECTED_KERNELS[path.name], result.log
    assert not result.spills, f"register spills in {result.spills} ({arch}):\n{result.log}"
    for k in result.kernels:
        assert k.stack_bytes == 0, f"{k.name} uses a stack frame (local memory) on {arch}"
        assert 0 < k.registers <= 255
        # Full occupancy needs <= 32 registers per thread at 2048 threads/SM; none of these may exceed
        # 64 (1024 threads/SM), or the one-wave grids would run at a low occupancy.
        assert k.registers <= 64, f"{k.name}: {k.registers} registers on {arch}"


def _cu_constant(filename: str, name: str) -> int:
    text = (HERE / filename).read_text()
    m = re.search(rf"constexpr int {name} = (\d+);", text)
    assert m, f"{name} not found in {filename}"
    return int(m.group(1))


def test_python_constants_match_the_cuda_sources():
    assert compute.FMA_CHAINS == _cu_constant("compute.cu", "kChains")
    assert compute.FMA_UNROLL == _cu_constant("compute.cu", "kFmaUnroll")
    assert compute.MMA_ACC == _cu_constant("compute.cu", "kMmaAcc")
    assert compute.MMA_UNROLL == _cu_constant("compute.cu", "kMmaUnroll")
    assert latency.STEP_MULTIPLE == 8 and "i += 8" in (HERE / "latency.cu").read_text()
    instantiated = re.findall(r"^GPUBENCH_AI_SWEEP\((\d+)\)", (HERE / "sweep.cu").read_text(), re.M)
    assert tuple(int(k) for k in instantiated) == sweep.SWEEP_K
    # The write pattern the host checks is the one the kernel stores.
    cu = (HERE / "memory.cu").read_text()
    assert "(unsigned)i * 0x9E3779B1u + seed" in cu and "h ^ 0x55555555u" in cu and "h + 0x3C6EF372u" in cu


# ---- accounting -------------------------------------------------------------------------------------


def test_dram_accounting():
    assert memory.dram_array_bytes(H100_L2) == GIB  # 8 x 50 MiB = 400 MiB: the 1 GiB floor wins
    assert memory.dram_array_bytes(4 * MIB) == GIB
    assert memory.dram_array_bytes(200 * MIB) == 1600 * MIB
    for l2 in (4 * MIB, 40 * MIB, 50 * MIB, 60 * MIB, 96 * MIB, 126 * MIB + 7):
        n = memory.dram_array_bytes(l2)
        assert n >= 8 * l2 and n >= GIB and n % MIB == 0
    a = 3 * GIB
    assert memory.dram_bytes("read", a) == a
    assert memory.dram_bytes("write", a) == a
    assert memory.dram_bytes("copy", a) == 2 * a  # read + write: the copy yardstick
    assert memory.dram_bytes("triad", a) == 3 * a  # b, c read; a written
    with pytest.raises(KeyError):
        memory.dram_bytes("scale", a)


def test_dram_array_floor_and_multiple():
    # The floor and the multiple combine as max(): 8 x L2 wins only above 128 MiB of L2.
    assert memory.dram_array_bytes(128 * MIB) == GIB
    assert memory.dram_array_bytes(129 * MIB) == 8 * 129 * MIB


def test_write_pattern():
    seed = memory.WRITE_SEED
    assert memory.write_pattern(0, seed) == (
        seed,
        seed ^ 0x55555555,
        (seed + 0x3C6EF372) & 0xFFFFFFFF,
        ~seed & 0xFFFFFFFF,
    )
    for p in (1, 12345, (1 << 32) + 5):
        words = memory.write_pattern(p)
        assert all(0 <= w < 1 << 32 for w in words)
    assert memory.write_pattern((1 << 32) + 5) == memory.write_pattern(5)  # the kernel truncates to 32 bits
    assert memory.write_pattern(1) != memory.write_pattern(2)


def test_cache_sweep_sizes_and_levels():
    sizes = memory.cache_sweep_sizes(H100_L2)  # the plain-load sweep: L1, then the way out of it
    assert sizes == [KIB << i for i in range(3, 10)]  # 8 KiB to 512 KiB
    assert all(s & (s - 1) == 0 for s in sizes)  # its kernel wraps with a mask
    assert [memory.cache_level(s, H100_L2) for s in sizes].count("l1") == 4  # 8 to 64 KiB
    cg = memory.l2_sweep_sizes(H100_L2)  # the L1-bypassing sweep, two sizes per octave
    assert cg[:5] == [MIB, 3 * MIB // 2, 2 * MIB, 3 * MIB, 4 * MIB]
    assert all(s % (32 * memory.PACKET) == 0 for s in cg)  # its kernel needs multiples of 32 packets
    levels = [memory.cache_level(s, H100_L2) for s in cg]
    # Several working sets on the L2 plateau (1 MiB to L2/2), and DRAM only at >= 4 x L2 (never 128 MiB).
    assert [s for s, lv in zip(cg, levels) if lv == "l2"] == [s for s in cg if s <= 25 * MIB]
    assert levels.count("l2") == 10
    assert [s for s, lv in zip(cg, levels) if lv == "dram"] == [256 * MIB, 384 * MIB, 512 * MIB]
    assert memory.cache_level(128 * MIB, H100_L2) == "transition"
    assert memory.cache_level(240 * MIB, 60 * MIB) == "dram"
    assert memory.cache_level(200 * MIB, 60 * MIB) == "transition"
    with pytest.raises(ValueError):
        memory.cache_sweep_sizes(H100_L2, start=3000)


def test_cache_iters_and_bytes():
    grid = 132 * 8
    iters = memory.cache_iters(4 * GIB, grid, 256)
    assert iters % 4 == 0
    moved = memory.vector_load_bytes(grid, 256, iters)
    assert 4 * GIB <= moved < 4 * GIB + grid * 256 * 16 * 4
    assert memory.vector_load_bytes(2, 256, 8) == 2 * 256 * 8 * 16


def test_fma_and_mma_accounting():
    assert compute.fma_flops(1000, 16, 2) == 1000 * 16 * 8 * 2
    assert compute.fma_flops(1000, 16, 4) == 2 * compute.fma_flops(1000, 16, 2)  # f16x2: two FMAs per instr
    assert compute.MMA_FLOPS == 4096
    assert compute.mma_flops(8, 8) == 8 * 8 * 4 * 4096
    assert compute.MMA_OPS_INT8 == 8192 and compute.mma_flops(8, 8, compute.MMA_OPS_INT8) == 8 * 8 * 4 * 8192
    assert compute.int8_word(1) == 0x01010101 and compute.int8_word(-2) == -0x01010102  # 0xFEFEFEFE
    assert compute.int8_expected(64).tolist() == [i + 64 * 32 * 3 * -2 for i in range(16)]
    assert {k: v[1] for k, v in compute.FMA_KINDS.items()} == {"fp32": 2, "fp64": 2, "f16x2": 4}
    assert cublas.gemm_flops(8192, 8192, 8192) == 2 * 8192**3


def test_fma_constants_keep_chains_bounded():
    for _, _, b, c in compute.FMA_KINDS.values():
        if b is None:
            continue
        assert 0 < b < 1 and c > 0
        assert c / (1 - b) == pytest.approx(0.5)  # the fixed point every chain converges to
    b = np.float16(compute.F16X2_B)
    assert float(b) == compute.F16X2_B and float(np.float16(compute.F16X2_C)) == compute.F16X2_C


def test_half2_bits():
    assert compute.half2_bits(1.0) == np.uint32(0x3C003C00)
    assert compute.half2_bits(-2.0) == np.uint32(0xC000C000)
    assert isinstance(compute.half2_bits(0.5), np.uint32)


def test_sweep_accounting():
    assert sweep.flops_per_element(0) == 1  # the accumulate
    assert sweep.flops_per_element(1024) == 2049
    assert sweep.intensity(0, "fp32") == 0.25
    assert sweep.intensity(4, "fp16") == 4.5
    p = sweep.sweep_point("fp32", 8, 1 << 28, 0.5)
    assert p["flops"] == (1 << 28) * 17 and p["bytes"] == (1 << 30)
    assert p["gflops"] == pytest.approx((1 << 28) * 17 / 0.5 / 1e9)
    assert p["gbs"] == pytest.approx((1 << 30) / 0.5 / 1e9)
    assert p["gflops"] / p["gbs"] == pytest.approx(p["intensity"])
    assert float(np.float16(sweep.SWEEP_B)) == sweep.SWEEP_B
    assert float(np.float16(sweep.SWEEP_C)) == sweep.SWEEP_C


def test_tf32_allowed_restores_the_setting():
    matmul = torch.backends.cuda.matmul
    attr = "fp32_precision" if hasattr(matmul, "fp32_precision") else "allow_tf32"
    before = getattr(matmul, attr)
    with cublas.tf32_allowed():
        assert getattr(matmul, attr) in ("tf32", True)
    assert getattr(matmul, attr) == before
    with pytest.raises(RuntimeError), cublas.tf32_allowed():
        raise RuntimeError("a failing measurement")
    assert getattr(matmul, attr) == before


def test_launch_accounting():
    assert launch.per_launch(2e-3, 1000) == pytest.approx(2e-6)
    with pytest.raises(ValueError):
        launch.per_launch(1.0, 0)


# ---- pointer chase ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 7, 128, 1000, 102400])
def test_chase_is_one_cycle_through_every_slot(n):
    cycle = latency.chase_cycle(n, seed=n)
    assert sorted(cycle.tolist()) == list(range(n))
    nxt = latency.next_slots(cycle).tolist()
    assert sorted(nxt) == list(range(n))  # a permutation
    seen, s = set(), int(cycle[0])
    for _ in range(n):
        assert s not in seen
        seen.add(s)
        s = nxt[s]
    assert s == int(cycle[0]) and len(seen) == n  # back at the start after exactly n steps
    # slot_after follows the same order
    s = int(cycle[0])
    for steps in range(1, 2 * n + 3):
        s = nxt[s]
        assert latency.slot_after(cycle, steps) == s


def test_chase_is_random_and_seeded():
    a, b = latency.chase_cycle(4096, seed=1), latency.chase_cycle(4096, seed=1)
    assert torch.equal(a, b)
    assert not torch.equal(a, latency.chase_cycle(4096, seed=2))
    nxt = latency.next_slots(a)
    # Not a sequential walk: few successors are the neighbouring slot.
    assert int(((nxt - torch.arange(4096)).abs() == 1).sum()) < 20
    with pytest.raises(ValueError):
        latency.chase_cycle(1)


def test_chase_levels_and_steps():
    lv = latency.levels(H100_L2)
    assert lv["l1"] == 16 * KIB and lv["l2"] == H100_L2 // 4 and lv["dram"] == 8 * H100_L2
    assert all(ws % latency.CHASE_STRIDE == 0 for ws in lv.values())
    assert latency.CHASE_STRIDE >= 128
    for quick in (True, False):
        for level, ws in lv.items():
            n = ws // latency.CHASE_STRIDE
            warm, steps = latency.chase_steps(level, n, quick)
            assert warm % 8 == 0 and steps % 8 == 0 and steps > 0
            if level in ("l1", "l2"):
                assert warm >= n  # one full cycle caches every line before timing
            if level == "l2":
                assert steps <= n  # no line timed twice
            if level == "dram":
                assert warm + steps <= n  # every timed access is to a line not visited before
    with pytest.raises(ValueError):
        latency.chase_steps("l3", 100, True)


# ---- entries, datasheet, ceilings -------------------------------------------------------------------


def test_percent_of():
    assert common.percent_of(50.0, 200.0) == 25.0
    assert common.percent_of(300.0, 200.0) == 150.0
    for value, sheet in (
        (None, 1.0),
        (1.0, None),
        (1.0, 0.0),
        (1.0, -5.0),
        (float("nan"), 1.0),
        (1.0, float("inf")),
    ):
        assert common.percent_of(value, sheet) is None


def _spec(**kw):
    base = dict(
        name="Test GPU",
        derived=False,
        mem_bandwidth_gbs=3350.0,
        peaks={"fp32": 66.9, "fp64": 33.5, "bf16": 989.4, "fp16": 989.4, "int8": 1978.9},
        sm_count=132,
        boost_clock_mhz=1980,
    )
    base.update(kw)
    return SimpleNamespace(**base)


def test_datasheet_for():
    spec = _spec()
    assert common.datasheet_for(spec, "dram_copy")[0] == 3350.0
    assert common.datasheet_for(spec, "dram_copy_torch")[0] == 3350.0
    assert common.datasheet_for(spec, "fma_fp32")[0] == 66.9
    assert common.datasheet_for(spec, "mma_sync_bf16")[0] == 989.4
    assert common.datasheet_for(spec, "cublas_int8")[0] == 1978.9
    assert common.datasheet_for(spec, "cublas_fp8") == (None, None)  # no such peak in this spec
    assert common.datasheet_for(spec, "fma_f16x2") == (None, None)
    assert common.datasheet_for(spec, "l2_bandwidth") == (None, None)
    assert common.datasheet_for(spec, "latency_dram") == (None, None)
    smem, source = common.datasheet_for(spec, "smem_bandwidth")
    assert smem == pytest.approx(132 * 1980e6 * 128 / 1e9)
    assert "derived" in source
    assert common.datasheet_for(_spec(derived=True), "dram_copy") == (None, None)  # unknown GPU: no datasheet
    assert common.datasheet_for(None, "dram_copy") == (None, None)
    assert common.datasheet_for(_spec(mem_bandwidth_gbs=None), "dram_read") == (None, None)


def test_lookup_spec_never_raises():
    spec, note = common.lookup_spec({"name": "Some GPU nobody has heard of", "sm_count": 3})
    assert not common.spec_is_datasheet(spec)
    assert note.startswith("no datasheet")


def test_make_entry_and_progress_line():
    e = common.make_entry(
        "dram_copy", 3000.0, "GB/s", method="m", datasheet=3350.0, params={"a": 1}, flags=["b", "a", "b"]
    )
    assert set(e) == {
        "name",
        "value",
        "unit",
        "datasheet",
        "percent_of_datasheet",
        "method",
        "params",
        "telemetry",
        "flags",
    }
    assert e["percent_of_datasheet"] == pytest.approx(100 * 3000 / 3350)
    assert e["flags"] == ["a", "b"]
    line = common.progress_line(e)
    assert "dram_copy" in line and "3000 GB/s" in line and "89.6% of datasheet 3350 GB/s" in line
    e2 = common.make_entry("launch_graph", 2.5e-6, "s", method="m")
    assert "2.500 us" in common.progress_line(e2) and "no datasheet" in common.progress_line(e2)


def _entries():
    mk = common.make_entry
    return [
        mk("dram_copy", 3000.0, "GB/s", method="m", datasheet=3350.0),
        mk("dram_read", 3100.0, "GB/s", method="m"),
        mk("dram_copy_torch", 2950.0, "GB/s", method="m"),
        mk("l2_bandwidth", 9000.0, "GB/s", method="m"),
        mk("smem_bandwidth", 30000.0, "GB/s", method="m"),
        mk("fma_fp32", 60.0, "TFLOP/s", method="m"),
        mk("fma_f16x2", 120.0, "TFLOP/s", method="m"),
        mk("cublas_bf16", 750.0, "TFLOP/s", method="m"),
        mk("cublas_int8", 1400.0, "TOP/s", method="m"),
        mk("mma_sync_fp16", 500.0, "TFLOP/s", method="m"),
        mk("cublas_fp8", None, "TFLOP/s", method="m"),  # no value: left out of the ceilings
        mk("launch_host", 4e-6, "s", method="m"),
        mk("launch_graph", 2e-6, "s", method="m"),
        mk("empty_kernel_device", 3e-6, "s", method="m"),
        mk("latency_l1", 20.0, "ns", method="m", params={"cycles": 35.0}),
        mk("latency_dram", 600.0, "ns", method="m", params={"cycles": 1100.0}),
        mk("h2d_pinned", 50.0, "GB/s", method="m"),
    ]


def test_build_ceilings():
    c = ceil.build_ceilings(_entries())
    assert c["dram_copy_gbs"] == 3000.0 and c["dram_read_gbs"] == 3100.0
    assert c["dram_copy_torch_gbs"] == 2950.0
    assert c["l2_gbs"] == 9000.0 and c["smem_gbs"] == 30000.0
    # One roof per hardware rate: fp16 = bf16 (the better of cuBLAS and mma.sync), mma.sync fp16 = bf16.
    assert c["peaks"] == {
        "fp32": 60.0,
        "fp16_simt": 120.0,
        "fp16": 750.0,
        "bf16": 750.0,
        "int8": 1400.0,
        "mma_sync_fp16": 500.0,
        "mma_sync_bf16": 500.0,
    }
    assert c["peak_sources"]["fp16"] == "cublas_bf16"
    assert c["peak_sources"]["mma_sync_bf16"] == "mma_sync_fp16"
    assert c["launch_overhead_s"] == 2e-6 and c["launch_overhead_source"] == "cuda_graph_replay_per_launch"
    assert c["launch_host_s"] == 4e-6 and c["empty_kernel_device_s"] == 3e-6
    assert c["latency_ns"] == {"l1": 20.0, "dram": 600.0}
    assert c["latency_cycles"] == {"l1": 35.0, "dram": 1100.0}
    assert c["h2d_pinned_gbs"] == 50.0
    assert "dram_write_gbs" not in c  # not measured, not invented


def test_build_ceilings_launch_fallback_and_units():
    entries = [e for e in _entries() if e["name"] != "launch_graph"]
    c = ceil.build_ceilings(entries)
    assert c["launch_overhead_s"] == 3e-6 and c["launch_overhead_source"] == "empty_kernel_event_duration"
    bad = [common.make_entry("dram_copy", 3.0, "TB/s", method="m")]
    with pytest.raises(ceil.CeilingsError, match="dram_copy"):
        ceil.build_ceilings(bad)
    assert ceil.build_ceilings([]) == {"peaks": {}, "peaks_sustained": {}}


def _rate_entry(name, sustained, burst, unit="TFLOP/s", clocks=(1980.0, 1755.0)):
    windows = {"burst": {"rate": burst, "sm_clock_mhz": clocks[0]},
               "sustained": {"rate": sustained, "sm_clock_mhz": clocks[1], "load_s": 3.0}}  # fmt: skip
    return common.make_entry(name, sustained, unit, method="m", params=windows)


def test_a_roof_is_the_best_sustained_rate_of_its_hardware_rate():
    """Never the best single sample (the old rule), never burst: the sustained rate, fp16 = bf16, and the
    int8 roof the better of torch._int_mm and the suite's own mma.sync kernel."""
    entries = [
        _rate_entry("cublas_bf16", 700.0, 780.0), _rate_entry("cublas_fp16", 690.0, 770.0),
        _rate_entry("cublas_int8", 930.0, 940.0, "TOP/s"),
        _rate_entry("mma_sync_int8", 1250.0, 1300.0, "TOP/s"),
    ]  # fmt: skip
    c = ceil.build_ceilings(entries)
    assert c["peaks"]["bf16"] == c["peaks"]["fp16"] == 700.0 and c["peak_sources"]["fp16"] == "cublas_bf16"
    assert c["peaks"]["int8"] == 1250.0 and c["peak_sources"]["int8"] == "mma_sync_int8"
    assert c["peaks_sustained"] == {"bf16": 700.0, "fp16": 690.0, "int8": 930.0, "mma_sync_int8": 1250.0}
    assert c["peaks_burst"]["bf16"] == 780.0
    assert c["peak_clocks_mhz"]["bf16"] == {"burst": 1980.0, "sustained": 1755.0}
    m = MeasuredCeilings.from_json(c)
    assert m.peaks["fp16"] == 700.0 and m.peak_sources["int8"] == "mma_sync_int8"


def test_build_document_roundtrip(tmp_path):
    from gpubench import results

    sweep_pts = [sweep.sweep_point("fp32", k, 1 << 20, 1e-3) for k in (0, 1)]
    doc = ceil.build_document(
        _entries(),
        sweep_pts,
        {"name": "Test GPU", "sm_count": 132},
        {"python": "3.11"},
        cache_sweep=[{"ws_bytes": 1 << 20, "level": "l2", "gbs": 9000.0}],
        run={"quick": True},
        skipped=[{"name": "cublas_fp8", "reason": "r"}],
        created="2026-01-01T00:00:00+00:00",
    )
    assert doc.schema == "gpubench.ceilings" and doc.schema_version == 1 and doc.status == "complete"
    assert [p["intensity"] for p in doc.sweep] == [0.25, 0.75]
    back = results.read_ceilings(results.write(doc, tmp_path / "c.json"))
    assert back == doc
    assert back.ceilings.peaks["bf16"] == 750.0 and back.micro[0].name == "dram_copy"
    partial = ceil.build_document([], [], {}, {}, failures=[{"family": "dram", "error": "x"}])
    assert partial.status == "partial"


def test_a_malformed_entry_is_refused_as_the_file_is_built():
    bad = [{**_entries()[0], "value": "fast"}]
    with pytest.raises(
        results.ResultsError, match="the ceilings being built: ceilings.dram_gbs: expected a number"
    ):
        ceil.build_document(bad, [], {}, {})


def test_roofline_reads_the_ceilings():
    model = pytest.importorskip("gpubench.roofline.roof")
    c = model.Ceilings.from_measured(MeasuredCeilings.from_json(ceil.build_ceilings(_entries())))
    # The DRAM roof is the best pattern (read, 3100), not the copy: a kernel may beat the copy's mix.
    assert c.mem_bandwidth_gbs == 3100.0
    built = ceil.build_ceilings(_entries())
    assert built["dram_source"] == "dram_read_gbs"
    assert (built["copy_gbs"], built["copy_source"]) == (3000.0, "dram_copy_gbs")
    assert c.peaks["bf16"] == 750.0 and c.peaks["fp32"] == 60.0
    assert c.launch_overhead_s == 2e-6
    assert c.cache_gbs["l2"] == 9000.0


# ---- the command without a GPU ----------------------------------------------------------------------


def test_families_have_runners():
    import importlib

    for family, module in FAMILIES.items():
        assert callable(getattr(importlib.import_module(f"gpubench.bench.micro.{module}"), f"run_{family}"))


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour without a GPU")
def test_cli_without_gpu_says_so_and_returns_2(tmp_path, capsys, monkeypatch):
    from gpubench.cli import main

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "c.json"
    assert main(["micro", "--quick", "--out", str(out)]) == 2
    text = capsys.readouterr().out
    assert "needs a CUDA GPU" in text and "no ceilings file is written" in text
    assert "NVRTC" in text
    if HAVE_NVRTC:
        assert "all sources compile" in text
        for p in SOURCES:
            assert f"bench/micro/{p.name} sm_90" in text
    assert not out.exists() and not (tmp_path / "results").exists()


def test_cli_rejects_unknown_family(capsys):
    from gpubench.cli import main

    assert main(["micro", "--only", "dram", "warp-speed"]) == 2
    assert "warp-speed" in capsys.readouterr().err


# ---- the families' host code on the CPU, kernels emulated -------------------------------------------
# Every launch is checked against the kernel's extern "C" signature in its .cu file (count, pointer vs
# scalar, and the exact numpy type of each scalar), and the kernels whose results the host checks are
# emulated, so the host-side checks (DRAM read/write/copy/triad, the pointer chase's end) run for real.

_SCALAR_TYPES = {
    "long long": np.int64,
    "unsigned long long": np.uint64,
    "unsigned": np.uint32,
    "int": np.int32,
    "float": np.float32,
    "double": np.float64,
}


def _kernel_signatures() -> dict[str, list[str]]:
    sigs = {}
    for path in SOURCES:
        text = path.read_text().replace("\\\n", " ")
        pattern = (
            r'extern "C" __global__ void(?:\s+__launch_bounds__\([^)]*\))?\s+(\w+?(?:##K)?)\s*\(([^)]*)\)'
        )
        for name, params in re.findall(pattern, text):
            args = [" ".join(a.split()) for a in params.split(",") if a.strip()]
            for k in sweep.SWEEP_K if name.endswith("##K") else [None]:
                sigs[name.replace("##K", str(k)) if k is not None else name] = args
    return sigs


SIGNATURES = _kernel_signatures()


def test_signatures_cover_every_kernel():
    assert set(SIGNATURES) == set().union(*EXPECTED_KERNELS.values())


class _FakeKernel:
    num_regs = 32
    shared_size_bytes = 0

    def __init__(self, name, launches):
        assert name in SIGNATURES, name
        self.name, self.launches = name, launches

    @property
    def kernel(self):  # cupy RawKernel -> Function
        return self

    def __call__(self, grid, block, args, shared_mem=0):
        _fake_launch(self, grid, block, args)


def _check_args(name, args):
    sig = SIGNATURES[name]
    assert len(args) == len(sig), f"{name}: {len(args)} arguments for {sig}"
    for decl, arg in zip(sig, args):
        if "*" in decl:
            assert isinstance(arg, torch.Tensor), f"{name}: {decl} got {type(arg).__name__}"
        else:
            ctype = " ".join(decl.replace("const ", "").split()[:-1])
            want = _SCALAR_TYPES[ctype]
            assert type(arg) is want, f"{name}: {decl} got {type(arg).__name__}, needs {want.__name__}"


def _emulate(name, args):
    import ctypes

    if name == "dram_read":
        x, packets, partials = args
        partials.zero_()
        partials[0] = x[: int(packets) * 4].double().sum()
    elif name == "dram_write":
        y, packets, seed = args
        idx = np.arange(int(packets), dtype=np.uint64)
        h = ((idx * np.uint64(0x9E3779B1) + np.uint64(int(seed))) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        words = np.stack([h, h ^ np.uint32(0x55555555), h + np.uint32(0x3C6EF372), ~h], 1)
        y.view(torch.int32).view(-1, 4).copy_(torch.from_numpy(words.view(np.int32)))
    elif name == "dram_copy":
        x, y, packets = args
        y[: int(packets) * 4].copy_(x[: int(packets) * 4])
    elif name == "dram_triad":
        a, b, c, s, _ = args
        a.copy_(b + float(s) * c)
    elif name in ("chase_l1", "chase_l2"):  # follow the table through host memory, as the GPU would
        start, warm, steps, out = args
        p = int(start)
        for _ in range(int(warm) + int(steps)):
            p = ctypes.c_int64.from_address(p).value
        out[0], out[1], out[2] = 30 * int(steps), 20 * int(steps), p
    elif name == "mma_sync_int8":  # the kernel's arithmetic where it does not depend on the layout
        frag, iters, out = args
        assert frag.dtype == torch.int32 and frag.numel() == 32 * compute.FRAG_WORDS_PER_LANE
        words = frag.view(32, 6)
        a, b = words[:, :4].view(torch.int8), words[:, 4:].view(torch.int8)
        if bool((a == a.flatten()[0]).all()) and bool((b == b.flatten()[0]).all()):
            dot = _INT8_K_EMULATED * int(a.flatten()[0]) * int(b.flatten()[0])
            start = torch.arange(compute.MMA_ACC * 4, dtype=torch.int32)
            out.view(-1, compute.MMA_ACC * 4).copy_(start + int(iters) * dot)
    elif name.startswith("mma_sync"):
        frag, _, out = args
        assert frag.dtype == torch.int32 and frag.numel() == 32 * compute.FRAG_WORDS_PER_LANE
        out.fill_(1.0)


_INT8_K_EMULATED = 32  # the k depth of m16n8k32; a kernel doing k = 16 must fail the host's check


def _fake_launch(kernel, grid, block, args, shared_mem=0):
    _check_args(kernel.name, args)
    assert block == (common.THREADS,) or block == (1,)
    kernel.launches.append(kernel.name)
    _emulate(kernel.name, args)


class _FakeCtx(common.Context):
    """A Context on the CPU: kernels emulated, one fixed 'median' per measurement, no NVML."""

    idle_s = load_s = 0.0  # no rest before a burst, no load before a sustained measurement

    def __init__(self):
        from gpubench.bench.measure.timing import BatchInfo

        self.device, self.index, self.quick, self.echo = torch.device("cpu"), 0, True, lambda line: None
        self.device_info = {"name": "NVIDIA H100 80GB HBM3", "sm_count": 132}
        self.name, self.sm_count, self.l2_bytes, self.cc = "fake", 2, 4 * MIB, (9, 0)
        self.max_threads_per_sm, self.regs_per_sm, self.smem_per_sm = 2048, 65536, 228 * KIB
        self.rule = common.rule_for(True)
        self.spec, self.spec_note = common.lookup_spec(self.device_info)
        self.sampler = SimpleNamespace(start=lambda: None, stop=lambda: Telemetry.unavailable("cpu"))
        self.entries, self.skipped, self.sweep, self.cache_sweep, self.launches = [], [], [], [], []
        self._timer = SimpleNamespace(
            flush=lambda: None,
            capture_graph=lambda fn, reps: SimpleNamespace(replay=fn),
            events_batch=lambda fn, n: ([(fn(), 2e-6)[1] for _ in range(n)], BatchInfo(method="fake")),
        )

    def kernel(self, filename, name):
        assert name in EXPECTED_KERNELS[filename]
        return _FakeKernel(name, self.launches)

    def blocks_per_sm(self, kernel, threads=common.THREADS, dynamic_smem=0):
        return 2

    def timer(self, mode):
        return self._timer

    def time(self, fn, mode="warm", rule=None, graph=True):
        fn()
        stats = {"median": 1e-3, "q1": 1e-3, "q3": 1e-3, "min": 1e-3, "cv": 0.0, "n": 10}
        return common.Timed(1e-3, stats, "fake", "converged", mode, Telemetry.unavailable("cpu"), [])

    def event_time(self, fn):
        fn()
        return 1e-3


@pytest.fixture
def fake_ctx(monkeypatch):
    import contextlib
    import types

    import gpubench.kernels.cuda_loader as kcuda

    monkeypatch.setattr(kcuda, "launch", _fake_launch)
    monkeypatch.setattr(kcuda, "current_stream", lambda device=None: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a, **k: None)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    monkeypatch.setattr(memory, "DRAM_MIN_ARRAY_BYTES", 8 * MIB)
    monkeypatch.setattr(cublas, "GEMM_SIZE", 64)
    fake_cupy = types.ModuleType("cupy")
    fake_cupy.cuda = SimpleNamespace(Device=lambda i: contextlib.nullcontext())
    monkeypatch.setitem(__import__("sys").modules, "cupy", fake_cupy)
    return _FakeCtx()


FAMILY_ENTRIES = {
    "dram": {"dram_read", "dram_write", "dram_copy", "dram_triad", "dram_copy_torch"},
    "cache": {"l1_bandwidth", "l2_bandwidth"},
    "smem": {"smem_bandwidth"},
    "fma": {"fma_fp32", "fma_fp64", "fma_f16x2"},
    "mma": {"mma_sync_fp16", "mma_sync_bf16", "mma_sync_int8"},
    "cublas": {f"cublas_{c}" for c in cublas.CASES},
    "launch": {"launch_host", "launch_graph", "empty_kernel_device"},
    "latency": {"latency_l1", "latency_l2", "latency_dram"},
    "transfer": {"h2d_pinned", "d2h_pinned", "h2d_pageable", "d2h_pageable"},
    "sweep": set(),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_host_code_with_emulated_kernels(family, fake_ctx, monkeypatch):
    import importlib

    if family == "transfer":  # no page-locked memory without CUDA: plain host tensors stand in
        real_empty = torch.empty
        monkeypatch.setattr(torch, "empty", lambda *a, pin_memory=False, **k: real_empty(*a, **k))
    getattr(importlib.import_module(f"gpubench.bench.micro.{FAMILIES[family]}"), f"run_{family}")(fake_ctx)
    names = {e["name"] for e in fake_ctx.entries} | {s["name"] for s in fake_ctx.skipped}
    assert names == FAMILY_ENTRIES[family]
    for e in fake_ctx.entries:
        assert e["value"] > 0 and e["method"] and e["unit"] == ceil.EXPECTED_UNITS[e["name"]]
    doc = ceil.build_document(fake_ctx.entries, fake_ctx.sweep, {}, {}, cache_sweep=fake_ctx.cache_sweep)
    json.dumps(doc.to_json(), allow_nan=False)  # plain JSON types only (no numpy scalars)
    if family in ("dram", "cache", "smem", "fma", "mma", "latency", "sweep"):
        assert fake_ctx.launches, "no kernel launched"
    if family == "sweep":
        assert [(p["dtype"], p["k"]) for p in fake_ctx.sweep] == [
            (dt, k) for dt in sweep.ELEMENT_BYTES for k in sweep.SWEEP_K
        ]
    if family == "latency":
        cycles = {e["name"]: e["params"]["cycles"] for e in fake_ctx.entries}
        assert cycles == {"latency_l1": 30.0, "latency_l2": 30.0, "latency_dram": 30.0}
    if family == "cache":
        sizes = memory.cache_sweep_sizes(4 * MIB) + memory.l2_sweep_sizes(4 * MIB)
        assert [p["ws_bytes"] for p in fake_ctx.cache_sweep] == sizes
        plateaus = {e["name"]: e["params"]["plateau"] for e in fake_ctx.entries}
        assert plateaus["l2_bandwidth"]["ws_bytes"] == [MIB, 3 * MIB // 2, 2 * MIB]  # 1 MiB to L2/2
        assert all(p["flat"] for p in plateaus.values()) and not any(e["flags"] for e in fake_ctx.entries)
    if family in ("mma", "cublas"):  # burst and sustained, the same way for every dtype
        for e in fake_ctx.entries:
            assert {"burst", "sustained"} <= set(e["params"]) and e["params"]["sustained"]["load_s"] >= 0


def test_calibrate_reaches_the_target_duration(monkeypatch):
    ctx = _FakeCtx()
    seen = []

    def run(iters):
        seen.append(iters)

    def event_time(fn):  # a kernel taking 1 ns per iteration plus 5 us of launch
        fn()
        return 5e-6 + seen[-1] * 1e-9

    monkeypatch.setattr(ctx, "event_time", event_time)
    iters = common.Context.calibrate(ctx, run, 1000, 16, 2e-3)
    assert iters % 16 == 0
    assert 5e-6 + iters * 1e-9 == pytest.approx(2e-3, rel=0.05)
    assert seen[0] == 1008  # rounded up to the multiple, then grown until measurable
    assert common.Context.calibrate(ctx, run, 1, 8, 1e-9) == 8  # never below one multiple


def test_occupancy_estimate():
    # 256 threads: threads allow 8 blocks; 32 registers fit 8; 40 registers (1280/warp) fit 6.
    assert common.occupancy_estimate(256, 32, 0, 2048, 65536, 228 * KIB) == 8
    assert common.occupancy_estimate(256, 40, 0, 2048, 65536, 228 * KIB) == 6
    assert common.occupancy_estimate(256, 32, 32 * KIB, 2048, 65536, 228 * KIB) == 6  # 33 KiB per block
    assert common.occupancy_estimate(1024, 255, 0, 2048, 65536, 0) == 1


def test_the_int8_check_catches_a_kernel_that_does_the_wrong_work(fake_ctx, monkeypatch):
    """A kernel doing m16n8k16 (half the k depth) instead of m16n8k32 is refused before it is timed."""
    monkeypatch.setattr(sys.modules[__name__], "_INT8_K_EMULATED", 16)
    with pytest.raises(RuntimeError, match="mma_sync_int8 check failed"):
        compute.run_mma(fake_ctx)
    assert "mma_sync_int8" not in {e["name"] for e in fake_ctx.entries}


def _sass(path, arch: str) -> str:
    """cuobjdump -sass of the cubin NVRTC builds from `path` (the binary the GPU would run)."""
    import ctypes
    import subprocess
    import tempfile

    from tests.support import aot

    lib = nvrtc.load_library()
    prog = ctypes.c_void_p()
    src, name = path.read_bytes(), path.name.encode()
    assert lib.nvrtcCreateProgram(ctypes.byref(prog), src, name, 0, None, None) == 0
    opts = [o.encode() for o in (*nvrtc.NVRTC_OPTIONS, f"--gpu-architecture={arch}")]
    assert lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts)) == 0
    size = ctypes.c_size_t()
    lib.nvrtcGetCUBINSize(prog, ctypes.byref(size))
    cubin = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetCUBIN(prog, cubin)
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin.raw)
        f.flush()
        out = subprocess.run([aot.cuobjdump(), "-sass", f.name], capture_output=True, text=True, check=True)
    return out.stdout


def _functions(sass: str) -> dict[str, str]:
    return dict(re.findall(r"Function : (\w+)\n(.*?)(?=\n\s*Function : |\Z)", sass, re.S))


@needs_nvrtc
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_the_mma_kernels_run_on_the_tensor_cores(arch):
    """The suite's own int8 roof is the hardware's: its kernel's SASS issues integer MMAs (IMMA), the
    fp16/bf16 ones HMMA, and the L2 sweep's loads bypass L1 (LDG...STRONG.GPU is ld.global.cg)."""
    funcs = _functions(_sass(HERE / "compute.cu", arch))
    assert re.search(r"\bIMMA\.16832\.S8\.S8", funcs["mma_sync_int8"]), funcs["mma_sync_int8"][:2000]
    for dt in ("fp16", "bf16"):
        assert re.search(r"\bHMMA\.16816\.F32", funcs[f"mma_sync_{dt}"])
        assert "IMMA" not in funcs[f"mma_sync_{dt}"]
    mem = _functions(_sass(HERE / "memory.cu", arch))
    assert re.search(r"LDG\.E\.128\.STRONG\.GPU", mem["cache_sweep_cg"])
    assert "STRONG.GPU" not in mem["cache_sweep"]
