"""torch.compile as a baseline: the first question a Triton author hears is "does it beat torch.compile?".

`Compiled(fn, mode)` is a variant's launcher: `fn` (plain torch ops) compiled by torch.compile with
inductor, `fullgraph=True` (a graph break is an error, never a silent partial fallback) and
`dynamic=False`: every shape and dtype gets a kernel specialised for it, as a model with static shapes has
after its warm-up. Each new input signature is compiled on its first call, which is timed once, with the
device synchronised on both sides: `compile_s` (tracing, inductor, autotuning and that one run), and the
part inductor's own timers spent autotuning, `autotune_s`. The harness makes that first call in its
correctness check, before any sample is taken, so no compile time lands in the samples; the record keeps
both figures in its details (`details()`).

Recompiles are counted, not hidden: with static shapes a new shape or dtype compiles again (`recompile`:
true for every signature after the first), and a compile during a later call at a signature already
compiled (a guard that failed while the variant was timed) is counted in `recompiles_after` from dynamo's
own counters. The recompile limit is raised for these compiles, and reaching it is an error rather than
dynamo's silent fall back to eager code.

Modes: GEMM-like work (GEMM, convolution, the quantised matmuls) compiles with max-autotune; the others
with the default mode, what a user gets from a bare torch.compile. CUDA graphs stay off in both
("max-autotune-no-cudagraphs"): the suite times every variant with its own method (a graph replay where
the kernel is short), and inductor's graph trees would add copies into their static input buffers.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import Any

from gpubench.kernels.workload import Variant
from gpubench.roles import BASELINE

DEFAULT = "default"
MAX_AUTOTUNE = "max-autotune-no-cudagraphs"
MODES = (DEFAULT, MAX_AUTOTUNE)
# Enough entries for every shape and dtype a bench sweep gives one function (dynamic=False keeps one each).
RECOMPILE_LIMIT = 512
# inductor's timers (torch._dynamo.utils.compilation_time_metrics) that measure autotuning: template
# choices benchmarked and precompiled, fused nodes benchmarked, Triton configs benchmarked at run time.
_AUTOTUNE_TIMERS = ("_template_autotuning", "_template_precompiling", "benchmark_fused_nodes",
                    "CachingAutotuner.")  # fmt: skip
_WRAPPED: set = set()  # the code objects already compiled by a Compiled: dynamo keeps one cache per code


def _graphs() -> int:
    """Graphs dynamo has compiled in this process (its own counter, `unique_graphs`)."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def _autotune_seconds() -> float:
    from torch._dynamo.utils import compilation_time_metrics

    return float(sum(sum(times) for name, times in compilation_time_metrics.items()
                     if any(t in name for t in _AUTOTUNE_TIMERS)))  # fmt: skip


def _signature(args) -> tuple:
    """What dynamo specialises a static-shape compile on: each tensor's shape, strides, dtype and device,
    each other argument's value."""
    import torch

    out = []
    for a in args:
        if isinstance(a, torch.Tensor):
            out.append((tuple(a.shape), a.stride(), a.dtype, a.device))
        else:
            try:
                out.append((type(a).__name__, hash(a), a))
            except TypeError:  # an unhashable object (a block mask): the same object, the same compile
                out.append((type(a).__name__, id(a)))
    return tuple(out)


def _synchronize(args) -> None:
    import torch

    for a in args:
        if isinstance(a, torch.Tensor) and a.device.type == "cuda":
            torch.cuda.synchronize(a.device)
            return


def inductor_problem(device) -> str | None:
    """Why inductor cannot compile for `device` here (None when it can)."""
    try:
        import torch._dynamo  # noqa: F401
        import torch._inductor  # noqa: F401
    except Exception as exc:  # a torch build without the compiler stack
        return f"torch.compile is unavailable in this torch: {type(exc).__name__}: {exc}"
    if getattr(device, "type", "cpu") == "cpu" and not (shutil.which("g++") or shutil.which("c++")):
        return "inductor's CPU backend needs a C++ compiler (g++ or c++ on PATH)"
    return None


