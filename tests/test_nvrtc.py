"""Every CUDA C source compiles with NVRTC for sm_80 and sm_90, with no register spills."""

import pytest

from gpubench.bench.cpucheck import nvrtc

pytestmark = pytest.mark.slow  # NVRTC compiles of every CUDA source for sm_80 and sm_90

try:
    nvrtc.load_library()
    HAVE_NVRTC = True
except nvrtc.NvrtcUnavailable as exc:  # pragma: no cover - the test extra installs it
    HAVE_NVRTC, WHY = False, str(exc)

needs_nvrtc = pytest.mark.skipif(not HAVE_NVRTC, reason="NVRTC not installed (pip install nvidia-cuda-nvrtc)")
SOURCES = nvrtc.cuda_sources()


def test_sources_found():
    names = {p.name for p in SOURCES}
    assert {"vector_add.cu", "window_sum.cu"} <= names


@needs_nvrtc
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_compiles_without_spills(path, arch):
    result = nvrtc.compile_file(path, arch)
    assert result.cubin_bytes > 0
    assert result.kernels, f"ptxas reported no kernels for {path.name}:\n{result.log}"
    assert not result.spills, f"register spills in {result.spills} ({arch}):\n{result.log}"
    for k in result.kernels:
        assert 0 < k.registers <= 255


@needs_nvrtc
def test_compile_error_is_reported(tmp_path):
    bad = tmp_path / "bad.cu"
    bad.write_text('extern "C" __global__ void k(float* x) { x[0] = undefined_name; }\n')
    with pytest.raises(nvrtc.CompileError, match="undefined_name"):
        nvrtc.compile_file(bad, "sm_90")


def test_parse_ptxas_report():
    log = """ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'k1' for 'sm_90'
ptxas info    : Function properties for k1
ptxas         .     16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
ptxas info    : Used 40 registers, used 1 barriers, 2048 bytes smem
ptxas info    : Compiling entry function 'k2' for 'sm_90'
ptxas info    : Function properties for k2
ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 12 registers
"""
    k1, k2 = nvrtc.parse_ptxas_report(log)
    assert (k1.name, k1.registers, k1.spill_stores, k1.spill_loads, k1.stack_bytes, k1.smem_bytes) == (
        "k1",
        40,
        8,
        4,
        16,
        2048,
    )
    assert (k2.name, k2.registers, k2.spill_stores, k2.smem_bytes) == ("k2", 12, 0, 0)
