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


class ReferenceCache:
    """The reference output of the last (workload, shape, dtype, seed) checked. A plan runs every variant
    of one shape and dtype in a row, so they share one reference: a slow one (attention's float64,
    computed a chunk of queries at a time) is computed once per shape and dtype, not once per variant.
    One entry only, freed before the next is computed, so a large output never stays twice in memory.
    The inputs themselves are made afresh for every variant (make_inputs is seeded: the same values)."""

    def __init__(self):
        self._key: tuple | None = None
        self._value = None
        self.computed = 0  # how many references were computed (the tests count them)

    def get(self, workload, shape, dtype: str, seed: int, inputs):
        key = (workload.name, tuple(sorted(shape.items())), dtype, seed)
        if key != self._key:
            self._key = self._value = None
            self._value = workload.reference(*inputs)
            self._key = key
            self.computed += 1
        return self._value


def check_variant(
    workload, variant, shape, dtype: str, device, seed: int = 12345, references: ReferenceCache | None = None
) -> Correctness:
    """Run `variant` on fresh inputs and compare with the reference; raise CorrectnessError on mismatch.
    `references`: share the reference with the other variants of the same shape and dtype.

    Returns the check as recorded with the result (tolerances and the largest errors seen).
    """
    inputs = workload.make_inputs(shape, dtype, device, seed)
    out = variant.fn(*inputs)
    if references is None:
        expected = workload.reference(*inputs)
    else:
        expected = references.get(workload, shape, dtype, seed, inputs)
    tol = workload.tolerance(dtype, shape)
    try:
        workload.check(out, expected, dtype, shape)
    except AssertionError as exc:
        raise CorrectnessError(
            f"{workload.name}/{variant.name} {dict(shape)} {dtype}: output differs from the reference: {exc}"
        ) from None
    errors = _errors(out, expected)
    return Correctness(checked=True, passed=True, seed=seed, atol=tol.atol, rtol=tol.rtol, **errors)
