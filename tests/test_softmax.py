"""softmax specifics: both Triton paths in the interpreter on ragged shapes, large magnitudes, -inf and
fully masked rows as torch, wrong kernels rejected, bad inputs, the launch plans, and the CUDA C kernels
run on the CPU through a thread-per-CUDA-thread emulator that also emulates warp shuffles. The Triton
kernels compiled for the GPU: tests/test_compile_gate.py.

The helper `EmulatedCuda` (the CUDA host emulation) is shared with tests/test_norms.py.
"""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import importlib  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
import triton  # noqa: E402
import triton.language as tl  # noqa: E402

from gpubench.bench.measure.correctness import CorrectnessError, check_variant  # noqa: E402
from gpubench.dtypes import kernel_suffix  # noqa: E402
from gpubench.kernels.fusion import fusion_bytes  # noqa: E402
from gpubench.kernels.softmax import WORKLOAD, config  # noqa: E402
from gpubench.kernels.softmax import cupy_kernels as sm_cuda  # noqa: E402
from gpubench.kernels.softmax import triton_kernels as sm_triton  # noqa: E402
from gpubench.kernels.workload import (
    Variant,  # noqa: E402
    torch_dtype,  # noqa: E402
)

CPU = torch.device("cpu")
REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's inf - inf in the interpreter

# Configs that force each Triton path at small sizes: a tiny single-pass limit with several rows per
# program, and an online chunk of 64 columns (many chunks, a ragged last one).
SINGLE = config.SoftmaxConfig(
    single_pass_max_cols=1 << 16,
    tile_elems=512,
    warps_by_tile=((0, 4),),
    online_chunk=64,
    online_warps=4,
    cuda_warp_max_cols=1024,
    cuda_warps_per_block=4,
    cuda_block_menu=config.CPU.cuda_block_menu,
    cuda_stream_threads=1024,
)
ONLINE = config.SoftmaxConfig(**{**SINGLE.__dict__, "single_pass_max_cols": 0})  # never single pass
RAGGED = [(1, 1), (2, 7), (13, 33), (5, 100), (3, 257), (1, 1000)]


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
@pytest.mark.parametrize("cfg", [SINGLE, ONLINE], ids=["single", "online"])
def test_both_paths_on_ragged_shapes(cfg, dtype):
    for rows, cols in RAGGED:
        (x,) = WORKLOAD.make_inputs({"rows": rows, "cols": cols}, dtype, CPU, seed=rows * cols)
        assert sm_triton.plan(cols, cfg)["path"] == ("single" if cfg is SINGLE else "online")
        WORKLOAD.check(sm_triton.softmax_with_config(x, cfg), WORKLOAD.reference(x), dtype)


def test_default_cpu_config_takes_both_paths_on_test_shapes():
    paths = {sm_triton.plan(s["cols"], config.CPU)["path"] for s in WORKLOAD.shapes["test"]}
    assert paths == {"single", "online"}
    gpu = config._BY_MAJOR[9]  # with CUDA 12's ptxas (Triton 3.6, the GPU machines' build)
    assert sm_triton.plan(32768, gpu)["path"] == "single"
    assert sm_triton.plan(32769, gpu)["path"] == "online"
    newer = config._CUDA13_PTXAS[9]  # with CUDA 13's (Triton 3.7 on): rows above 8192 spill on chip
    assert sm_triton.plan(8192, newer)["path"] == "single" and sm_triton.plan(8193, newer)["path"] == "online"
    assert sm_triton.plan(70000, gpu)["path"] == "online"
    # short rows are packed several per program
    assert sm_triton.plan(100, gpu)["ROWS"] == gpu.tile_elems // 128


