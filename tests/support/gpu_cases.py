"""Which shapes the GPU tests run a variant at (tests/gpu): every test shape and the file's large ones for
the suite's own kernels; one shape a dtype for a torch.compile baseline: each shape is a compile of its own
(with max-autotune, inductor compiles and times its GEMM templates: tens of seconds, bench.packs.costs), and
the code under test there is torch's, whose wrapper the CPU tests check with inductor's CPU backend."""

from __future__ import annotations

from gpubench.kernels import compiled


def shapes_for(w, v, large) -> list:
    """The shapes of variant `v`'s GPU cases: the workload's test shapes, then `large`; for a compiled
    baseline only the first large shape (a real size), or without one the first test shape with work."""
    if not compiled.is_compiled(v):
        return [*w.shapes["test"], *large]
    if large:
        return [large[0]]
    return [next(s for s in w.shapes["test"] if w.flops(s) > 0)]
