"""Tensor-core rates through cuBLAS/cuBLASLt as torch calls them, at M = N = K = 8192 on random data.

    bf16, fp16  torch.matmul(a, b, out=c)
    tf32        torch.matmul on fp32 with TF32 allowed for the measurement only (restored afterwards)
    fp8         torch._scaled_mm, e4m3 x e4m3 -> bf16, per-tensor scales, fast accumulation (sm_89+)
    int8        torch._int_mm, int8 x int8 -> int32
FLOPs = 2 * M * N * K per product (int8: integer operations, reported as TOP/s). Each is measured burst
and sustained (bench.micro.rates), the same way as the mma.sync kernels; the figure is the sustained rate.
"""

from __future__ import annotations

from contextlib import contextmanager

from gpubench.kernels.workload import torch_dtype

GEMM_SIZE = 8192
CASES = ("bf16", "fp16", "tf32", "fp8", "int8")


def gemm_flops(m: int, n: int, k: int) -> int:
    return 2 * m * n * k


@contextmanager
def tf32_allowed():
    """Allow TF32 in fp32 matmuls inside the block, through whichever API this torch has."""
    import torch

    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):  # torch >= 2.9; mixing it with allow_tf32 is an error there
        old = matmul.fp32_precision
        matmul.fp32_precision = "tf32"
        try:
            yield
        finally:
            matmul.fp32_precision = old
    else:
        old = matmul.allow_tf32
        matmul.allow_tf32 = True
        try:
            yield
        finally:
            matmul.allow_tf32 = old


def _build(ctx, case: str, n: int, gen):
    """([(fn, description), ...] to try in order, None), or ([], the reason to skip this case)."""
    import torch

    dev = ctx.device
    if case in ("bf16", "fp16"):
        dtype = torch_dtype(case)
        a = torch.randn(n, n, device=dev, dtype=dtype, generator=gen)
        b = torch.randn(n, n, device=dev, dtype=dtype, generator=gen)
        c = torch.empty(n, n, device=dev, dtype=dtype)
        return [(lambda: torch.matmul(a, b, out=c), f"torch.matmul {case} x {case} -> {case}")], None
    if case == "tf32":
        if ctx.cc < (8, 0):
            return [], f"TF32 tensor cores need sm_80+, this is {ctx.cc}"
        a = torch.randn(n, n, device=dev, generator=gen)
        b = torch.randn(n, n, device=dev, generator=gen)
        c = torch.empty(n, n, device=dev)
        return [
            (lambda: torch.matmul(a, b, out=c), "torch.matmul fp32 with TF32 allowed (cuBLAS TF32 path)")
        ], None
    if case == "fp8":
        if ctx.cc < (8, 9):
            return [], f"fp8 tensor cores need sm_89+, this is {ctx.cc}"
        if not (hasattr(torch, "_scaled_mm") and hasattr(torch, "float8_e4m3fn")):
            return [], "this torch has no torch._scaled_mm / float8_e4m3fn"
        a = torch.randn(n, n, device=dev, generator=gen).to(torch.float8_e4m3fn)
        b = torch.randn(n, n, device=dev, generator=gen).to(torch.float8_e4m3fn).t()  # column-major
        one = torch.ones((), device=dev, dtype=torch.float32)

        def fn():
            return torch._scaled_mm(
                a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16, use_fast_accum=True
            )

        how = "torch._scaled_mm e4m3 x e4m3 (B column-major) -> bf16, per-tensor scales, use_fast_accum=True"
        return [(fn, how)], None
    if case == "int8":
        if not hasattr(torch, "_int_mm"):
            return [], "this torch has no torch._int_mm"
        a = torch.randint(-128, 128, (n, n), device=dev, dtype=torch.int8, generator=gen)
        b_col = torch.randint(-128, 128, (n, n), device=dev, dtype=torch.int8, generator=gen).t()
        b_row = b_col.contiguous()
        return [
            (lambda: torch._int_mm(a, b_col), "torch._int_mm int8 x int8 (B column-major) -> int32"),
            (lambda: torch._int_mm(a, b_row), "torch._int_mm int8 x int8 (B row-major) -> int32"),
        ], None
    raise ValueError(f"unknown cuBLAS case {case!r}")


def run_cublas(ctx) -> None:
    import torch

    from gpubench.bench.micro.rates import measure_rates

    n = GEMM_SIZE
    gen = torch.Generator(device=ctx.device).manual_seed(5)
    for case in CASES:
        name = f"cublas_{case}"
        candidates, reason = _build(ctx, case, n, gen)
        with tf32_allowed() if case == "tf32" else _nothing():
            fn = how = None
            errors = []
            for cand, cand_how in candidates:
                try:
                    cand()
                    torch.cuda.synchronize(ctx.device)
                except Exception as exc:  # an op or layout this build or GPU does not support
                    errors.append(f"{cand_how}: {type(exc).__name__}: {exc}"[:300])
                    continue
                fn, how = cand, cand_how
                break
            if fn is None:
                ctx.skip(name, reason or "; ".join(errors))
                continue
            flops = gemm_flops(n, n, n)
            measure_rates(
                ctx, name, flops, "TOP/s" if case == "int8" else "TFLOP/s", fn,
                method=f"{how}, M=N=K={n}, random inputs; 2*M*N*K / median device time",
                params={"m": n, "n": n, "k": n, "flops": flops, "failed_attempts": errors, "code": how},
            )  # fmt: skip
        del candidates, fn
        torch.cuda.empty_cache()


@contextmanager
def _nothing():
    yield
