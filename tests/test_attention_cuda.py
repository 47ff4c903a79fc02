"""The CUDA C attention forward (kernels/attention/attention.cu): the launch plan, the NVRTC compile of every
instantiation (sm_80, sm_90: no spills, within 48 KiB of static shared memory), and its logic run on the
CPU through the host emulation of tests/test_softmax.py (a thread per CUDA thread, shuffles through warp
barriers) against the float64 reference in fp32, fp16 and bf16, with its LSE; a copy whose running
maximum does not rescale the accumulator, and one whose mask is off by one, must be rejected. Real
execution is for tests/gpu/test_attention_gpu.py."""

import subprocess

import pytest
import torch

from gpubench.bench.cpucheck import nvrtc
from gpubench.kernels.attention import WORKLOAD as ATT
from gpubench.kernels.attention import config, cupy_kernels
from gpubench.kernels.attention import shape_of as S
from gpubench.kernels.attention.reference import forward_f64
from tests.test_attention import SRC, assert_lse_close
from tests.test_softmax import CXX, EMU_HEADER, HAVE_NVRTC, REPO, needs_cxx

CPU = torch.device("cpu")
STORAGE = {"fp32": "float", "fp16": "f16", "bf16": "bf16"}

_MAIN = r"""
#include "emu_cuda.h"
#include "attention.cu"
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

template <class T, int D>
int run(long long nq, long long nk, int heads, int group, int sq, int sk, int m_tiles, int causal,
        float scale, unsigned grid, unsigned block) {
  std::vector<float> qf(nq), kf(nk), vf(nk);
  if (fread(qf.data(), 4, nq, stdin) != (size_t)nq || fread(kf.data(), 4, nk, stdin) != (size_t)nk ||
      fread(vf.data(), 4, nk, stdin) != (size_t)nk) return 3;
  std::vector<T> q(nq), k(nk), v(nk), o(nq);
  for (long long i = 0; i < nq; ++i) q[i] = from_float<T>(qf[i]);
  for (long long i = 0; i < nk; ++i) { k[i] = from_float<T>(kf[i]); v[i] = from_float<T>(vf[i]); }
  std::vector<float> lse(nq / D, -12345.f), of(nq);
  emu_launch(grid, block, [&] {
    attention_simt<T, D>(q.data(), k.data(), v.data(), o.data(), lse.data(), heads, group, sq, sk, m_tiles,
                         causal, scale);
  });
  for (long long i = 0; i < nq; ++i) of[i] = to_float(o[i]);
  fwrite(of.data(), 4, nq, stdout);
  fwrite(lse.data(), 4, lse.size(), stdout);
  return 0;
}

// usage: main DTYPE D NQ NK HEADS GROUP SQ SK M_TILES CAUSAL SCALE GRID BLOCK < q k v > o lse (float32)
int main(int argc, char** argv) {
  if (argc != 14) return 2;
  const std::string dt = argv[1];
  const int d = atoi(argv[2]);
  const long long nq = atoll(argv[3]), nk = atoll(argv[4]);
  const int a[] = {atoi(argv[5]), atoi(argv[6]), atoi(argv[7]), atoi(argv[8]), atoi(argv[9]), atoi(argv[10])};
  const float scale = (float)atof(argv[11]);
  const unsigned grid = atoi(argv[12]), block = atoi(argv[13]);
#define GPUBENCH_RUN(T, NAME, D) \
  if (dt == #NAME && d == D) return run<T, D>(nq, nk, a[0], a[1], a[2], a[3], a[4], a[5], scale, grid, block);
  GPUBENCH_RUN(float, fp32, 32) GPUBENCH_RUN(float, fp32, 64) GPUBENCH_RUN(f16, fp16, 32)
  GPUBENCH_RUN(bf16, bf16, 32) GPUBENCH_RUN(f16, fp16, 128)
  return 4;
}
"""


