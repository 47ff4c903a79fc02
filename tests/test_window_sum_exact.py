"""Window sum on inputs with NaN, inf and huge values, for every variant: the Triton kernels in the
interpreter, the torch baseline, and the CUDA C kernels in the host emulation (tests/support/cuda_host).

A value must reach exactly the outputs whose window holds it, and no output's error may grow with the
magnitude of values outside its window. So the test knows, from the positions alone, which outputs are
NaN, +inf or -inf (a window with both infinities is NaN), checks those sets exactly, and checks every
other output against the float64 reference within the dtype's usual tolerance; for huge values the
outputs whose window avoids them must match the reference of the input with those values zeroed.
Negative tests: running-difference kernels and the old prefix-sum reference fail these checks, and the
harness's check rejects a NaN where the reference has none.
"""

from __future__ import annotations

import dataclasses
import shutil

import pytest
import torch
import triton
import triton.language as tl

from gpubench import kernels
from gpubench.bench.measure.correctness import CorrectnessError, check_variant
from gpubench.kernels.workload import Variant

W = kernels.get("window_sum")
CPU = torch.device("cpu")
INF = float("inf")
# NumPy (under the interpreter) warns on inf - inf and NaN arithmetic: here that is the point.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


# ---------------------------------------------------------------------------------------- the cases


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    nan: tuple[int, ...] = ()
    pinf: tuple[int, ...] = ()
    ninf: tuple[int, ...] = ()
    huge: tuple[tuple[int, float], ...] = ()  # (position, value)


def cases(n: int, r: int) -> list[Case]:
    """Specials at the edges, next to each other and far apart; positions depend on n and r only."""
    mid, far = n // 3, (2 * n) // 3
    return [
        Case("nan", nan=(0, mid, n - 1)),
        Case("inf", pinf=(1, far), ninf=(mid,)),
        Case("inf-and-minus-inf", pinf=(mid,), ninf=(mid + r + 1,), nan=(n - 2,)),  # a window holds both
        Case("huge", huge=((mid, 1e20), (far, -1e20), (n - 1, 1e8))),
    ]


def make_input(case: Case, n: int, dtype: str, device=CPU, seed: int = 5) -> torch.Tensor:
    x, _ = W.make_inputs({"n": n, "radius": 0}, dtype, device, seed)
    for p in case.nan:
        x[p] = float("nan")
    for p in case.pinf:
        x[p] = INF
    for p in case.ninf:
        x[p] = -INF
    for p, v in case.huge:
        x[p] = v
    return x


def _touched(n: int, r: int, positions, device) -> torch.Tensor:
    """Outputs whose window [i - r, i + r] holds one of `positions` (integer counts: exact)."""
    mark = torch.zeros(n + 2 * r + 1, dtype=torch.int64, device=device)
    for p in positions:
        mark[p] += 1
        mark[p + 2 * r + 1] -= 1
    return mark.cumsum(0)[r : r + n] > 0


def expected_classes(case: Case, n: int, r: int, device=CPU):
    """(nan, +inf, -inf) masks of the outputs, from the positions alone."""
    nan = _touched(n, r, case.nan, device)
    pinf = _touched(n, r, case.pinf, device)
    ninf = _touched(n, r, case.ninf, device)
    both = pinf & ninf
    return nan | both, pinf & ~nan & ~both, ninf & ~nan & ~both


def check_exact(out: torch.Tensor, x: torch.Tensor, r: int, case: Case, dtype: str) -> None:
    """The checks every variant must pass on `case` (see the module docstring)."""
    n = x.numel()
    shape = {"n": n, "radius": r}
    expected = W.reference(x, r)
    nan, pinf, ninf = expected_classes(case, n, r, x.device)
    got = out.to(torch.float64)
    for what, want, have in (
        ("NaN", nan, torch.isnan(got)),
        ("+inf", pinf, torch.isposinf(got)),
        ("-inf", ninf, torch.isneginf(got)),
    ):
        wrong = (want != have).nonzero().flatten().tolist()
        assert not wrong, f"{case.name}, r={r}: {what} at the wrong outputs {wrong[:12]}"
    W.check(out, expected, dtype, shape)  # the harness's check: finite outputs within tolerance
    if case.huge:  # outputs whose window avoids every huge value: as if those values were zero
        away = ~_touched(n, r, [p for p, _ in case.huge], x.device)
        tame = x.clone()
        for p, _ in case.huge:
            tame[p] = 0
        tol = W.tolerance(dtype, shape)
        torch.testing.assert_close(
            got[away], W.reference(tame, r).to(torch.float64)[away], atol=tol.atol, rtol=tol.rtol
        )


