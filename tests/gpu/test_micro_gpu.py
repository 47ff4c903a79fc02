"""The micro-benchmarks on a GPU (run with `nox -s gpu`): each family runs (quick settings) and gives a
plausible figure. Bounds are only those that hold on any NVIDIA GPU: positive, finite, under 1.5x the
datasheet where one exists (a figure above its datasheet means the accounting is wrong), and orderings
that physics guarantees (L2 faster than DRAM, L1 latency below L2 below DRAM)."""

import math

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

OVER_DATASHEET = 1.5


@pytest.fixture(scope="module")
def ctx():
    from gpubench.bench.measure.device import device_info
    from gpubench.bench.micro.common import Context

    device = torch.device("cuda", torch.cuda.current_device())
    return Context(device, quick=True, device_info=device_info(device), echo=print)


def _run(ctx, family):
    import importlib

    from gpubench.bench.micro import FAMILIES

    before = len(ctx.entries)
    getattr(importlib.import_module(f"gpubench.bench.micro.{FAMILIES[family]}"), f"run_{family}")(ctx)
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    new = ctx.entries[before:]
    for e in new:
        assert e["value"] is not None and math.isfinite(e["value"]) and e["value"] > 0, e
        if e["datasheet"]:
            assert e["value"] < OVER_DATASHEET * e["datasheet"], f"{e['name']} above its datasheet: {e}"
        assert e["method"]
    return {e["name"]: e for e in new}


def test_dram(ctx):
    got = _run(ctx, "dram")
    assert set(got) == {"dram_read", "dram_write", "dram_copy", "dram_triad", "dram_copy_torch"}
    ratio = got["dram_copy"]["value"] / got["dram_copy_torch"]["value"]
    assert 0.5 <= ratio <= 1.1, f"our copy {got['dram_copy']['value']:.0f} GB/s vs torch copy_ ({ratio:.2f}x)"


def test_cache_and_smem(ctx):
    got = _run(ctx, "cache")
    assert "l2_bandwidth" in got
    points = ctx.cache_sweep
    assert len(points) >= 10
    dram = [p["gbs"] for p in points if p["level"] == "dram"]
    assert dram and got["l2_bandwidth"]["value"] > max(dram), "no L2 plateau above the DRAM points"
    assert all(p["ws_bytes"] >= 4 * ctx.l2_bytes for p in points if p["level"] == "dram")
    sheet = getattr(ctx.spec, "mem_bandwidth_gbs", None) if not getattr(ctx.spec, "derived", True) else None
    if sheet:  # a DRAM point at >= 4 x L2 gets no help from L2: never above the datasheet
        assert max(dram) <= 1.02 * sheet, f"DRAM sweep point {max(dram):.0f} GB/s over the datasheet {sheet}"
    plateau = got["l2_bandwidth"]["params"]["plateau"]
    print(f"L2 plateau: {plateau['summary']}")  # its flatness is a measurement, reported not asserted
    assert len(plateau["ws_bytes"]) >= 3
    smem = _run(ctx, "smem")
    assert smem["smem_bandwidth"]["value"] > 0


def test_fma(ctx):
    got = _run(ctx, "fma")
    assert set(got) == {"fma_fp32", "fma_fp64", "fma_f16x2"}
    assert got["fma_fp64"]["value"] <= 1.1 * got["fma_fp32"]["value"]  # no NVIDIA GPU has faster FP64


def test_mma_and_cublas(ctx):
    if torch.cuda.get_device_capability() < (8, 0):
        pytest.skip("mma.sync m16n8k16 and the TF32/bf16 tensor paths need sm_80+")
    mma = _run(ctx, "mma")  # the int8 kernel's check on known data ran first, or this raised
    assert set(mma) == {"mma_sync_fp16", "mma_sync_bf16", "mma_sync_int8"}
    blas = _run(ctx, "cublas")
    assert {"cublas_bf16", "cublas_fp16", "cublas_tf32"} <= set(blas)
    for e in [*mma.values(), *blas.values()]:  # burst and sustained, with the clocks of each window
        burst, sustained = e["params"]["burst"], e["params"]["sustained"]
        assert burst["rate"] > 0 and sustained["rate"] == pytest.approx(e["value"])
        assert sustained["load_s"] >= ctx.load_s
        print(f"{e['name']}: burst {burst['rate']:.0f} at {burst['sm_clock_mhz']} MHz, sustained "
              f"{sustained['rate']:.0f} at {sustained['sm_clock_mhz']} MHz")  # fmt: skip
    fp32 = next((e["value"] for e in ctx.entries if e["name"] == "fma_fp32"), None)  # if test_fma ran
    if fp32 is not None:  # tensor cores beat SIMT FP32 on every sm_80+ GPU; TF32 really was enabled
        assert blas["cublas_bf16"]["value"] > fp32
        assert blas["cublas_tf32"]["value"] > fp32


def test_launch(ctx):
    got = _run(ctx, "launch")
    assert {"launch_host", "empty_kernel_device"} <= set(got)
    for e in got.values():
        assert e["value"] < 1e-3  # seconds per launch
    empty = got["empty_kernel_device"]  # host time kept out: the committed runs read 17-31 us with gaps
    assert "launch_gaps" not in empty["flags"] and empty["value"] < 10e-6, empty


def test_latency(ctx):
    got = _run(ctx, "latency")
    cyc = {k: got[f"latency_{k}"]["params"]["cycles"] for k in ("l1", "l2", "dram")}
    assert cyc["l1"] < cyc["l2"] < cyc["dram"], cyc
    for e in got.values():
        mhz = e["params"]["implied_sm_clock_mhz"]
        assert 200 < mhz < 4000, f"{e['name']}: %clock64 / %globaltimer gives {mhz} MHz"


def test_transfer(ctx):
    got = _run(ctx, "transfer")
    assert set(got) == {"h2d_pinned", "d2h_pinned", "h2d_pageable", "d2h_pageable"}
    for e in got.values():
        assert e["value"] < 1000  # GB/s: beyond any host link


def test_sweep(ctx):
    from gpubench.bench.micro import sweep

    before = len(ctx.sweep)
    _run(ctx, "sweep")
    points = ctx.sweep[before:]
    assert len(points) == len(sweep.SWEEP_K) * len(sweep.ELEMENT_BYTES)
    spec = ctx.spec if ctx.spec is not None and not getattr(ctx.spec, "derived", False) else None
    for p in points:
        assert p["gflops"] > 0 and p["gbs"] > 0
        if spec is not None and spec.mem_bandwidth_gbs:
            assert p["gbs"] < OVER_DATASHEET * spec.mem_bandwidth_gbs, p
    fp32 = [p for p in points if p["dtype"] == "fp32"]
    assert fp32[-1]["gflops"] > fp32[0]["gflops"]  # more FLOPs per byte, more FLOP/s


def test_cli_writes_a_ceilings_file(tmp_path):
    from gpubench import results
    from gpubench.bench.commands.micro_cli import run_gpu

    out = tmp_path / "ceilings.json"
    assert run_gpu(["launch"], True, str(out)) == 0
    doc = results.read_ceilings(out)
    assert doc.ceilings.launch_overhead_s > 0
    assert doc.device.name == torch.cuda.get_device_name()
