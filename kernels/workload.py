"""The workload contract shared by every kernel family.

A workload bundles inputs, a reference, FLOP/byte accounting and the variants that implement it.
The benchmark harness and the tests consume only this interface.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gpubench import dtypes
from gpubench.fmt import shape_label as shape_id  # noqa: F401  (test ids: 'M=64,N=64,K=32')
from gpubench.roles import KERNEL, check_role

Shape = Mapping[str, int]
Backend = str  # "triton" | "cupy" | "torch"
BACKENDS = ("triton", "cupy", "torch")


def torch_dtype(name: str):
    """The torch dtype that holds the data of the suite's dtype `name` (gpubench.dtypes; fp32 for tf32)."""
    import torch

    return getattr(torch, dtypes.torch_name(name))


def torch_dtypes(*names: str) -> tuple:
    """The torch dtypes of `names`, in order: what a launcher accepts."""
    return tuple(torch_dtype(n) for n in names)


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float


@dataclass(frozen=True)
class Variant:
    """One implementation of a workload.

    `fn(*inputs)` returns the output; `supported(device, shape, dtype)` returns None when the variant
    can run, else a human-readable reason to skip. `device` is a torch.device. `role` says what it is in
    the workload's comparisons (gpubench.roles): every record of it carries the role, and the reports
    hold the other variants against the `baseline` ones and against the `unfused` form.
    """

    name: str
    backend: Backend
    fn: Callable[..., Any]
    supported: Callable[[Any, Shape, str], str | None] = lambda device, shape, dtype: None
    description: str = ""
    role: str = KERNEL
    # The dtype its math runs in where it is not the record's (fp8 or int8 dots on fp16 inputs); the
    # record is placed under that dtype's compute roof.
    compute_dtype: str | None = None
    # `nbytes(shape, dtype)`: the bytes this form must move where, by design, it moves more than the
    # workload's compulsory count (naive attention writes and reads S); its records count these, so the
    # roofline places the form where it runs.
    nbytes: Callable[[Shape, str], int] | None = None
    # `details()`: what the variant's last call adds to its record's details (torch.compile's compile time
    # and recompiles, kernels/compiled.py), beside the workload's own.
    details: Callable[[], dict[str, Any]] | None = None

    def run_details(self) -> dict[str, Any]:
        return dict(self.details()) if self.details is not None else {}

    def bytes_of(self, workload, shape: Shape, dtype: str) -> int:
        return int((self.nbytes or workload.bytes)(shape, dtype))

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(
                f"variant {self.name!r}: backend must be one of {BACKENDS}, got {self.backend!r}"
            )
        check_role(self.role, f"variant {self.name!r}: role")

    def skip_reason(self, device, shape: Shape, dtype: str) -> str | None:
        """Why this variant cannot run here (None when it can), including backend availability."""
        device_type = getattr(device, "type", str(device))
        if self.backend == "cupy" and device_type != "cuda":
            return "CuPy variants need a CUDA device"
        if self.backend == "triton" and device_type != "cuda":
            import os

            if os.environ.get("TRITON_INTERPRET") != "1":
                return "Triton on CPU needs TRITON_INTERPRET=1"
        return self.supported(device, shape, dtype)


@dataclass(frozen=True)
class Workload:
    """A kernel family: the unit the registry, tests and benchmarks iterate over."""

    name: str
    axes: tuple[str, ...]
    shapes: Mapping[str, Sequence[Shape]]
    dtypes: tuple[str, ...]
    tolerances: Mapping[str, Tolerance]
    make_inputs: Callable[..., tuple]
    reference: Callable[..., Any]
    flops: Callable[[Shape], int]
    bytes: Callable[[Shape, str], int]
    variants: Mapping[str, Variant]
    description: str = ""
    # Matmul-like workloads are bounded by tensor-core peaks, the others by the SIMT fp32 peak.
    uses_tensor_cores: bool = False
    # `check_output(out, expected, tol, shape)` raises AssertionError where a variant's output differs from
    # the reference's; `tol` is the dtype's tolerance widened for the shape (`tolerance`), `shape` None
    # where the caller gave none. None: torch.testing.assert_close in float64 with `tol`.
    check_output: Callable[[Any, Any, Tolerance, Shape | None], None] | None = None
    # Shape-dependent widening of atol, for outputs whose magnitude (and so rounding error) grows with the
    # shape, e.g. a sum of k random terms. None: the table's tolerance holds at every shape.
    atol_scale: Callable[[Shape], float] | None = None
    # `details(shape, dtype)`: what every record of the workload carries beside its measurement
    # (Record.details: the fusion byte analysis, the quantisation error, ...).
    details: Callable[[Shape, str], dict[str, Any]] | None = None

    def __post_init__(self):
        for set_name in ("test", "bench"):
            if set_name not in self.shapes:
                raise ValueError(f"workload {self.name!r} needs a {set_name!r} shape set")
        for set_name, shapes in self.shapes.items():
            for shape in shapes:
                missing = set(self.axes) - set(shape)
                if missing:
                    raise ValueError(
                        f"workload {self.name!r}: shape {dict(shape)} in {set_name!r} lacks {missing}"
                    )
        for dt in self.dtypes:
            if dt not in self.tolerances:
                raise ValueError(f"workload {self.name!r}: no tolerance for dtype {dt!r}")

    def variant(self, name: str) -> Variant:
        try:
            return self.variants[name]
        except KeyError:
            raise KeyError(
                f"workload {self.name!r} has no variant {name!r}; known: {', '.join(self.variants)}"
            ) from None

    def tolerance(self, dtype: str, shape: Shape | None = None) -> Tolerance:
        """The dtype's tolerance, widened for `shape` where the workload says its error grows with it."""
        tol = self.tolerances[dtype]
        if shape is not None and self.atol_scale is not None:
            tol = Tolerance(atol=tol.atol * max(1.0, float(self.atol_scale(shape))), rtol=tol.rtol)
        return tol

    def record_details(self, shape: Shape, dtype: str) -> dict[str, Any]:
        """What a record of (shape, dtype) carries beside its measurement (empty without `details`)."""
        return dict(self.details(shape, dtype)) if self.details is not None else {}

    def check(self, out, expected, dtype: str, shape: Shape | None = None) -> None:
        """Raise AssertionError when `out` differs from `expected` beyond the dtype's tolerance (at
        `shape`, when given: see `atol_scale`)."""
        tol = self.tolerance(dtype, shape)
        if self.check_output is not None:
            self.check_output(out, expected, tol, shape)
            return
        import torch

        if out.shape != expected.shape:
            raise AssertionError(f"shape mismatch: got {tuple(out.shape)}, expected {tuple(expected.shape)}")
        torch.testing.assert_close(
            out.to(torch.float64).cpu(),
            expected.to(torch.float64).cpu(),
            atol=tol.atol,
            rtol=tol.rtol,
            equal_nan=True,
        )