def _rows_sum_to_one(out, tol):
    sums = out.double().sum(dim=-1)
    assert torch.all((sums - 1).abs() <= tol), sums


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
@pytest.mark.parametrize("cfg", [SINGLE, ONLINE, None], ids=["single", "online", "default"])
def test_large_magnitudes_are_stable(cfg, dtype):
    """Inputs of +-1e4 (and a row of 1e4 + small offsets): no overflow, no NaN, rows sum to 1."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 301, generator=g) * 1e4
    x[1] = 1e4 + torch.randn(301, generator=g)  # all huge and close: exp(x) alone overflows
    x[2] = -1e4 + torch.randn(301, generator=g)  # all very negative: exp(x) alone underflows to 0
    x[3, ::2] = 1e4
    x[3, 1::2] = -1e4
    x = x.to(torch_dtype(dtype))
    out = sm_triton.softmax(x) if cfg is None else sm_triton.softmax_with_config(x, cfg)
    assert not torch.isnan(out).any()
    _rows_sum_to_one(out, WORKLOAD.tolerances[dtype].rtol)
    WORKLOAD.check(out, WORKLOAD.reference(x), dtype)
    for v in ("torch", "unfused"):
        WORKLOAD.check(WORKLOAD.variant(v).fn(x), WORKLOAD.reference(x), dtype)


def _masked_input(dtype, cols=300):
    inf = float("inf")
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, cols, generator=g)
    x[0, ::3] = -inf  # some -inf entries: exactly 0 there
    x[1] = -inf  # fully masked: NaN everywhere, as torch
    x[2, :-1] = -inf  # a single live column: exactly 1 there
    x[3, 5] = inf  # +inf: NaN everywhere (inf - inf), as torch
    x[4, -1] = -inf  # the last (ragged) column masked
    return x.to(torch_dtype(dtype))


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
@pytest.mark.parametrize("cfg", [SINGLE, ONLINE], ids=["single", "online"])
def test_infinities_behave_as_torch(cfg, dtype):
    x = _masked_input(dtype)
    out = sm_triton.softmax_with_config(x, cfg)
    expected = torch.softmax(x, dim=-1)  # torch in the same dtype, not only the float64 reference
    assert torch.equal(torch.isnan(out), torch.isnan(expected))
    assert torch.isnan(out[1]).all() and torch.isnan(out[3]).all()
    assert not torch.isnan(out[[0, 2, 4, 5]]).any()
    assert (out[0, ::3] == 0).all() and out[2, -1] == 1 and (out[2, :-1] == 0).all()
    WORKLOAD.check(out, WORKLOAD.reference(x), dtype)
    for v in ("torch", "unfused"):
        WORKLOAD.check(WORKLOAD.variant(v).fn(x), WORKLOAD.reference(x), dtype)


def test_workload_check_demands_the_nan_pattern():
    x = _masked_input("fp32")
    ref = WORKLOAD.reference(x)
    with pytest.raises(AssertionError, match="NaN pattern"):
        WORKLOAD.check(torch.nan_to_num(ref), ref, "fp32")  # NaN hidden as 0: rejected
    bad = ref.clone()
    bad[0, 1] = float("nan")
    with pytest.raises(AssertionError, match="unexpected NaN"):
        WORKLOAD.check(bad, ref, "fp32")


# ---- wrong kernels must be rejected ------------------------------------------------------------------


@triton.jit
def _no_max_kernel(x_ptr, out_ptr, n_cols, BLOCK: tl.constexpr):
    """Deliberately wrong: softmax without subtracting the row max (overflows for large inputs)."""
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=0.0).to(tl.float32)
    e = tl.where(mask, tl.exp(x), 0.0)
    tl.store(out_ptr + row * n_cols + cols, (e / tl.sum(e, axis=0)).to(out_ptr.dtype.element_ty), mask=mask)


def _softmax_without_max(x):
    out = torch.empty_like(x)
    _no_max_kernel[(x.shape[0],)](x, out, x.shape[1], BLOCK=triton.next_power_of_2(x.shape[1]))
    return out


def test_softmax_without_max_subtraction_is_caught():
    x = (torch.randn(4, 100, generator=torch.Generator().manual_seed(3)) * 1e4).contiguous()
    ref = WORKLOAD.reference(x)
    out = _softmax_without_max(x)
    assert torch.isnan(out).any()  # exp(1e4) = inf, inf / inf = NaN
    with pytest.raises(AssertionError):
        WORKLOAD.check(out, ref, "fp32")
    # it is right for small inputs: the check's verdict comes from the overflow, not from a bug elsewhere
    x = torch.randn(4, 100, generator=torch.Generator().manual_seed(3))
    WORKLOAD.check(_softmax_without_max(x), WORKLOAD.reference(x), "fp32")


@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
def test_dropped_column_is_rejected(dtype):
    """Normalising over all but the last column (an off-by-one in the mask) must fail the check."""

    def off_by_one(x):
        out = torch.zeros_like(x)
        out[:, :-1] = sm_triton.softmax(x[:, :-1].contiguous())
        return out

    with pytest.raises(CorrectnessError, match="differs from the reference"):
        check_variant(
            WORKLOAD, Variant("off_by_one", "triton", off_by_one), {"rows": 9, "cols": 1025}, dtype, CPU
        )


def test_row_relative_atol_sees_errors_in_long_rows():
    """An absolute atol of 1e-6 would accept an all-zero output of a 10^6-column row; ours does not."""
    x = torch.randn(1, 1 << 20, generator=torch.Generator().manual_seed(4))
    ref = WORKLOAD.reference(x)
    with pytest.raises(AssertionError):
        WORKLOAD.check(torch.zeros_like(ref), ref, "fp32")
    with pytest.raises(AssertionError):
        WORKLOAD.check(ref * 1.001, ref, "fp32")


# ---- inputs, accounting, bad input --------------------------------------------------------------------


def test_bytes_flops_and_fusion_by_hand():
    s = {"rows": 4096, "cols": 4096}
    assert WORKLOAD.bytes(s, "fp32") == 2 * 4096 * 4096 * 4
    assert WORKLOAD.bytes(s, "bf16") == 2 * 4096 * 4096 * 2
    assert WORKLOAD.flops(s) == 5 * 4096 * 4096
    for shape in WORKLOAD.shapes["bench"]:
        for dt in WORKLOAD.dtypes:
            assert WORKLOAD.bytes(shape, dt) == fusion_bytes("softmax", shape, dt)["fused_bytes"]
    assert WORKLOAD.details(s, "fp32")["fusion"]["ratio"] == pytest.approx(4.00048828125)


def test_quick_shapes_are_bench_shapes():
    assert all(s in WORKLOAD.shapes["bench"] for s in WORKLOAD.shapes["quick"])


def test_empty_input():
    assert sm_triton.softmax(torch.empty(0, 5)).shape == (0, 5)
    assert sm_triton.softmax(torch.empty(3, 0)).shape == (3, 0)


def test_bad_inputs_get_clear_errors():
    with pytest.raises(ValueError, match="2-D"):
        sm_triton.softmax(torch.randn(8))
    with pytest.raises(ValueError, match="2-D"):
        sm_triton.softmax(torch.randn(2, 3, 4))
    with pytest.raises(TypeError, match="dtype"):
        sm_triton.softmax(torch.arange(12).reshape(3, 4))
    with pytest.raises(TypeError, match="dtype"):
        sm_triton.softmax(torch.randn(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="contiguous"):
        sm_triton.softmax(torch.randn(4, 6).t())
    with pytest.raises(TypeError, match="torch.Tensor"):
        sm_triton.softmax([[1.0, 2.0]])
    with pytest.raises(TypeError, match="dtype"):
        WORKLOAD.variant("unfused").fn(torch.arange(4).reshape(2, 2))
    with pytest.raises(ValueError, match="needs a cuda tensor"):
        sm_cuda.softmax(torch.randn(2, 4))
    assert "CUDA device" in WORKLOAD.variant("cuda").skip_reason(CPU, {"rows": 2, "cols": 4}, "fp32")


def test_cuda_plan_boundaries():
    cfg = config._BY_MAJOR[9]
    assert sm_cuda.plan(1, cfg)[0] == "softmax_warp_i1"
    assert sm_cuda.plan(33, cfg)[0] == "softmax_warp_i2"
    assert sm_cuda.plan(1024, cfg) == (
        "softmax_warp_i32",
        32 * cfg.cuda_warps_per_block,
        cfg.cuda_warps_per_block,
    )
    assert sm_cuda.plan(1025, cfg) == ("softmax_block_t256_i8", 256, 1)
    assert sm_cuda.plan(4097, cfg) == ("softmax_block_t512_i16", 512, 1)
    assert sm_cuda.plan(8192, cfg)[0] == "softmax_block_t512_i16"
    assert sm_cuda.plan(8193, cfg) == ("softmax_stream_t1024", 1024, 1)
    assert cfg.cuda_warps_per_block * 32 <= 256  # the warp kernels' __launch_bounds__


# ---- NVRTC: every kernel the launcher can pick is compiled, without spills ----------------------------

try:
    from gpubench.bench.cpucheck import nvrtc

    nvrtc.load_library()
    HAVE_NVRTC = True
except Exception:  # pragma: no cover - the nvrtc extra installs it
    HAVE_NVRTC = False
needs_nvrtc = pytest.mark.skipif(not HAVE_NVRTC, reason="NVRTC not installed (pip install nvidia-cuda-nvrtc)")


def planned_cuda_kernels(plan_fn, cols_list, configs):
    names = set()
    for cfg in configs:
        for cols in cols_list:
            names.add(plan_fn(cols)[0] if cfg is None else plan_fn(cols, cfg)[0])
    return names


@pytest.mark.slow
@needs_nvrtc
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_nvrtc_has_every_planned_kernel_without_spills(arch):
    result = nvrtc.compile_file(sm_cuda.SOURCE, arch)
    compiled = {k.name: k for k in result.kernels}
    cols = [1, 7, 32, 33, 100, 1000, 1024, 1025, 2048, 2049, 4096, 4097, 8192, 8193, 70000]
    configs = [config._DEFAULT, *config._BY_MAJOR.values()]
    for name in planned_cuda_kernels(sm_cuda.plan, cols, configs):
        for suffix in ("fp32", "fp16", "bf16"):
            k = compiled[f"{name}_{suffix}"]
            assert k.spill_stores == 0 and k.spill_loads == 0 and 0 < k.registers <= 255, k


# ---- CUDA C on the CPU: a thread per CUDA thread, warp shuffles through per-warp barriers ---------------

EMU_HEADER = r"""
// Runs CUDA C kernels on the CPU for logic tests (tests/test_softmax.py): one OS thread per CUDA thread,
// blocks one after another, __syncthreads a block barrier, __shfl_xor_sync an exchange through a slot
// per thread between two barriers of the warp. Static __shared__ arrays become function statics, which
// the (sequential) blocks share as a block shares shared memory.
#pragma once
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

