"""A module as a torch.fx graph: torch.fx.symbolic_trace, else torch.export (an fx graph of ATen ops).

Symbolic tracing keeps the module's own structure (nn.Linear stays one call_module node) but stops at
Python control flow on tensor values and at code it cannot follow (decorated or keyword-heavy
forwards, such as the `transformers` models'); torch.export follows those with example inputs and gives
ATen-level nodes. A module neither can trace raises `UntraceableModule`, naming where each stopped.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TRACERS", "Traced", "UntraceableModule", "trace"]

TRACERS = ("auto", "fx", "export")


class UntraceableModule(ValueError):
    """torch.fx could not trace the module; the message says where each tracer stopped and why."""


@dataclass(frozen=True)
class Traced:
    graph_module: object  # torch.fx.GraphModule
    tracer: str  # "torch.fx.symbolic_trace" or "torch.export"
    notes: tuple[str, ...] = ()


def _library_dirs() -> tuple[str, ...]:
    import torch

    return (str(Path(torch.__file__).parent), str(Path(__file__).parent))


def where_it_stopped(exc: BaseException) -> str:
    """The innermost frame of the module's own code in the traceback: file:line in function: source."""
    skip = _library_dirs()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(skip)]
    frames = [f for f in frames if "importlib" not in f.filename and not f.filename.startswith("<")]
    if not frames:
        return "inside torch, before any of the module's own code ran"
    f = frames[-1]
    code = f" `{f.line.strip()}`" if f.line else ""
    return f"{f.filename}:{f.lineno} in {f.name}{code}"


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}{'...' if len(text) > 300 else ''}"


def _fx(module):
    import torch.fx

    return torch.fx.symbolic_trace(module)


@contextlib.contextmanager
def _quiet_stderr():
    """torch.export prints the graph it gave up on and its guards (dozens of lines on stderr, through
    loggers made at import); the reason comes with the exception, and a failure here is one line."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
            os.dup2(null.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _export(module, inputs):
    import torch

    with _quiet_stderr():
        return torch.export.export(module, tuple(inputs)).module()


def trace(module, inputs, tracer: str = "auto") -> Traced:
    """`module` as a GraphModule: `tracer` "fx", "export", or "auto" (fx, then export where fx stops)."""
    import torch

    if tracer not in TRACERS:
        raise ValueError(f"tracer must be one of {', '.join(TRACERS)}, got {tracer!r}")
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    stopped = []
    if tracer in ("auto", "fx"):
        try:
            return Traced(_fx(module), "torch.fx.symbolic_trace")
        except Exception as exc:
            stopped.append(f"torch.fx.symbolic_trace stopped at {where_it_stopped(exc)}: {_why(exc)}")
    if tracer in ("auto", "export"):
        try:
            gm = _export(module, inputs)
            return Traced(
                gm, "torch.export", tuple(f"{s}; traced with torch.export instead" for s in stopped)
            )
        except Exception as exc:
            stopped.append(f"torch.export stopped at {where_it_stopped(exc)}: {_why(exc)}")
    name = type(module).__name__
    raise UntraceableModule(f"cannot trace {name}: " + "; ".join(stopped))
