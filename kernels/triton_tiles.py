"""What the Triton GEMM-like kernels share: host-side TMA descriptors where the installed Triton has
them, the grouped order of output tiles, and one autotuner per kernel and candidate list (GEMM, the
quantised matmuls)."""

import triton
import triton.language as tl

from gpubench.kernels.tiles import Tile

try:  # host-side TMA descriptors (triton 3.6 has them; older releases may not)
    from triton.tools.tensor_descriptor import TensorDescriptor
except ImportError:  # pragma: no cover - depends on the installed triton
    TensorDescriptor = None

HAS_TENSOR_DESCRIPTORS = TensorDescriptor is not None and hasattr(tl, "tensor_descriptor")

__all__ = ["HAS_TENSOR_DESCRIPTORS", "TensorDescriptor", "autotuned", "tile_coords"]


@triton.jit
def tile_coords(tile_id, num_pid_m, num_pid_n, GROUP_M: tl.constexpr):
    """(row tile, column tile) of `tile_id` in grouped order: down GROUP_M rows, then one column right,
    so that the tiles running together share rows of A and columns of B in L2."""
    per_group = GROUP_M * num_pid_n
    first_m = (tile_id // per_group) * GROUP_M
    rows = tl.minimum(num_pid_m - first_m, GROUP_M)  # the last group may be shorter
    return first_m + (tile_id % per_group) % rows, (tile_id % per_group) // rows


_AUTOTUNED: dict = {}


def autotuned(kernel, tiles: tuple[Tile, ...], key: tuple[str, ...], pre_hook=None):
    """`kernel` autotuned over `tiles` (kernels.tiles.Tile) on the arguments named in `key`: one
    autotuner per (kernel, tiles, key, pre_hook), created on first use and kept for the process."""
    cache_key = (kernel, tiles, key, pre_hook)
    if cache_key not in _AUTOTUNED:
        configs = [triton.Config(t.meta(), num_warps=t.num_warps, num_stages=t.num_stages, pre_hook=pre_hook)
                   for t in tiles]  # fmt: skip
        _AUTOTUNED[cache_key] = triton.autotune(configs=configs, key=list(key))(kernel)
    return _AUTOTUNED[cache_key]