struct dim3 { unsigned x = 1, y = 1, z = 1; };
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline std::barrier<>* emu_block_barrier = nullptr;
inline std::vector<std::unique_ptr<std::barrier<>>> emu_warp_barriers;
inline float emu_slots[1024];

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __align__(n) alignas(n)
#define __shared__ static
#define __launch_bounds__(n)

inline void __syncthreads() { emu_block_barrier->arrive_and_wait(); }
inline float __shfl_xor_sync(unsigned, float v, int o) {
  const unsigned t = threadIdx.x;
  auto& bar = *emu_warp_barriers[t / 32];
  emu_slots[t] = v;
  bar.arrive_and_wait();
  const float r = emu_slots[t ^ (unsigned)o];
  bar.arrive_and_wait();
  return r;
}
inline float __expf(float x) { return std::exp(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
inline float __int_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }

inline void emu_launch(unsigned grid, unsigned block, const std::function<void()>& body) {
  gridDim.x = grid;
  blockDim.x = block;
  for (unsigned b = 0; b < grid; ++b) {
    std::barrier<> bar(block);
    emu_block_barrier = &bar;
    emu_warp_barriers.clear();
    for (unsigned w = 0; w < (block + 31) / 32; ++w)
      emu_warp_barriers.push_back(std::make_unique<std::barrier<>>(32));
    std::vector<std::thread> threads;
    threads.reserve(block);
    for (unsigned t = 0; t < block; ++t)
      threads.emplace_back([&, t, b] {
        threadIdx.x = t;
        blockIdx.x = b;
        body();
      });
    for (auto& th : threads) th.join();
  }
}
"""

_EMU_MAIN = r"""
#include "emu_cuda.h"
#include "{cu}"
#include <cstdio>
#include <cstdlib>
#include <string>

template <class T> std::vector<T> conv(const std::vector<float>& v) {{
  std::vector<T> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = from_float<T>(v[i]);
  return r;
}}
template <class T> void emit(const std::vector<T>& y) {{
  std::vector<float> f(y.size());
  for (size_t i = 0; i < y.size(); ++i) f[i] = to_float(y[i]);
  fwrite(f.data(), 4, f.size(), stdout);
}}

// usage: main KERNEL ROWS COLS GRID BLOCK EPS N_PARAMS < x [w [b]] (float32) > y (float32)
int main(int argc, char** argv) {{
  if (argc != 8) return 2;
  const std::string name = argv[1];
  const long long rows = atoll(argv[2]), cols = atoll(argv[3]);
  const unsigned grid = atoi(argv[4]), block = atoi(argv[5]);
  const float eps = (float)atof(argv[6]);
  const int n_params = atoi(argv[7]);
  std::vector<float> xf(rows * cols), wf(cols), bf(cols);
  if (fread(xf.data(), 4, xf.size(), stdin) != xf.size()) return 3;
  if (n_params >= 1 && fread(wf.data(), 4, wf.size(), stdin) != wf.size()) return 3;
  if (n_params >= 2 && fread(bf.data(), 4, bf.size(), stdin) != bf.size()) return 3;
  (void)eps;
{cases}
  return 4;
}}
"""

_EMU_CASE = """  if (name == "{name}") {{
    auto x = conv<{T}>(xf);
    auto w = conv<{T}>(wf);
    auto b = conv<{T}>(bf);
    std::vector<{T}> y(rows * cols);
    (void)w; (void)b;
    emu_launch(grid, block, [&] {{ {name}({args}); }});
    emit(y);
    return 0;
  }}
"""

CXX = shutil.which("g++")
needs_cxx = pytest.mark.skipif(CXX is None, reason="needs g++ (C++20) to build the CUDA host emulation")
STORAGE = {"fp32": "float", "fp16": "f16", "bf16": "bf16"}


class EmulatedCuda:
    """A .cu file built for the CPU with EMU_HEADER; `run` launches one of its kernels."""

    def __init__(self, cu: Path, kernels: dict[str, str], workdir: Path):
        """kernels: name -> C++ argument list over x, w, b, y (vectors), rows, cols, eps."""
        (workdir / "emu_cuda.h").write_text(EMU_HEADER)
        cases = "".join(
            _EMU_CASE.format(name=name, T=STORAGE[name.rsplit("_", 1)[1]], args=args)
            for name, args in kernels.items()
        )
        main = workdir / f"{cu.stem}_main.cpp"
        main.write_text(_EMU_MAIN.format(cu=cu.name, cases=cases))
        self.exe = workdir / f"{cu.stem}_main"
        cmd = [CXX, "-std=c++20", "-O1", "-pthread", "-w", f"-I{workdir}", f"-I{cu.parent}"]
        cmd += [f"-I{REPO / 'tests' / 'support' / 'cuda_host'}", str(main), "-o", str(self.exe)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.fail(f"host build of {cu.name} failed:\n{proc.stderr[-4000:]}")

    def run(self, name, x, grid, block, params=(), eps=0.0):
        rows, cols = x.shape
        data = b"".join(t.detach().float().contiguous().numpy().tobytes() for t in (x, *params))
        argv = [
            str(self.exe),
            name,
            str(rows),
            str(cols),
            str(grid),
            str(block),
            repr(float(eps)),
            str(len(params)),
        ]
        proc = subprocess.run(argv, input=data, capture_output=True, timeout=300)
        assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
        return torch.frombuffer(bytearray(proc.stdout), dtype=torch.float32).reshape(rows, cols)


def _softmax_emu_kernels():
    names = {}
    for suffix in ("fp32", "fp16", "bf16"):
        for items in sm_cuda.WARP_ITEMS:
            names[f"softmax_warp_i{items}_{suffix}"] = "x.data(), y.data(), rows, (int)cols"
        for threads, items in config.CPU.cuda_block_menu:
            names[f"softmax_block_t{threads}_i{items}_{suffix}"] = "x.data(), y.data(), (int)cols"
        names[f"softmax_stream_t{config.CPU.cuda_stream_threads}_{suffix}"] = "x.data(), y.data(), cols"
    return names


@pytest.fixture(scope="module")
def softmax_emu(tmp_path_factory):
    if CXX is None:
        pytest.skip("needs g++ (C++20) to build the CUDA host emulation")
    return EmulatedCuda(sm_cuda.SOURCE, _softmax_emu_kernels(), tmp_path_factory.mktemp("softmax_emu"))


def _emu_softmax(emu, x, name=None, threads=None):
    """What cupy_kernels.softmax launches (the plan of the GPU config), or a named kernel."""
    n_rows, n_cols = x.shape
    if name is None:
        name, threads, per_block = sm_cuda.plan(n_cols, config._BY_MAJOR[9])
    else:
        per_block = threads // 32 if name.startswith("softmax_warp") else 1
    suffix = kernel_suffix(x.dtype)
    grid = (n_rows + per_block - 1) // per_block
    return emu.run(f"{name}_{suffix}", x, grid, threads).to(x.dtype)


@pytest.mark.slow
@needs_cxx
@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
def test_cuda_kernels_emulated_on_planned_shapes(softmax_emu, dtype):
    # warp kernels (1, 7, 100, 1000), block kernels (1025, 2500, 5000), the streaming kernel (9000)
    for rows, cols in [(3, 1), (9, 7), (6, 100), (5, 1000), (2, 1025), (2, 2500), (1, 5000), (2, 9000)]:
        (x,) = WORKLOAD.make_inputs({"rows": rows, "cols": cols}, dtype, CPU, seed=cols)
        WORKLOAD.check(_emu_softmax(softmax_emu, x), WORKLOAD.reference(x), dtype)


@pytest.mark.slow
@needs_cxx
@pytest.mark.parametrize(
    "name,threads",
    [("softmax_warp_i32", 128), ("softmax_block_t256_i8", 256), ("softmax_stream_t1024", 1024)],
)
def test_cuda_kernels_emulated_with_infinities_and_large_values(softmax_emu, name, threads):
    x = _masked_input("fp32", cols=300)
    x[5] = torch.linspace(-1e4, 1e4, 300)
    out = _emu_softmax(softmax_emu, x, name, threads)
    expected = torch.softmax(x, dim=-1)
    assert torch.equal(torch.isnan(out), torch.isnan(expected))
    WORKLOAD.check(out, WORKLOAD.reference(x), "fp32")


@pytest.mark.slow
@needs_cxx
def test_cuda_stream_kernel_emulated_on_short_rows(softmax_emu):
    """The streaming kernel with fewer columns than threads (idle threads merge empty states)."""
    for cols in (1, 7, 1000, 4099):
        (x,) = WORKLOAD.make_inputs({"rows": 2, "cols": cols}, "fp32", CPU, seed=cols)
        WORKLOAD.check(
            _emu_softmax(softmax_emu, x, "softmax_stream_t1024", 1024), WORKLOAD.reference(x), "fp32"
        )


def test_module_imports_without_cupy():
    importlib.import_module("gpubench.kernels.softmax.cupy_kernels")