def build(tmp_path, source: str):
    (tmp_path / "emu_cuda.h").write_text(EMU_HEADER)
    (tmp_path / "attention.cu").write_text(source)
    main = tmp_path / "attention_main.cpp"
    main.write_text(_MAIN)
    exe = tmp_path / "attention_main"
    cmd = [CXX, "-std=c++20", "-O1", "-pthread", "-w", f"-I{tmp_path}",
           f"-I{REPO / 'tests' / 'support' / 'cuda_host'}", str(main), "-o", str(exe)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return exe


def emulate(exe, q, k, v, causal, dtype):
    """Launch the emulated kernel exactly as cupy_kernels.forward would on a GPU: (O, LSE)."""
    b, h, sq, d = q.shape
    kvh, sk = k.shape[1], k.shape[2]
    p = cupy_kernels.plan(dtype, b, h, sq, d)
    args = [dtype, d, q.numel(), k.numel(), h, h // kvh, sq, sk, p.m_tiles, int(causal), repr(p.qk_scale),
            p.grid[0], p.block[0]]  # fmt: skip
    data = b"".join(t.float().contiguous().numpy().tobytes() for t in (q, k, v))
    proc = subprocess.run([str(exe), *map(str, args)], input=data, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = torch.frombuffer(bytearray(proc.stdout), dtype=torch.float32)
    return out[: q.numel()].view(q.shape), out[q.numel() :].view(b, h, sq)


@pytest.fixture(scope="module")
def exe(tmp_path_factory):
    if CXX is None:
        pytest.skip("needs g++ (C++20) to build the CUDA host emulation")
    return build(tmp_path_factory.mktemp("attn_emu"), (SRC / "attention.cu").read_text())


CASES = [  # (shape, dtype): ragged query tiles (32 rows) and key tiles (16 keys), GQA, no-key rows
    (S(1, 2, 1, 45, 17, 32, 1), "fp32"),
    (S(2, 2, 2, 37, 37, 32, 1), "fp32"),
    (S(1, 2, 2, 19, 70, 64, 1), "fp32"),
    (S(1, 4, 2, 33, 50, 32, 0), "fp16"),
    (S(1, 2, 1, 5, 40, 32, 1), "bf16"),
    (S(1, 1, 1, 20, 24, 128, 0), "fp16"),
]


@pytest.mark.slow
@needs_cxx
@pytest.mark.parametrize("shape,dtype", CASES, ids=[f"{s['seq_q']}x{s['seq_k']}-{d}" for s, d in CASES])
def test_emulated_kernel_matches_reference(exe, shape, dtype):
    q, k, v, causal = ATT.make_inputs(shape, "fp16" if dtype == "fp32" else dtype, CPU, seed=shape["seq_q"])
    if dtype == "fp32":
        q, k, v = q.float(), k.float(), v.float()
    o, lse = emulate(exe, q, k, v, causal, dtype)
    o64, lse64 = forward_f64(q, k, v, causal)
    if dtype == "fp32":
        torch.testing.assert_close(o.double(), o64, atol=2e-6, rtol=1e-5)
    else:
        ATT.check(o.to(q.dtype), o64.to(q.dtype), dtype)
    assert_lse_close(lse, lse64, atol=2e-5)


@needs_cxx
@pytest.mark.slow
@pytest.mark.parametrize("edit", [
    ("    for (int c = 0; c < COLS; ++c) acc[c] *= alpha;\n", "\n"),
    ("j <= i + offset", "j < i + offset"),
], ids=["no_rescale", "mask_off_by_one"])  # fmt: skip
def test_wrong_cuda_kernels_are_caught(tmp_path, edit):
    text = (SRC / "attention.cu").read_text()
    assert edit[0] in text, "update the mutation"
    bad = build(tmp_path, text.replace(edit[0], edit[1]))
    shape = S(2, 2, 2, 37, 37, 32, 1)
    q, k, v, causal = ATT.make_inputs(shape, "fp16", CPU, seed=1)
    o, _ = emulate(bad, q, k, v, causal, "fp16")
    with pytest.raises(AssertionError):
        ATT.check(o.to(q.dtype), ATT.reference(q, k, v, causal), "fp16")


def test_plan():
    p = cupy_kernels.plan("bf16", 2, 16, 1000, 128)
    assert p.kernel == "attention_simt_bf16_d128" and p.block == (config.CUDA_THREADS,)
    assert p.m_tiles == 32 and p.grid == (32 * 2 * 16,)
    with pytest.raises(ValueError, match="head_dim 256"):
        cupy_kernels.plan("fp16", 1, 1, 8, 256)


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_NVRTC, reason="NVRTC not installed (pip install nvidia-cuda-nvrtc)")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_nvrtc_compiles_every_instantiation_within_static_shared_memory(arch):
    result = nvrtc.compile_file(cupy_kernels.SOURCE, arch)
    compiled = {k.name: k for k in result.kernels}
    for suffix in ("fp32", "fp16", "bf16"):
        for d in config.CUDA_HEAD_DIMS:
            k = compiled[f"attention_simt_{suffix}_d{d}"]
            assert k.spill_stores == 0 and k.spill_loads == 0 and 0 < k.registers <= 255, k
            assert k.smem_bytes <= 48 * 1024, k
