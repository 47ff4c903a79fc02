"""Correctness before timing: a variant's output on fresh inputs against the workload's reference."""

from __future__ import annotations

from gpubench.results import Correctness


class CorrectnessError(AssertionError):
    """The variant's output differs from the reference beyond the dtype's tolerance."""


def _errors(out, expected) -> dict[str, float]:
    import torch

    if not isinstance(out, torch.Tensor) or out.numel() == 0 or out.shape != expected.shape:
        return {}
    a = out.detach().to(torch.float64)
    b = expected.detach().to(torch.float64).to(a.device)
    finite = torch.isfinite(a) & torch.isfinite(b)
    if not finite.any():
        return {}
    diff = (a - b).abs()[finite]
    rel = diff / b.abs()[finite].clamp_min(1e-30)
    return {"max_abs_err": float(diff.max()), "max_rel_err": float(rel.max())}


def check_variant(workload, variant, shape, dtype: str, device, seed: int = 12345) -> Correctness:
    """Run `variant` on fresh inputs and compare with the reference; raise CorrectnessError on mismatch.

    Returns the check as recorded with the result (tolerances and the largest errors seen).
    """
    inputs = workload.make_inputs(shape, dtype, device, seed)
    out = variant.fn(*inputs)
    expected = workload.reference(*inputs)
    tol = workload.tolerance(dtype, shape)
    try:
        workload.check(out, expected, dtype, shape)
    except AssertionError as exc:
        raise CorrectnessError(
            f"{workload.name}/{variant.name} {dict(shape)} {dtype}: output differs from the reference: {exc}"
        ) from None
    errors = _errors(out, expected)
    return Correctness(checked=True, passed=True, seed=seed, atol=tol.atol, rtol=tol.rtol, **errors)
