"""Node-by-node profile of a torch module: trace it (transformer.measured.tracing), run the graph once with
torch.fx's Interpreter, and at every node time its call with the suite's timer (bench.measure.sampling's
adaptive loop: CUDA events on a GPU, a labelled host timer on the CPU), count its FLOPs and bytes
(transformer.measured.accounting) and place it on a GPU's roofline (transformer.predict)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.fx

from gpubench import dtypes
from gpubench.bench.measure.sampling import measure
from gpubench.results.stats import quantile
from gpubench.transformer.measured.accounting import count_node, op_name, tensors_of
from gpubench.transformer.measured.timers import timer_for
from gpubench.transformer.measured.tracing import trace
from gpubench.transformer.operators import Operator
from gpubench.transformer.predict import op_time

__all__ = ["ModuleProfile", "NodeProfile", "profile_module"]

_TIMED_OPS = ("call_function", "call_method", "call_module")


@dataclass
class NodeProfile:
    index: int
    name: str
    op: str  # the fx node kind: call_function, call_method, call_module, placeholder, get_attr, output
    target: str  # the operator in plain words
    inputs: list[str]
    shape: tuple[int, ...] | None = None  # the (first) output's shape
    dtype: str | None = None
    kind: str = "not timed"  # "compute", "data movement", "view", or "not timed" (no tensor made)
    time_s: float | None = None  # median
    samples: int = 0
    flops: int | None = None
    flops_source: str | None = None
    counter_flops: int | None = None  # FlopCounterMode's own count, where it counted
    bytes: int | None = None
    bound: str | None = None  # on the GPU named: "memory" or "compute"
    predicted_s: float | None = None
    limit: str | None = None

    @property
    def intensity(self) -> float | None:
        return self.flops / self.bytes if self.flops is not None and self.bytes else None

    @property
    def timed(self) -> bool:
        return self.time_s is not None


@dataclass
class ModuleProfile:
    module: str
    tracer: str
    timer: str  # what the times are
    device_time: bool  # False: host wall times on the CPU
    gpu: str | None  # the roofline the nodes are placed on
    nodes: list[NodeProfile]
    module_time_s: float | None = None  # the whole module, called as one
    notes: list[str] = field(default_factory=list)

    def timed(self) -> list[NodeProfile]:
        return [n for n in self.nodes if n.timed]

    @property
    def nodes_time_s(self) -> float:
        return sum(n.time_s for n in self.timed())

    def total(self, attr: str) -> int:
        return sum(getattr(n, attr) or 0 for n in self.timed())

    def heaviest(self, count: int = 10, by: str = "time_s") -> list[NodeProfile]:
        return sorted(self.timed(), key=lambda n: -(getattr(n, by) or 0))[:count]

    def to_frame(self):
        from gpubench.transformer.measured.report import frame

        return frame(self)

    def to_csv(self, path) -> None:
        self.to_frame().to_csv(path, index=False)

    def table(self, top: int = 10) -> str:
        from gpubench.transformer.measured.report import table

        return table(self, top)

    def plot(self, path) -> None:
        from gpubench.transformer.measured.graph_plot import plot_graph

        plot_graph(self, path)


def _median(samples) -> float:
    return quantile(sorted(samples), 0.5)


def _dtype(tensors) -> str | None:
    floating = [t for t in tensors if t.is_floating_point()]
    pick = floating[0] if floating else (tensors[0] if tensors else None)
    return dtypes.normalise(pick.dtype) if pick is not None else None


def _params(gm, node) -> list[torch.Tensor]:
    if node.op != "call_module":
        return []
    sub = gm.get_submodule(node.target)
    return [*sub.parameters(), *sub.buffers()]


def _copies(value):
    return torch.utils._pytree.tree_map(lambda t: t.clone() if isinstance(t, torch.Tensor) else t, value)


class _Profiler(torch.fx.Interpreter):
    """Runs the graph once; every node that makes a tensor is counted and timed on its real inputs."""

    def __init__(self, gm, timer, rule, machines):
        super().__init__(gm)
        self.timer, self.rule, self.machines = timer, rule, machines
        self.profiles: list[NodeProfile] = []

    def run_node(self, n):
        out = super().run_node(n)
        inputs = [a.name for a in n.all_input_nodes]
        prof = NodeProfile(len(self.profiles), n.name, n.op, str(n.target), inputs)
        outs = tensors_of(out)
        if outs:
            prof.shape, prof.dtype = tuple(outs[0].shape), _dtype(outs)
        if n.op in _TIMED_OPS:
            prof.target = op_name(n, self.module)
            self._measure(n, prof, out)
        self.profiles.append(prof)
        return out

    def _measure(self, n, prof: NodeProfile, out) -> None:
        args, kwargs = self.fetch_args_kwargs_from_env(n)
        made, given = tensors_of(out), tensors_of((args, kwargs))
        if not made and prof.target not in ("setitem", "__setitem__"):
            return  # sizes, shapes and other Python values: nothing runs on the device
        in_place = prof.target.endswith("_") and not prof.target.startswith("__")
        if in_place and any(o is t for o in made for t in given):
            args, kwargs = _copies(args), _copies(kwargs)  # timed on copies: the graph's values stay as run
        call = getattr(self, n.op)
        run = lambda: call(n.target, args, kwargs)  # noqa: E731
        counts = count_node(prof.target, run, args, kwargs, out, _params(self.module, n))
        prof.flops, prof.flops_source, prof.counter_flops, prof.bytes, prof.kind = counts
        prof.dtype = prof.dtype or _dtype(tensors_of((args, kwargs)))
        m = measure(run, self.timer, self.rule)
        prof.time_s, prof.samples = _median(m.samples), len(m.samples)
        self._place(prof)

    def _place(self, prof: NodeProfile) -> None:
        if not self.machines or prof.kind == "view" or not prof.bytes or prof.dtype is None:
            return
        tc = prof.flops_source is not None and not prof.flops_source.startswith(("estimate", "none"))
        op = Operator(prof.name, prof.target, "node", prof.flops or 0, prof.bytes, prof.dtype, tc)
        side = "measured" if "measured" in self.machines else "datasheet"
        t = op_time(op, self.machines[side])
        prof.bound, prof.predicted_s, prof.limit = t.bound, t.time_s, t.limit


def _machines(gpu, ceilings, device) -> tuple[dict, str | None, list[str]]:
    """The roofline the nodes go on: `gpu` (a name, or a roofline.target.Target), else the CUDA device's
    own. Ceilings measured on another GPU model are refused (roofline.target.TargetError, a ValueError)."""
    from gpubench.roofline.crossgen import ceilings_of_spec
    from gpubench.roofline.specs import resolve_spec
    from gpubench.roofline.target import Target, check_ceilings, resolve_target

    if gpu is not None:
        target = gpu if isinstance(gpu, Target) else resolve_target(gpu, ceilings=ceilings)
        on, name = target.ceilings(), target.name
    elif device.type == "cuda":
        from gpubench.bench.measure.device import device_info

        spec = resolve_spec(device_info(device))
        on, name = ceilings_of_spec(spec, check_ceilings(spec, ceilings)[0] if ceilings else None), spec.name
    elif ceilings is not None:
        raise ValueError("measured ceilings need the GPU they were measured on: name it (gpu=, --gpu)")
    else:
        return {}, None, ["no roofline placement: the CPU is not in the spec database (name a GPU: --gpu)"]
    machines = {s: m for s in ("datasheet", "measured") if (m := on.machine(s)) is not None}
    return machines, name, []


def _device_of(inputs, module):
    for t in tensors_of(inputs):
        return t.device
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


def profile_module(
    module,
    *inputs,
    gpu: str | None = None,
    ceilings=None,
    mode: str = "cold",
    tracer: str = "auto",
    rule=None,
) -> ModuleProfile:
    """Trace `module`, run it once on `inputs`, and time, count and place every node.

    gpu       the GPU whose roofline the nodes go on: a spec-database name or a roofline.target.Target
              (default: the CUDA device's own; on the CPU no placement unless named); `ceilings` a
              `gpubench micro` file measured on that GPU model (another model's are refused)
    mode      "cold" (L2 flushed before every sample) or "warm", on a CUDA device
    tracer    "auto" (torch.fx.symbolic_trace, else torch.export), "fx" or "export"
    rule      a gpubench.bench.measure.stopping.StoppingRule for every node (default: a short one)
    Raises UntraceableModule (naming where tracing stopped), TypeError / ValueError for bad arguments.
    """
    device = _device_of(inputs, module)
    traced = trace(module, inputs, tracer)
    timer, default_rule, label = timer_for(device, mode)
    machines, gpu_name, notes = _machines(gpu, ceilings, device)
    with torch.no_grad():
        prof = _Profiler(traced.graph_module, timer, rule or default_rule, machines)
        prof.run(*inputs)
        whole = measure(lambda: module(*inputs), timer, rule or default_rule)
    return ModuleProfile(
        type(module).__name__,
        traced.tracer,
        label,
        device.type == "cuda",
        gpu_name,
        prof.profiles,
        _median(whole.samples),
        [*traced.notes, *notes],
    )
