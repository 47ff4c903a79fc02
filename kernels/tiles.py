"""The tile of a Triton matmul-like kernel (GEMM, the quantised matmuls): block sizes, grouped launch
order, warps, pipeline stages and split-K. Plain data: the config modules import neither torch nor
Triton."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Tile", "tile"]


@dataclass(frozen=True)
class Tile:
    block_m: int
    block_n: int
    block_k: int
    group_m: int  # row tiles per group in the grouped (L2-friendly) launch order
    num_warps: int
    num_stages: int
    split_k: int = 1  # programs sharing one output tile along K (the small-M int4 schedule)

    def meta(self) -> dict[str, int]:
        """The kernels' constexpr block sizes, by their names in the Triton sources."""
        return {"BLOCK_M": self.block_m, "BLOCK_N": self.block_n, "BLOCK_K": self.block_k,
                "GROUP_M": self.group_m}  # fmt: skip

    def launch_kwargs(self) -> dict[str, int]:
        """What a launch without the autotuner passes: the block sizes, warps and stages."""
        return {**self.meta(), "num_warps": self.num_warps, "num_stages": self.num_stages}


def tile(bm: int, bn: int, bk: int, warps: int, stages: int, group: int = 8, split_k: int = 1) -> Tile:
    """The tables' short form: block sizes, then warps and stages."""
    return Tile(bm, bn, bk, group, warps, stages, split_k)
