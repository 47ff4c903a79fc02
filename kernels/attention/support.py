"""Which attention variant runs where: the `supported(device, shape, dtype)` of each, None or a reason."""

from __future__ import annotations

from gpubench.kernels.attention import config

# The CUDA SIMT kernel runs at a few TFLOP/s: 2^38 FLOPs (the bench's 2K-token prefill) is about a
# tenth of a second a call at 3 TFLOP/s, and every timed sample repeats it; larger shapes are checked at
# the smaller ones.
CUDA_MAX_FLOPS = 1 << 38


def _on_gpu(device) -> bool:
    return getattr(device, "type", "cpu") == "cuda"


def _capability(device) -> tuple[int, int]:
    import torch

    return torch.cuda.get_device_capability(device)


def bf16_needs_sm80(device, dtype: str) -> str | None:
    if dtype == "bf16" and _on_gpu(device) and _capability(device)[0] < 8:
        return "bf16 needs compute capability 8.0 or newer"
    return None


def _head_dim(device, shape, table: str, what: str) -> str | None:
    tables = config.config_for(device)
    runs = tables.decode.head_dims if table == "decode" else getattr(tables, table)
    return config.triton_head_dim_problem(shape["head_dim"], runs, what)


def triton_supported(device, shape, dtype):
    return _head_dim(device, shape, "fwd", "the forward") or bf16_needs_sm80(device, dtype)


def triton_bwd_supported(device, shape, dtype):
    return _head_dim(device, shape, "bwd", "the backward") or bf16_needs_sm80(device, dtype)


def tma_supported(device, shape, dtype):
    from gpubench.kernels.attention.triton_fwd import HAS_TENSOR_DESCRIPTORS

    if not HAS_TENSOR_DESCRIPTORS:
        import triton

        return f"triton {triton.__version__} has no tensor descriptors (triton.tools.tensor_descriptor)"
    if _on_gpu(device):
        major, minor = _capability(device)
        if major != 9:
            return f"needs Hopper (sm_90) TMA and is tuned for it; this GPU is sm_{major}{minor}"
    return _head_dim(device, shape, "fwd_tma", "the TMA forward")


def decode_supported(device, shape, dtype):
    from gpubench.kernels.attention.triton_decode import seq_q_problem

    head_dim = _head_dim(device, shape, "decode", "the decode kernel")
    return seq_q_problem(shape["seq_q"]) or head_dim or bf16_needs_sm80(device, dtype)


def cuda_supported(device, shape, dtype):
    from gpubench.kernels.attention import flops
    from gpubench.kernels.attention.triton_decode import MAX_SEQ_Q

    if why := config.cuda_head_dim_problem(shape["head_dim"]):
        return why
    if shape["seq_q"] <= MAX_SEQ_Q:
        return (
            f"a decode shape (seq_q {shape['seq_q']} <= {MAX_SEQ_Q}): the SIMT kernel's "
            f"{config.CUDA_BLOCK_M}-query tiles would be mostly idle rows; triton_decode covers it"
        )
    if flops(shape) > CUDA_MAX_FLOPS:
        return "too slow to be worth timing here (> 2^38 FLOPs on the SIMT kernel); checked at smaller shapes"
    if _on_gpu(device) and _capability(device)[0] < 8:
        return "needs compute capability 8.0 or newer (bf16 conversions in PTX)"
    return None


def naive_supported(device, shape, dtype):
    from gpubench.kernels.attention.baselines import materialised_problem

    return materialised_problem(shape)


def sdpa_supported(backend: str):
    def supported(device, shape, dtype):
        from gpubench.kernels.attention.baselines import sdpa_problem

        return sdpa_problem(backend, device, shape, dtype)

    return supported
