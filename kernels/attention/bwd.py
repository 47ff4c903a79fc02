"""attention_bwd: the attention backward (dQ, dK, dV), axes as the forward's (kernels/attention).

Inputs (do, q, k, v, o, lse, causal): the upstream gradient dO [batch, heads, seq_q, head_dim] and the
forward's inputs, with O and the fp32 row log-sum-exp that a flash forward saves (computed here in
float64 and rounded; LSE +inf for rows that see no key). Every variant returns (dq, dk, dv) in the
inputs' dtype. The reference is the float64 backward of reference.py (checked against torch autograd in
float64 by the tests).

The torch baselines differentiate their own forward with autograd: the graph is built once per input set
(the first call, which the harness spends on the correctness check and warm-up), and every further call
runs only the backward (torch.autograd.grad with retain_graph), so their time is the backward's alone,
as the Triton kernel's is.
"""

from __future__ import annotations

import weakref

from gpubench import dtypes, opcount
from gpubench.kernels import compiled
from gpubench.kernels.attention import AXES
from gpubench.kernels.attention import shape_of as _s
from gpubench.kernels.inputs import generator, randn
from gpubench.kernels.workload import Tolerance, Variant, Workload
from gpubench.roles import BASELINE, KERNEL

DTYPES = ("fp16", "bf16")
# Gradients are sums over keys or queries, so atol is scaled by each reference tensor's RMS (check_output).
# dS = P * (dP - delta) cancels, and P, dS are rounded to the storage dtype for the dots. Measured on the
# CPU over the test shapes and 5 seeds, the worst error of every variant is at most 0.3 of these.
TOLERANCES = {
    "fp16": Tolerance(atol=5e-3, rtol=5e-3),
    "bf16": Tolerance(atol=4e-2, rtol=4e-2),
}
SHAPES = {
    "test": [
        _s(1, 1, 1, 1, 1, 32, 0),
        _s(2, 4, 2, 37, 37, 32, 1),
        _s(1, 2, 2, 19, 70, 64, 1),
        _s(1, 2, 1, 45, 17, 32, 1),  # the first 28 rows see no key: zero gradients through them
        _s(1, 3, 3, 33, 50, 64, 0),
        _s(1, 4, 1, 5, 200, 32, 1),
    ],
    # head_dim 128, 16 heads, batch x seq = 16K tokens, seq 1K..16K, causal and not.
    "bench": [_s(16384 // n, 16, 16, n, n, 128, c) for n in (1024, 4096, 16384) for c in (0, 1)],
    "quick": [_s(4, 16, 16, 4096, 4096, 128, 0)],
}
# The autograd baselines keep S, P and their gradients: half the forward's limit.
MAX_SCORES_BWD = 1 << 31


def make_inputs(shape, dtype, device, seed=0):
    import torch

    from gpubench.kernels.attention import make_inputs as forward_inputs
    from gpubench.kernels.attention.reference import forward_f64

    q, k, v, causal = forward_inputs(shape, dtype, device, seed)
    do = randn(q.shape, dtype, device, generator(device, seed + 1))
    o, lse = forward_f64(q, k, v, causal)
    return do, q, k, v, o.to(q.dtype), lse.to(torch.float32), causal


def reference(do, q, k, v, o, lse, causal):
    from gpubench.kernels.attention.reference import backward_f64

    return tuple(g.to(q.dtype) for g in backward_f64(q, k, v, do, causal))


def flops(shape):
    # 2.5 x the forward: recomputed S, dV, dP, dQ, dK (gpubench.opcount).
    return opcount.attention_flops(shape["batch"], shape["heads"], shape["head_dim"], shape["seq_q"],
                                   shape["seq_k"], bool(shape["causal"]), backward=True)  # fmt: skip


def nbytes(shape, dtype):
    # Q, K, V, O, dO and LSE (fp32) read, dQ, dK, dV written (gpubench.opcount).
    return opcount.attention_bytes(shape["batch"], shape["heads"], shape["kv_heads"], shape["head_dim"],
                                   shape["seq_q"], shape["seq_k"], int(dtypes.itemsize(dtype)),
                                   backward=True)  # fmt: skip


def check_output(out, expected, tol, shape):
    import torch

    if not isinstance(out, tuple | list) or len(out) != 3:
        raise AssertionError(f"attention_bwd: expected (dq, dk, dv), got {type(out).__name__}")
    for name, a, b in zip(("dq", "dk", "dv"), out, expected):
        if a.shape != b.shape:
            raise AssertionError(f"{name}: shape {tuple(a.shape)}, expected {tuple(b.shape)}")
        b64 = b.to(torch.float64).cpu()
        scale = max(1.0, float(b64.square().mean().sqrt())) if b.numel() else 1.0
        torch.testing.assert_close(a.to(torch.float64).cpu(), b64, atol=tol.atol * scale, rtol=tol.rtol,
                                   equal_nan=True, msg=lambda m, n=name: f"{n}: {m}")  # fmt: skip


def _triton(do, q, k, v, o, lse, causal):
    from gpubench.kernels.attention.triton_bwd import backward

    return backward(do, q, k, v, o, lse, causal)


class GradGraphs:
    """One autograd graph per input set, keyed by the dO tensor's identity and dropped with it. With
    `core` (the Compiled the forward runs through), the first backward of a new graph is timed into
    its compile figures: AOTAutograd compiles the backward graph on that call."""

    def __init__(self, forward, core: compiled.Compiled | None = None):
        self.forward, self.core = forward, core
        self.graphs: dict[int, tuple] = {}

    def __call__(self, do, q, k, v, o, lse, causal):
        import torch

        g = self.graphs.get(id(do))
        same = g is not None and g[0]() is do and all(a is b for a, b in zip(g[1], (q, k, v)))
        if not same or g[2] != causal:
            leaves = tuple(t.detach().requires_grad_() for t in (q, k, v))
            with torch.enable_grad():
                out = self.forward(*leaves, causal)
            g = (weakref.ref(do), (q, k, v), causal, leaves, out)
            self.graphs[id(do)] = g
            weakref.finalize(do, self.graphs.pop, id(do), None)
            if self.core is not None:
                return self.core.first_backward(lambda: self._grad(g, do), (do,))
        return self._grad(g, do)

    @staticmethod
    def _grad(g, do):
        import torch

        return torch.autograd.grad(g[4], g[3], do, retain_graph=True)


def _naive_forward(q, k, v, causal):  # compiled by the torch_compile variant
    from gpubench.kernels.attention.baselines import naive

    return naive(q, k, v, causal)


COMPILED_NAIVE = compiled.Compiled(_naive_forward)


def _materialised(device, shape, dtype):
    from gpubench.kernels.attention.baselines import materialised_problem

    return materialised_problem(shape, MAX_SCORES_BWD)


def _variants():
    from gpubench.kernels.attention import baselines
    from gpubench.kernels.attention.support import sdpa_supported, triton_bwd_supported

    out = {
        "triton": Variant("triton", "triton", _triton, supported=triton_bwd_supported,
                          description="Triton flash backward: delta, then dK/dV per key tile (the group's "
                          "heads summed in the program) and dQ per query tile"),
        "naive": Variant("naive", "torch", GradGraphs(baselines.naive), supported=_materialised,
                         description="autograd through the naive forward (S and P materialised); backward "
                         "only"),
    }  # fmt: skip
    for backend in baselines.BACKENDS:
        name = f"sdpa_{backend}"
        fwd_ok = sdpa_supported(backend)

        def supported(device, shape, dtype, fwd_ok=fwd_ok, backend=backend):
            why = fwd_ok(device, shape, dtype)
            return why or (_materialised(device, shape, dtype) if backend == "math" else None)

        role = BASELINE if backend in baselines.BASELINE_BACKENDS else KERNEL
        out[name] = Variant(name, "torch", GradGraphs(baselines.variant_fn(backend)), supported=supported,
                            description=f"autograd through torch SDPA, {backend} backend; "
                            "backward only", role=role)  # fmt: skip
    out[compiled.NAME] = compiled.variant(
        COMPILED_NAIVE, "the naive forward (S and P materialised), differentiated by AOTAutograd; backward "
        "only, its first call's compile counted", _materialised, GradGraphs(COMPILED_NAIVE, COMPILED_NAIVE))
    return out


WORKLOAD = Workload(
    name="attention_bwd",
    axes=AXES,
    shapes=SHAPES,
    dtypes=DTYPES,
    tolerances=TOLERANCES,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes=nbytes,
    variants=_variants(),
    description="Attention backward (dQ, dK, dV) from the saved LSE: Triton against autograd through naive "
    "attention and torch SDPA's backends.",
    check_output=check_output,
    uses_tensor_cores=True,
)
