"""kernels/workload.InputMemo: a costly function of a workload's inputs (the float64 reference) computed
once per (shape, dtype, device, seed), reused only for the very tensors make_inputs made, unmodified; and
the attention workloads' references through it equal the uncached ones."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import torch  # noqa: E402

from gpubench import kernels  # noqa: E402
from gpubench.kernels.workload import InputMemo  # noqa: E402

CPU = torch.device("cpu")
ATT = kernels.get("attention")


def test_the_float64_reference_is_computed_once_per_inputs_and_afresh_for_changed_ones():
    memo, calls = InputMemo(), []

    def made(seed):
        t = torch.randn(4, generator=torch.Generator().manual_seed(seed))
        memo.made({"n": 4}, "fp32", CPU, seed, (t, t + 1))
        return t

    def ref(t):
        return memo.get((t,), lambda: calls.append(1) or t * 2)

    first = ref(made(0))
    again = made(0)  # fresh tensors, equal to the first: the result is reused
    assert torch.equal(ref(again), first) and len(calls) == 1
    ref(again).add_(1)  # a copy: the kept result is untouched
    assert torch.equal(ref(again), first) and len(calls) == 1
    again.add_(1)  # written since it was made: computed afresh
    assert torch.equal(ref(again), again * 2) and len(calls) == 2
    ref(made(1)), ref(torch.randn(4))  # another seed, and tensors make_inputs never returned
    assert len(calls) == 4
    a = made(2)
    b = a + 1  # not the second tensor `made` recorded, though equal to it
    memo.get((b,), lambda: calls.append(1))
    assert len(calls) == 5
    # the workload's own reference through the memo equals the uncached one
    from gpubench.kernels.attention.reference import reference as uncached

    shape = ATT.shapes["test"][1]
    q, k, v, causal = ATT.make_inputs(shape, "fp16", CPU, seed=3)
    assert torch.equal(ATT.reference(q, k, v, causal), uncached(q, k, v, causal))
    assert torch.equal(ATT.reference(*ATT.make_inputs(shape, "fp16", CPU, seed=3)), uncached(q, k, v, causal))



def test_the_backward_reuses_its_float64_forward_and_gradients():
    from gpubench.kernels.attention.reference import backward_f64

    bwd = kernels.get("attention_bwd")
    shape = bwd.shapes["test"][1]
    first = bwd.make_inputs(shape, "fp16", CPU, seed=2)
    again = bwd.make_inputs(shape, "fp16", CPU, seed=2)
    assert all(torch.equal(a, b) for a, b in zip(first[:-1], again[:-1], strict=True))
    do, q, k, v, *_ = again
    want = tuple(g.to(q.dtype) for g in backward_f64(q, k, v, do, bool(shape["causal"])))
    got = bwd.reference(*again)
    assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))
