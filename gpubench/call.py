"""What gpubench.benchmark and gpubench.check make of a call: its arguments checked (TypeError /
ValueError naming the bad one), the device and dtype it runs on, and fn with its arguments as a
one-variant workload, so that the suite's correctness check and measurement run it unchanged."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gpubench import dtypes
from gpubench.results import Correctness, Record

__all__ = ["DEFAULT_TOLERANCES", "NO_GPU", "Call", "NoGPUError", "check_callables", "count", "device_for",
           "make_call", "stopping_rule"]  # fmt: skip

# A reference check without atol/rtol uses torch.testing.assert_close's defaults for the dtype.
DEFAULT_TOLERANCES = {"fp64": (1e-7, 1e-7), "fp32": (1e-5, 1.3e-6), "fp16": (1e-5, 1e-3),
                      "bf16": (1e-5, 1.6e-2)}  # fmt: skip
NO_GPU = (
    "gpubench.benchmark needs a CUDA GPU: it times on the device, and torch sees none "
    "(torch.cuda.is_available() is False). Without one, gpubench.check(fn, *args, reference=...) checks "
    "correctness (Triton kernels: TRITON_INTERPRET=1 with CPU tensors)"
)


class NoGPUError(RuntimeError):
    """Timing was asked for where torch sees no CUDA device."""


def number(name: str, value) -> float | None:
    """None, or a finite real number >= 0; TypeError / ValueError naming `name` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number >= 0, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def count(name: str, value) -> int | None:
    x = number(name, value)
    return None if x is None else int(round(x))


def label(name: str, value, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{name} must be a non-empty string, got {value!r}")
    return value


def shape_of(shape) -> dict[str, int]:
    if shape is None:
        return {}
    if not isinstance(shape, Mapping) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in shape.items()
    ):
        raise TypeError(f"shape must map axis names to whole numbers, e.g. {{'n': 4096}}; got {shape!r}")
    return dict(shape)


def stopping_rule(rule):
    from gpubench.bench.measure.stopping import StoppingRule
    from gpubench.bench.run.plan import PROFILES

    if isinstance(rule, StoppingRule):
        return "custom", rule
    if isinstance(rule, str) and rule in PROFILES:
        return rule, PROFILES[rule].rule
    raise ValueError(f"rule must be a StoppingRule or a profile name ({', '.join(PROFILES)}), got {rule!r}")


def tensor_args(args):
    """(label, tensor) for every tensor argument, one level into lists and tuples."""
    import torch

    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor):
            yield f"args[{i}]", a
        elif isinstance(a, (list, tuple)):
            yield from ((f"args[{i}][{j}]", b) for j, b in enumerate(a) if isinstance(b, torch.Tensor))


def device_for(device, args, stand_in: bool):
    """The device the timing runs on; ValueError naming an argument that is elsewhere."""
    import torch

    if not stand_in and not torch.cuda.is_available():
        raise NoGPUError(NO_GPU)
    tensors = list(tensor_args(args))
    if device is None:
        on_gpu = [t.device for _, t in tensors if t.device.type == "cuda"]
        if on_gpu:
            device = on_gpu[0]
        elif stand_in:
            device = tensors[0][1].device if tensors else torch.device("cpu")
        else:
            device = torch.device("cuda", torch.cuda.current_device())
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device: {device!r} is not a torch device ({exc})") from None
    if not stand_in and device.type != "cuda":
        raise ValueError(f"device: timing needs a CUDA device, got {device}")
    for label, t in tensors:
        same_index = None in (t.device.index, device.index) or t.device.index == device.index
        if t.device.type != device.type or not same_index:
            raise ValueError(
                f"{label} is a tensor on {t.device}, but the timing runs on {device}: move it there "
                f"(e.g. .to('{device}')) so the kernel does not time a copy, or fail"
            )
    return device


def dtype_of(dtype, args) -> str:
    if dtype is not None:
        return label("dtype", dtype, "")
    tensors = [t for _, t in tensor_args(args)]
    first = next((t for t in tensors if t.is_floating_point()), tensors[0] if tensors else None)
    return dtypes.normalise(first.dtype) if first is not None else dtypes.UNKNOWN


def check_output(out, expected, tol, shape) -> None:
    import torch

    if out is None:
        raise AssertionError("fn returned None: the reference check compares what fn returns")
    torch.testing.assert_close(
        out, expected, atol=tol.atol, rtol=tol.rtol, equal_nan=True, check_dtype=False, check_device=False
    )


def tolerance_for(dtype: str, atol, rtol) -> tuple[float, float]:
    base_atol, base_rtol = DEFAULT_TOLERANCES.get(dtype, (0.0, 0.0))
    atol, rtol = number("atol", atol), number("rtol", rtol)
    return (base_atol if atol is None else atol), (base_rtol if rtol is None else rtol)


@dataclass
class Call:
    """fn and its arguments as a one-variant workload, so that the suite's correctness check and
    measurement run it unchanged. `counted` receives FlopCounterMode's count of the reference."""

    workload: Any
    variant: Any
    flops: int | None
    nbytes: int | None
    counted: dict

    def record_fields(self, mode: str, gpu_uuid: str | None) -> dict:
        w, v = self.workload, self.variant
        return dict(
            workload=w.name, variant=v.name, backend="custom", shape=dict(w.shapes["test"][0]),
            dtype=w.dtypes[0], mode=mode, role=v.role, flops=self.flops, bytes=self.nbytes,
            uses_tensor_cores=w.uses_tensor_cores, description=v.description, gpu_uuid=gpu_uuid,
        )  # fmt: skip

    def failed(self, mode: str, gpu_uuid: str | None, exc: Exception) -> Record:
        """The record of a call whose output the reference check refused."""
        return Record(**self.record_fields(mode, gpu_uuid), status="failed", reason=f"incorrect: {exc}",
                      correctness=Correctness(checked=True, passed=False))  # fmt: skip


def make_call(fn, args, reference, *, name, variant, shape, dtype, atol, rtol, flops, nbytes, tc) -> Call:
    from gpubench.bench.measure.flopcheck import counted_call
    from gpubench.kernels import Tolerance, Variant, Workload

    fn_name = getattr(fn, "__name__", "fn").strip("<>")
    name, variant = label("name", name, fn_name), label("variant", variant, fn_name)
    shape, dtype = shape_of(shape), dtype_of(dtype, args)
    tol = tolerance_for(dtype, atol, rtol)
    counted: dict[str, int | None] = {}

    def counting_reference(*a):
        out, counted["flops"] = counted_call(reference, *a)
        return out

    ref = reference if reference is None or flops is None else counting_reference
    doc = (getattr(fn, "__doc__", None) or "").strip().split("\n")[0]
    w = Workload(
        name=name, axes=tuple(shape), shapes={"test": [shape], "bench": [shape]}, dtypes=(dtype,),
        tolerances={dtype: Tolerance(*tol)}, make_inputs=lambda *_: args, reference=ref,
        flops=lambda s: flops, bytes=lambda s, d: nbytes, uses_tensor_cores=bool(tc),
        check_output=check_output,
        variants={variant: Variant(variant, "torch", fn, description=doc)},
    )  # fmt: skip
    return Call(w, w.variants[variant], flops, nbytes, counted)


def check_callables(**named) -> None:
    for arg, value in named.items():
        if value is None and arg != "fn":
            continue
        if not callable(value):
            what = {"fn": "the function to time", "reference": "or None", "timer_factory": "(device, mode)"}
            raise TypeError(f"{arg} must be callable ({what[arg]}), got {type(value).__name__} {value!r:.60}")
