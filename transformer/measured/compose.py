"""Which of the suite's workloads measures each operator of a layer, at what shape and with which variants;
the operators no workload covers are timed as plain torch ops (transformer.measured.torch_ops) instead.

Pure logic over plain data (the registry's names, axes and variants), so the mapping is tested on the
CPU. Workloads are looked up by name: `attention` and `qmatmul` join the plan as soon as they are
registered, and until then their operators say why they are timed as torch ops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gpubench.opcount import WEIGHT_FORMATS
from gpubench.transformer.operators import Operator
from gpubench.transformer.scenario import Scenario

__all__ = ["Planned", "WorkloadInfo", "plan_layer", "registry_info"]

DECODE_QUERIES = 16  # up to this many queries an attention call is a decode (split-KV variants first)


@dataclass(frozen=True)
class WorkloadInfo:
    axes: tuple[str, ...]
    variants: tuple[str, ...]
    dtypes: tuple[str, ...]


@dataclass(frozen=True)
class Planned:
    op: Operator
    workload: str | None  # None: timed as a torch op
    shape: dict | None = None
    dtype: str | None = None
    variants: tuple[str, ...] = ()
    reason: str | None = None  # why no workload measures it
    note: str = ""  # what the workload's measurement leaves out of the operator

    @property
    def source(self) -> str:
        return f"{self.workload} ({', '.join(self.variants)})" if self.workload else "torch op"


def registry_info() -> dict[str, WorkloadInfo]:
    """The registered workloads (gpubench.kernels.REGISTRY) as plain data."""
    from gpubench.kernels import REGISTRY

    return {
        name: WorkloadInfo(tuple(w.axes), tuple(w.variants), tuple(w.dtypes)) for name, w in REGISTRY.items()
    }


def _pick(info: WorkloadInfo, wanted: Sequence[str]) -> tuple[str, ...]:
    return tuple(v for v in wanted if v in info.variants)


def _fill(info: WorkloadInfo, shape: dict, extra: dict) -> tuple[dict | None, str | None]:
    """The workload's shape from the operator's axes; None and why when an axis has no value."""
    values = {**shape, **extra}
    missing = [a for a in info.axes if a not in values]
    if missing:
        return None, f"its axes {missing} have no value in the operator's shape {sorted(shape)}"
    return {a: values[a] for a in info.axes}, None


def _target(op: Operator, sc: Scenario) -> tuple[str | None, dict, tuple[str, ...], str]:
    """(workload, extra axis values, preferred variants, note) for an operator, or (None, ..) with why."""
    fused = ("triton", "torch")
    if op.kind == "gemm":
        fmt = sc.weights if op.name != "lm_head" else None
        if fmt is not None:
            group = sc.group if WEIGHT_FORMATS[fmt].grouped else op.shape["K"]
            return "qmatmul", {"group": group}, (fmt,), f"{fmt} weights"
        note = "the gemm workload has no bias: the epilogue's adds are not measured" if op.bias else ""
        return "gemm", {}, ("triton", "triton_persistent_tma", "torch"), note
    if op.kind == "attention" and op.name == "attention":
        flash = ("triton", "sdpa_flash")
        return "attention", {}, ("decode", *flash) if op.shape["seq_q"] <= DECODE_QUERIES else flash, ""
    if op.kind in ("norm", "softmax"):
        name = "softmax" if op.kind == "softmax" else op.form
        return name, {}, fused if not op.parts else ("unfused",), ""
    what = {
        "attn_scores": "a batched GEMM",
        "attn_context": "a batched GEMM",
        "rope": "the rotary embedding",
        "embedding": "a gather",
        "act": "the activation",
    }.get(op.name, f"an elementwise {op.name}")
    return None, {}, (), f"no workload for {what}"


def plan_layer(ops: Sequence[Operator], sc: Scenario, workloads: Mapping[str, WorkloadInfo]) -> list[Planned]:
    """One Planned per operator: the workload and shape that measure it, or why a torch op stands in."""
    out = []
    for op in ops:
        name, extra, wanted, note = _target(op, sc)
        if name is None:
            out.append(Planned(op, None, reason=note))
            continue
        info = workloads.get(name)
        stand_in = "the torch stand-in runs it unquantised, in the dtype" if name == "qmatmul" else ""
        if info is None:
            out.append(Planned(op, None, reason=f"workload {name!r} is not registered", note=stand_in))
            continue
        variants = (
            _pick(info, wanted) if name != "qmatmul" else tuple(v for v in info.variants if wanted[0] in v)
        )
        if name == "attention":  # any decode-named variant for a decode, else the preferred ones
            decode = tuple(v for v in info.variants if "decode" in v) if "decode" in wanted else ()
            variants = decode + _pick(info, wanted[1:] if decode or "decode" in wanted else wanted)
        shape, why = _fill(info, op.shape, extra)
        dtype = op.dtype if op.dtype in info.dtypes else sc.dtype
        if not variants:
            why = why or f"{name} has none of the variants {list(wanted)} (it has {list(info.variants)})"
        if why is None and dtype not in info.dtypes:
            why = f"{name} does not take {dtype}"
        if why is not None:
            out.append(Planned(op, None, reason=f"{name}: {why}", note=stand_in))
            continue
        out.append(Planned(op, name, shape, dtype, variants, note=note))
    return out
