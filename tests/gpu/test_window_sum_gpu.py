"""Window sum on the GPU with NaN, inf and huge values (run with `nox -s gpu`): every variant, compiled
Triton and the CUDA C kernels included, through the checks of tests/test_window_sum_exact.py, at a size
of hundreds of tiles with specials on the tile edges of both blocked kernels, and at a radius that sends
the shared-memory kernel to its global-memory path. Plain inputs at every shape are in test_basic_gpu.py."""

import pytest
import torch

from gpubench import kernels
from gpubench.kernels import compiled
from tests.test_window_sum_exact import Case, cases, check_exact, make_input

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

W = kernels.get("window_sum")
N = (1 << 20) + 3
RADII = (1, 4, 8, 16, 64)
FAR = 5000  # the staged span no longer fits in shared memory: the kernel reads global memory


def tile_edges(n: int) -> Case:
    """Specials next to the tile edges: 2048 (Triton), 3584 / 3840 / 3968 / 4096 (CUDA, per run length)."""
    return Case(
        "tile-edges",
        nan=(2047, 3584, 7936, n - 4096),
        pinf=(3839, 3 * 4096, 10 * 3968),
        ninf=(4096, 6 * 2048 + 1, 5 * 3584),
    )


def _params():
    for vname, v in W.variants.items():
        # each radius is a compile of its own (tests/support/gpu_cases.py)
        radii = RADII[:1] if compiled.is_compiled(v) else RADII
        for dtype in W.dtypes:
            for radius in radii:
                yield pytest.param(vname, dtype, radius, id=f"{vname}-{dtype}-r{radius}")
        if not compiled.is_compiled(v):
            yield pytest.param(vname, "fp32", FAR, id=f"{vname}-fp32-r{FAR}")


@pytest.mark.parametrize("vname,dtype,radius", list(_params()))
def test_exact_on_special_values(vname, dtype, radius):
    v = W.variant(vname)
    device = torch.device("cuda")
    reason = v.skip_reason(device, {"n": N, "radius": radius}, dtype)
    if reason:
        pytest.skip(reason)
    for case in [*cases(N, radius), tile_edges(N)]:
        if case.huge and dtype == "fp16":
            continue  # 1e20 is no fp16 value
        x = make_input(case, N, dtype, device)
        check_exact(v.fn(x, radius), x, radius, case, dtype)


@pytest.mark.parametrize("radius", [1, 16])
def test_misaligned_view_takes_the_scalar_path(radius):
    from gpubench.kernels.window_sum.cupy_kernels import window_sum_shared

    case = cases(N, radius)[0]
    x = make_input(case, N, "fp32", torch.device("cuda"))
    base = torch.empty(N + 1, device="cuda")
    base[1:] = x
    view = base[1:]  # 4 bytes past the allocation's alignment
    check_exact(window_sum_shared(view, radius), view, radius, case, "fp32")
