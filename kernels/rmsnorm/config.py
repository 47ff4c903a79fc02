"""Tuning knobs for RMSNorm, per architecture (compute capability major): LayerNorm's forward configs
(kernels/layernorm/config.py: the same row limits, where ptxas spills in the fp32 single-pass kernel at
BLOCK 32768), with the backward fields zeroed (no RMSNorm backward here). Starting points, not tuned on
a GPU yet."""

from __future__ import annotations

from dataclasses import replace

from gpubench.kernels.arch import for_major, pick
from gpubench.kernels.layernorm import config as layernorm
from gpubench.kernels.layernorm.config import NormConfig


def _forward_only(cfg: NormConfig) -> NormConfig:
    return replace(cfg, bwd_single_pass_max_cols=0, bwd_chunk=0, bwd_warps_by_block=((0, 4),))


_DEFAULT = _forward_only(layernorm.for_arch(8))
_BY_MAJOR: dict[int, NormConfig] = {9: _forward_only(layernorm.for_arch(9))}
CPU = _forward_only(layernorm.CPU)  # cols 4097 and 70000 take the chunked path, with several chunks


def config_for(device) -> NormConfig:
    return pick(device, _BY_MAJOR, _DEFAULT, CPU)


def for_arch(major: int) -> NormConfig:
    """The config of a GPU of compute capability `major` (no GPU needed)."""
    return for_major(major, _BY_MAJOR, _DEFAULT)
