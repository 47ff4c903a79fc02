"""A transformer's operators placed on a GPU: which roof binds each, its predicted time, the model's totals,
tokens per second and memory footprint.

Each operator's time is the suite's multi-term estimate (roofline.perfmodel: DRAM, tensor or SIMT, waves,
and with measured ceilings latency and launch), on the datasheet of a GPU of the spec database and on the
ceilings measured on it where a ceilings file is given; the roof that binds is roofline.roof.predict's.
An operator of several kernels (an unfused norm) takes the sum of its kernels' times. Every operator is
cold (weights and activations stream from DRAM): a layer's weights are far larger than any L2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gpubench.results import MeasuredCeilings
from gpubench.roofline.crossgen import ceilings_of_spec
from gpubench.roofline.perfmodel import Machine, estimate
from gpubench.roofline.roof import predict
from gpubench.roofline.specs import GPUSpec
from gpubench.transformer import counts
from gpubench.transformer.configs import ModelConfig
from gpubench.transformer.operators import Operator, layer_operators, model_operators
from gpubench.transformer.scenario import Scenario

__all__ = ["SIDES", "Memory", "ModelPrediction", "OpTime", "Row", "op_time", "predict_model"]

SIDES = ("datasheet", "measured")


@dataclass(frozen=True)
class OpTime:
    time_s: float | None
    limit: str | None  # the perfmodel term that gives the time (of the longest kernel, for several)
    bound: str  # "memory" or "compute": the roof that binds the operator's (flops, bytes)
    attainable_tflops: float | None
    terms: dict[str, float] = field(default_factory=dict)
    note: str | None = None  # a stated fallback, or why there is no time (roofline.rates)
    refused: bool = False

    def to_json(self) -> dict:
        return {
            "predicted_s": self.time_s,
            "limit": self.limit,
            "bound": self.bound,
            "attainable_tflops": self.attainable_tflops,
            "terms": self.terms,
            "note": self.note,
            "refused": self.refused,
        }


def op_time(op: Operator, machine: Machine) -> OpTime:
    kernels = op.parts or (counts.Count(op.flops, op.bytes),)
    shape = op.shape if op.kind == "gemm" else {}  # the waves term knows plain GEMMs only
    ests = [estimate(k.flops, k.bytes, op.dtype, "cold", op.tensor_cores, shape, machine) for k in kernels]
    times = [e.time_s for e in ests]
    total = None if any(t is None for t in times) else sum(times)
    longest = max(ests, key=lambda e: e.time_s or 0.0)
    terms: dict[str, float] = {}
    for e in ests:
        for name, t in e.terms.items():
            terms[name] = terms.get(name, 0.0) + t
    p = predict(op.flops, op.bytes, op.dtype, machine.ceilings, op.tensor_cores, gpu=machine.spec)
    refused = any(e.refused for e in ests)
    return OpTime(total, longest.limit, p.bound, p.attainable_tflops, terms, p.note, refused)


@dataclass(frozen=True)
class Row:
    op: Operator
    count: int  # how often it runs in one forward: the layers, or once
    times: dict[str, OpTime]  # side -> its time there

    def total_s(self, side: str) -> float | None:
        t = self.times.get(side)
        return None if t is None or t.time_s is None else t.time_s * self.count


@dataclass(frozen=True)
class Memory:
    weights: int
    kv_cache: int
    activations: int  # the largest kernel's activations: an estimate of the transient peak
    capacity: int | None

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.activations

    @property
    def fits(self) -> bool | None:
        return None if not self.capacity else self.total <= self.capacity

    @property
    def gpus_needed(self) -> int | None:
        return math.ceil(self.total / self.capacity) if self.capacity else None

    def to_json(self) -> dict:
        return {
            "weights_bytes": self.weights,
            "kv_cache_bytes": self.kv_cache,
            "activations_bytes": self.activations,
            "total_bytes": self.total,
            "gpu_memory_bytes": self.capacity,
            "fits": self.fits,
            "gpus_needed": self.gpus_needed,
        }


@dataclass(frozen=True)
class ModelPrediction:
    cfg: ModelConfig
    sc: Scenario
    spec: GPUSpec
    rows: list[Row]
    sides: tuple[str, ...]  # the sides predicted: datasheet, and measured where ceilings were given
    measured_origin: str | None = None

    def layer_rows(self) -> list[Row]:
        return [r for r in self.rows if r.op.scope == "layer"]

    def total(self, attr: str, rows: list[Row] | None = None) -> int:
        return sum(getattr(r.op, attr) * r.count for r in (self.rows if rows is None else rows))

    @property
    def total_flops(self) -> int:
        return self.total("flops")

    @property
    def total_bytes(self) -> int:
        return self.total("bytes")

    def layer_flops(self) -> int:
        return sum(r.op.flops for r in self.layer_rows())

    def layer_bytes(self) -> int:
        return sum(r.op.bytes for r in self.layer_rows())

    def predicted_s(self, side: str = "datasheet", rows: list[Row] | None = None) -> float | None:
        times = [r.total_s(side) for r in (self.rows if rows is None else rows)]
        return None if not times or any(t is None for t in times) else sum(times)

    def layer_s(self, side: str = "datasheet") -> float | None:
        times = [r.times[side].time_s for r in self.layer_rows() if side in r.times]
        return None if side not in self.sides or any(t is None for t in times) else sum(times)

    def tokens_per_s(self, side: str = "datasheet") -> float | None:
        t = self.predicted_s(side)
        return self.sc.tokens / t if t else None

    def by_kind(self, side: str = "datasheet") -> dict[str, float]:
        out: dict[str, float] = {}
        for r in self.rows:
            if (t := r.total_s(side)) is not None:
                out[r.op.kind] = out.get(r.op.kind, 0.0) + t
        return out

    @property
    def memory(self) -> Memory:
        weights = self.total("resident_bytes")
        s = self.sc.itemsize
        kv = 2 * self.cfg.layers * self.sc.batch * self.sc.context * self.cfg.kv_dim * s
        largest = max(max((p.bytes for p in r.op.parts), default=r.op.activation_bytes) for r in self.rows)
        return Memory(weights, kv, largest, self.spec.mem_bytes)

    def refused(self) -> list[str]:
        """Why operators have no time on this GPU (roofline.rates: a unit it lacks, no fallback)."""
        return sorted({f"{r.op.name}: {t.note}" for r in self.rows for t in r.times.values() if t.refused})

    def notes(self) -> list[str]:
        out = {t.note for r in self.rows for t in r.times.values() if t.note}
        return sorted(out)


def predict_model(
    cfg: ModelConfig,
    sc: Scenario,
    spec: GPUSpec,
    measured: MeasuredCeilings | None = None,
    measured_origin: str | None = None,
) -> ModelPrediction:
    """Every operator of `cfg` under `sc` on `spec` (and on the ceilings measured on it, when given)."""
    on = ceilings_of_spec(spec, measured)
    machines = {side: m for side in SIDES if (m := on.machine(side)) is not None}
    rows = []
    for op in layer_operators(cfg, sc) + model_operators(cfg, sc):
        count = cfg.layers if op.scope == "layer" else 1
        rows.append(Row(op, count, {side: op_time(op, m) for side, m in machines.items()}))
    return ModelPrediction(cfg, sc, spec, rows, tuple(machines), measured_origin)