class Compiled:
    """`fn` compiled by torch.compile(mode=`mode`, fullgraph=True, dynamic=False) on first call; each
    input signature's compile timed once (see the module's notes). One Compiled per function: dynamo keeps
    its compiled code per code object, so two wrappers of one function would share (and count) entries."""

    def __init__(self, fn: Callable, mode: str = DEFAULT):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        code = getattr(fn, "__code__", None)
        if code is None:
            raise TypeError(f"Compiled wraps a Python function, got {type(fn).__name__}")
        if code in _WRAPPED:
            raise ValueError(f"{fn.__qualname__} is already compiled by another Compiled; give it its own")
        _WRAPPED.add(code)
        self.fn, self.mode = fn, mode
        self.__name__ = f"compiled_{fn.__name__}"
        self._compiled = None
        self._stats: dict[tuple, dict[str, Any]] = {}
        self._last: tuple | None = None

    def _build(self):
        import torch

        self._compiled = torch.compile(self.fn, mode=self.mode, fullgraph=True, dynamic=False)
        return self._compiled

    def __call__(self, *args):
        key = _signature(args)
        if key not in self._stats:
            return self._first(key, args)
        before = _graphs()
        out = self._compiled(*args)
        if (after := _graphs()) != before:
            self._stats[key]["recompiles_after"] += after - before
        self._last = key
        return out

    def _first(self, key: tuple, args):
        import torch._dynamo

        compiled = self._compiled or self._build()
        limits = {"recompile_limit": RECOMPILE_LIMIT, "accumulated_recompile_limit": RECOMPILE_LIMIT,
                  "fail_on_recompile_limit_hit": True}  # fmt: skip
        _synchronize(args)
        graphs, autotune = _graphs(), _autotune_seconds()
        start = time.perf_counter()
        with torch._dynamo.config.patch(**limits):
            out = compiled(*args)
        _synchronize(args)
        seconds = time.perf_counter() - start
        self._stats[key] = {
            "mode": self.mode,
            "compile_s": seconds,
            "autotune_s": _autotune_seconds() - autotune,
            "graphs": _graphs() - graphs,
            "recompile": bool(self._stats),
            "recompiles_after": 0,
        }
        self._last = key
        return out

    def first_backward(self, run: Callable[[], Any], args) -> Any:
        """`run()`: the first backward through a graph of this function's last signature. AOTAutograd
        compiles the backward graph on the first such call, so its time (`backward_s`) joins that
        signature's compile figures, once; later graphs of the signature run the compiled backward."""
        stats = self._stats[self._last]
        if "backward_s" in stats:
            return run()
        _synchronize(args)
        graphs, autotune = _graphs(), _autotune_seconds()
        start = time.perf_counter()
        out = run()
        _synchronize(args)
        stats["backward_s"] = time.perf_counter() - start
        stats["compile_s"] += stats["backward_s"]
        stats["autotune_s"] += _autotune_seconds() - autotune
        stats["graphs"] += _graphs() - graphs
        return out

    def details(self) -> dict[str, Any]:
        """{"compile": ...} for the signature of the last call (empty before any): what a record of it
        carries beside its samples, measured once."""
        if self._last is None:
            return {}
        return {"compile": {**self._stats[self._last], "signatures": len(self._stats),
                            "dynamic": False, "fullgraph": True}}  # fmt: skip


NAME = "torch_compile"  # every workload's torch.compile baseline goes by this name


def variant(core: Compiled, description: str, supported=None, launcher: Callable | None = None,
            compute_dtype: str | None = None) -> Variant:
    """The workload's `torch_compile` baseline: `core` run by `launcher` (default: `core` itself, called
    with the workload's inputs; a launcher checks and prepares them, then calls `core`);
    `supported(device, shape, dtype)` adds the workload's own skip reasons to inductor's; `compute_dtype`:
    as Variant's (the quantised dots' roof)."""

    def can_run(device, shape, dtype):
        return inductor_problem(device) or (supported(device, shape, dtype) if supported else None)

    what = "max-autotune" if core.mode == MAX_AUTOTUNE else "default mode"
    return Variant(NAME, "torch", launcher or core, supported=can_run, role=BASELINE, details=core.details,
                   compute_dtype=compute_dtype,
                   description=f"torch.compile ({what}, static shapes) of {description}")  # fmt: skip


def mode_of(v) -> str | None:
    """The torch.compile mode variant `v` compiles with (None: it compiles nothing)."""
    return v.details.__self__.mode if is_compiled(v) else None


def is_compiled(v) -> bool:
    """Whether variant `v` runs a Compiled (its details are the Compiled's: the launcher may wrap it to
    prepare the call): the CPU pass runs those with inductor's CPU backend."""
    return isinstance(getattr(v.details, "__self__", None), Compiled)
