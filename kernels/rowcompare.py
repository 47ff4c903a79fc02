"""Output comparisons for the row-wise workloads (softmax, layernorm, rmsnorm), on the outputs' device and
in row chunks, so that a 32K x 32K check needs neither a host copy nor several full float64 temporaries.

Rule (elementwise, like torch.testing.assert_close with equal_nan=True):
    NaN exactly where the expected value is NaN, equal infinities, and elsewhere
    |out - expected| <= atol * scale + rtol * |expected| + floor,
where `scale` is 1 (absolute atol) or, for softmax, the row's largest finite expected value: a softmax row of
a million columns holds values near 1e-6, so an absolute atol would accept anything there. `floor` is
two subnormal steps of the output dtype (2^-23 for fp16, negligible for bf16 and fp32): a softmax of
70000 fp16 columns lands in fp16's subnormal range, where one rounding is a large relative error.
"""

from __future__ import annotations

_CHUNK_ELEMS = 1 << 24


def _row_chunks(n_rows: int, n_cols: int):
    step = max(1, _CHUNK_ELEMS // max(n_cols, 1))
    for r0 in range(0, n_rows, step):
        yield r0, min(n_rows, r0 + step)


def _fail(what: str, msg: str):
    raise AssertionError(f"{what}: {msg}")


def assert_rows_close(out, expected, atol: float, rtol: float, *, what: str = "output", row_relative=False):
    """Compare two [rows, cols] (or 1-D, seen as one row) tensors by the rule above."""
    import torch

    if not isinstance(out, torch.Tensor):
        _fail(what, f"expected a tensor, got {type(out).__name__}")
    if out.shape != expected.shape:
        _fail(what, f"shape mismatch: got {tuple(out.shape)}, expected {tuple(expected.shape)}")
    if out.dtype != expected.dtype:
        _fail(what, f"dtype mismatch: got {out.dtype}, expected {expected.dtype}")
    if out.numel() == 0:
        return
    info = torch.finfo(out.dtype)
    floor = 2.0 * info.smallest_normal * info.eps  # two subnormal steps
    a2 = out.reshape(1, -1) if out.dim() == 1 else out.reshape(out.shape[0], -1)
    b2 = expected.reshape(a2.shape)
    n_rows, n_cols = a2.shape
    for r0, r1 in _row_chunks(n_rows, n_cols):
        a = a2[r0:r1].to(torch.float64)
        b = b2[r0:r1].to(device=a.device, dtype=torch.float64)
        nan_a, nan_b = torch.isnan(a), torch.isnan(b)
        if not torch.equal(nan_a, nan_b):
            where = torch.nonzero(nan_a != nan_b)[0].tolist()
            _fail(
                what,
                f"NaN pattern differs: {int((nan_a & ~nan_b).sum())} unexpected NaN, "
                f"{int((nan_b & ~nan_a).sum())} missing NaN (first at row {where[0] + r0}, col {where[1]})",
            )
        if row_relative:  # the largest finite value: an infinity would make every difference in its row pass
            scale = torch.where(torch.isfinite(b), b.abs(), 0.0).amax(dim=1, keepdim=True)
        else:
            scale = 1.0
        allowed = atol * scale + rtol * b.abs() + floor
        diff = (a - b).abs()
        same = (a == b) | nan_b  # equal infinities give inf - inf = NaN: count them as equal
        bad = (~same & ~(diff <= allowed)) | (torch.isinf(b) & (a != b))
        if bool(bad.any()):
            idx = torch.nonzero(bad)[0].tolist()
            worst = torch.where(bad, diff, 0.0).max()
            _fail(
                what,
                f"{int(bad.sum())} of {a.numel()} elements (rows {r0}..{r1 - 1}) exceed atol={atol}"
                f"{' x row max' if row_relative else ''}, rtol={rtol}; "
                f"largest bad difference {float(worst):.3g};"
                f" first at row {idx[0] + r0}, col {idx[1]}: got {float(a[idx[0], idx[1]])!r}, "
                f"expected {float(b[idx[0], idx[1]])!r}",
            )


def assert_rows_sum_to_one(out, expected, tol: float, *, what: str = "softmax"):
    """Property check: every row whose expected values hold no NaN sums to 1 within `tol`."""
    import torch

    if out.numel() == 0:
        return
    n_rows, n_cols = out.shape
    for r0, r1 in _row_chunks(n_rows, n_cols):
        a = out[r0:r1].to(torch.float64)
        finite_row = ~torch.isnan(expected[r0:r1].to(a.device)).any(dim=1)
        err = (a.sum(dim=1) - 1.0).abs()
        bad = finite_row & ~(err <= tol)
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0])
            _fail(what, f"row {i + r0} sums to {float(a[i].sum())!r}, not 1 within {tol}")
