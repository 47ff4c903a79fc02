"""The workload contract's hooks (kernels.workload): check_output gets the tolerance widened for the shape
and the shape itself, and details feeds each record."""

import pytest
import torch

from gpubench.kernels import Tolerance, Variant, Workload


def _workload(**hooks) -> Workload:
    return Workload(
        name="w", axes=("n",), shapes={"test": [{"n": 4}], "bench": [{"n": 64}]}, dtypes=("fp32",),
        tolerances={"fp32": Tolerance(atol=1e-3, rtol=0.0)}, make_inputs=lambda s, d, dev, seed: (),
        reference=lambda: None, flops=lambda s: s["n"], bytes=lambda s, d: 8 * s["n"],
        variants={"v": Variant("v", "torch", lambda: None)}, **hooks,
    )  # fmt: skip


def test_check_output_gets_the_tolerance_widened_for_the_shape():
    seen = []
    def check_output(out, expected, tol, shape):
        seen.append((tol, shape))

    w = _workload(check_output=check_output, atol_scale=lambda s: s["n"])
    w.check(None, None, "fp32", {"n": 64})
    w.check(None, None, "fp32")
    assert seen == [(Tolerance(atol=0.064, rtol=0.0), {"n": 64}), (Tolerance(atol=1e-3, rtol=0.0), None)]


def test_the_default_check_honours_atol_scale():
    w = _workload(atol_scale=lambda s: s["n"])
    out, expected = torch.zeros(3), torch.full((3,), 0.01)
    w.check(out, expected, "fp32", {"n": 64})  # 0.01 <= 1e-3 * 64
    with pytest.raises(AssertionError):
        w.check(out, expected, "fp32", {"n": 4})  # 0.01 > 1e-3 * 4


def test_details_feed_the_record_and_default_to_nothing():
    assert _workload().record_details({"n": 4}, "fp32") == {}
    w = _workload(details=lambda s, d: {"elements": s["n"], "dtype": d})
    assert w.record_details({"n": 4}, "fp32") == {"elements": 4, "dtype": "fp32"}