# -------------------------------------------------------------------------------------- the variants

N = 1500
RADII = (1, 4, 16, 64)


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    from tests.support.cuda_host import window_sum_emu

    if shutil.which("g++") is None:
        pytest.skip("needs g++ (C++20) to build the host emulation")
    return window_sum_emu, window_sum_emu.build(tmp_path_factory.mktemp("emu"))


def _runner(vname, emu_pair):
    """A callable (x, radius) -> out for the variant, on this machine."""
    if vname == "cuda_naive":
        mod, exe = emu_pair
        return lambda x, r: mod.naive(exe, x, r)
    if vname == "cuda_shared":
        mod, exe = emu_pair
        return lambda x, r: mod.shared(exe, x, r)
    return W.variant(vname).fn


@pytest.mark.slow
@pytest.mark.parametrize("radius", RADII)
@pytest.mark.parametrize("vname", list(W.variants))
def test_every_variant_is_exact_on_special_values(request, vname, radius):
    emu_pair = request.getfixturevalue("emu") if W.variant(vname).backend == "cupy" else None
    fn = _runner(vname, emu_pair)
    for case in cases(N, radius):
        x = make_input(case, N, "fp32")
        check_exact(fn(x, radius), x, radius, case, "fp32")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("vname", list(W.variants))
def test_16_bit_storage_keeps_the_exact_sets(request, vname, dtype):
    emu_pair = request.getfixturevalue("emu") if W.variant(vname).backend == "cupy" else None
    fn = _runner(vname, emu_pair)
    for case in cases(N, 16)[:3]:  # 1e20 is no fp16 value; bf16 runs it below
        x = make_input(case, N, dtype)
        check_exact(fn(x, 16), x, 16, case, dtype)
    if dtype == "bf16":
        case = cases(N, 16)[3]
        x = make_input(case, N, dtype)
        check_exact(fn(x, 16), x, 16, case, dtype)


@pytest.mark.slow
def test_cuda_shared_exact_across_many_blocks_and_the_global_path(emu):
    """Small tiles put specials at block edges; a tiny shared-memory budget forces the global-memory
    path that very large radii take."""
    mod, exe = emu
    tiny = dataclasses.replace(mod.SUITE, smem_floats=64)
    for cfg in (mod.SMALL, tiny):
        for radius in (1, 3, 16, 40):
            for case in cases(700, radius):
                x = make_input(case, 700, "fp32")
                check_exact(mod.shared(exe, x, radius, cfg), x, radius, case, "fp32")


# --------------------------------------------------------------------------------------- the reference


@pytest.mark.parametrize("radius", [0, 1, 7, 64, 700])
def test_reference_is_exact_on_special_values(radius):
    for case in cases(N, radius):
        x = make_input(case, N, "fp32")
        ref = W.reference(x, radius)
        nan, pinf, ninf = expected_classes(case, N, radius)
        assert torch.equal(torch.isnan(ref), nan) and torch.equal(torch.isposinf(ref), pinf)
        assert torch.equal(torch.isneginf(ref), ninf)
        if case.huge:
            away = ~_touched(N, radius, [p for p, _ in case.huge], CPU)
            tame = x.clone()
            for p, _ in case.huge:
                tame[p] = 0
            assert torch.equal(ref[away], W.reference(tame, radius)[away])


