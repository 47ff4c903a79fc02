"""What the Triton GEMM-like kernels share: host-side TMA descriptors where the installed Triton has
them, and the grouped order of output tiles (GEMM, the quantised matmuls)."""

import triton
import triton.language as tl

try:  # host-side TMA descriptors (triton 3.6 has them; older releases may not)
    from triton.tools.tensor_descriptor import TensorDescriptor
except ImportError:  # pragma: no cover - depends on the installed triton
    TensorDescriptor = None

HAS_TENSOR_DESCRIPTORS = TensorDescriptor is not None and hasattr(tl, "tensor_descriptor")

__all__ = ["HAS_TENSOR_DESCRIPTORS", "TensorDescriptor", "tile_coords"]


@triton.jit
def tile_coords(tile_id, num_pid_m, num_pid_n, GROUP_M: tl.constexpr):
    """(row tile, column tile) of `tile_id` in grouped order: down GROUP_M rows, then one column right,
    so that the tiles running together share rows of A and columns of B in L2."""
    per_group = GROUP_M * num_pid_n
    first_m = (tile_id // per_group) * GROUP_M
    rows = tl.minimum(num_pid_m - first_m, GROUP_M)  # the last group may be shorter
    return first_m + (tile_id % per_group) % rows, (tile_id % per_group) // rows
