"""Every Triton variant (and torch baseline but torch.compile's) of every registered workload against its
reference in the Triton interpreter, on the workload's "test" shapes (ragged, empty, edge cases), per
dtype. bf16 runs where the kernel upcasts; variants that cannot run in the interpreter skip with their
reason."""

import pytest
import torch

from gpubench import kernels
from gpubench.bench.measure.correctness import check_variant
from gpubench.kernels import compiled

pytestmark = pytest.mark.slow  # every Triton variant in the interpreter over its test shapes

CPU = torch.device("cpu")


def _cases():
    for name in kernels.names():
        w = kernels.get(name)
        for vname, v in w.variants.items():
            # torch.compile baselines: inductor compiles for seconds a shape, so tests/test_torch_compile.py
            # checks each on one shape
            if v.backend not in ("triton", "torch") or compiled.is_compiled(v):
                continue
            for dtype in w.dtypes:
                yield pytest.param(name, vname, dtype, id=f"{name}-{vname}-{dtype}")


@pytest.mark.parametrize("name,vname,dtype", list(_cases()))
def test_variant_matches_reference_on_test_shapes(name, vname, dtype):
    w = kernels.get(name)
    v = w.variant(vname)
    ran = 0
    reasons = set()
    for shape in w.shapes["test"]:
        reason = v.skip_reason(CPU, shape, dtype)
        if reason:
            reasons.add(reason)
            continue
        check_variant(w, v, shape, dtype, CPU)
        ran += 1
    if not ran:
        pytest.skip("; ".join(sorted(reasons)))


def test_every_workload_honours_the_contract():
    assert {"vector_add", "window_sum"} <= set(kernels.names())
    for name in kernels.names():
        w = kernels.get(name)
        assert w.shapes["test"] and w.shapes["bench"]
        assert set(w.tolerances) >= set(w.dtypes)
        assert {v.backend for v in w.variants.values()} >= {"torch"}, f"{name} lacks a torch baseline"
        for shape in list(w.shapes["test"])[:3]:
            for dtype in w.dtypes:
                assert w.flops(shape) >= 0 and w.bytes(shape, dtype) >= 0
        # inputs are random, never zeros, and the same seed gives the same inputs; the shape with the
        # fewest size-1 axes (flags such as causal are 0/1 on every shape)
        shape = max(w.shapes["test"], key=lambda s: sum(v > 1 for v in s.values()))
        a = w.make_inputs(shape, w.dtypes[0], CPU, 7)
        b = w.make_inputs(shape, w.dtypes[0], CPU, 7)
        for x, y in zip(a, b):
            if isinstance(x, torch.Tensor):
                torch.testing.assert_close(x, y)
                assert x.float().abs().sum() > 0