def test_reference_matches_a_plain_loop():
    assert W.reference(torch.empty(0), 3).shape == (0,)
    x = torch.randn(50, dtype=torch.float64)
    for r in (0, 1, 3, 49, 80):
        want = torch.tensor(
            [float(sum(x[max(i - r, 0) : i + r + 1])) for i in range(50)], dtype=torch.float64
        )
        torch.testing.assert_close(W.reference(x, r), want, atol=1e-12, rtol=1e-12)


def _prefix_reference(x, radius):
    """The former reference: float64 prefix-sum differences."""
    n = x.numel()
    p = torch.zeros(n + 1, dtype=torch.float64)
    torch.cumsum(x.to(torch.float64), 0, out=p[1:])
    i = torch.arange(n)
    return (p[torch.clamp(i + radius + 1, max=n)] - p[torch.clamp(i - radius, min=0)]).to(x.dtype)


@pytest.mark.parametrize("case_index", range(4))
def test_prefix_sum_differences_fail_the_checks(case_index):
    case = cases(N, 4)[case_index]
    x = make_input(case, N, "fp32")
    with pytest.raises(AssertionError):
        check_exact(_prefix_reference(x, 4), x, 4, case, "fp32")


# ------------------------------------------------------------------------------------ negative tests


@triton.jit
def _sliding_kernel(x_ptr, out_ptr, n, radius, window, LANES: tl.constexpr, ITEMS: tl.constexpr):
    """Running differences along each lane: the first window summed, then + x[i + r] - x[i - r - 1]."""
    lane = tl.arange(0, LANES)
    k = tl.arange(0, ITEMS)
    first = tl.program_id(0).to(tl.int64) * (LANES * ITEMS) + lane * ITEMS
    acc = tl.zeros([LANES], dtype=tl.float32)
    for d in range(0, window):
        j = first + d - radius
        acc += tl.load(x_ptr + j, mask=(first < n) & (j >= 0) & (j < n), other=0.0)
    idx = first[:, None] + k[None, :]
    enter = idx + radius
    leave = idx - radius - 1
    inc = tl.load(x_ptr + enter, mask=(enter < n) & (idx < n), other=0.0)
    inc -= tl.load(x_ptr + leave, mask=(leave >= 0) & (idx < n), other=0.0)
    inc = tl.where(k[None, :] == 0, 0.0, inc)
    tl.store(out_ptr + idx, acc[:, None] + tl.cumsum(inc, axis=1), mask=idx < n)


def _sliding(x, radius):
    out = torch.empty_like(x)
    _sliding_kernel[(triton.cdiv(x.numel(), 512),)](x, out, x.numel(), radius, 2 * radius + 1, 32, 16)
    return out


def test_the_sliding_kernel_is_right_on_plain_inputs():
    """So that what the next test catches is the running difference, not a bug of the test kernel."""
    x, _ = W.make_inputs({"n": N, "radius": 4}, "fp32", CPU, 3)
    W.check(_sliding(x, 4), W.reference(x, 4), "fp32", {"n": N, "radius": 4})


@pytest.mark.parametrize("case_index", range(4))
def test_a_running_difference_kernel_is_caught(case_index):
    case = cases(N, 4)[case_index]
    x = make_input(case, N, "fp32")
    with pytest.raises(AssertionError):
        check_exact(_sliding(x, 4), x, 4, case, "fp32")


def test_the_harness_check_flags_nan_where_the_reference_has_none():
    shape = {"n": 300, "radius": 2}

    def one_nan(x, radius):
        out = W.variant("triton_naive").fn(x, radius)
        out[123] = float("nan")
        return out

    with pytest.raises(CorrectnessError, match="differs from the reference"):
        check_variant(W, Variant("one_nan", "triton", one_nan), shape, "fp32", CPU)
    x, r = W.make_inputs(shape, "fp32", CPU, 1)
    x[7] = float("nan")
    ref = W.reference(x, r)
    assert int(torch.isnan(ref).sum()) == 2 * r + 1
    W.check(ref.clone(), ref, "fp32", shape)  # NaN exactly where the reference is NaN passes
    for wrong in (torch.nan_to_num(ref), torch.where(torch.isnan(ref), INF, ref)):
        with pytest.raises(AssertionError):
            W.check(wrong, ref, "fp32", shape)
