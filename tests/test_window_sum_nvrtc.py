"""Every run length the shared-memory window-sum kernel is compiled with (kernels/window_sum/config.py)
compiles with NVRTC for sm_90 without register spills, and the longest (the most registers) for sm_80
too; tests/test_nvrtc.py checks the source's default defines only."""

import pytest
import torch

from gpubench.bench.cpucheck import nvrtc
from gpubench.kernels.window_sum.config import config_for
from gpubench.kernels.window_sum.cupy_kernels import SOURCE, defines

try:
    nvrtc.load_library()
    HAVE_NVRTC = True
except nvrtc.NvrtcUnavailable:  # pragma: no cover - the test extra installs it
    HAVE_NVRTC = False

CFG = config_for(torch.device("cpu"))
CASES = [(s, "sm_90") for s in CFG.cuda_segments] + [(CFG.cuda_segments[-1], "sm_80")]


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_NVRTC, reason="NVRTC not installed (pip install nvidia-cuda-nvrtc)")
@pytest.mark.parametrize("seg,arch", CASES, ids=[f"seg{s.seg}-{a}" for s, a in CASES])
def test_every_run_length_compiles_without_spills(seg, arch):
    result = nvrtc.compile_file(SOURCE, arch, defines(CFG, seg))
    shared = {k.name: k for k in result.kernels if k.name.startswith("window_sum_shared_")}
    assert set(shared) == {f"window_sum_shared_{d}" for d in ("fp32", "fp16", "bf16")}, result.log
    assert not result.spills, f"register spills in {result.spills} ({arch}, {seg}):\n{result.log}"
    # 128 threads per block and no more than 80 registers leave room for six blocks of 32 KiB per SM.
    assert all(0 < k.registers <= 80 for k in shared.values()), [
        (k.name, k.registers) for k in shared.values()
    ]
