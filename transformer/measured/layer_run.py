"""One layer measured on the GPU: each operator at its shape with the suite's workloads (checked against
their references first), the rest as plain torch ops, and the whole layer as one torch module
(transformer.measured.blocks), every time next to the roofline's prediction for that operator.

Timing is gpubench.benchmark's (the suite's device timer, stopping rule and telemetry); each measurement
keeps its record. The document `layer_document` returns is what `gpubench layer --out` writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gpubench.kernels.workload import torch_dtype
from gpubench.transformer.measured.compose import Planned
from gpubench.transformer.predict import ModelPrediction

__all__ = ["LAYER_SCHEMA", "Measured", "layer_document", "measure_layer"]

LAYER_SCHEMA = "gpubench.layer"
LAYER_SCHEMA_VERSION = 1


@dataclass
class Measured:
    """What one operator took: per variant, a median (seconds) or why there is none."""

    planned: Planned
    variants: dict[str, dict] = field(
        default_factory=dict
    )  # name -> {"median_s", "record"} | {"skipped"|"failed"}

    @property
    def best(self) -> tuple[str | None, float | None]:
        ok = {v: d["median_s"] for v, d in self.variants.items() if "median_s" in d}
        if not ok:
            return None, None
        v = min(ok, key=ok.get)
        return v, ok[v]


def _bencher(rule, ceilings, timer_factory):
    """gpubench.benchmark with this run's stopping rule, ceilings and timer, giving a plain dict."""
    import gpubench

    def bench(fn, inputs, *, flops, nbytes, name, variant, shape, dtype, tc) -> dict:
        res = gpubench.benchmark(
            fn,
            *inputs,
            flops=flops,
            bytes=nbytes,
            name=name,
            variant=variant,
            shape=shape,
            dtype=dtype,
            uses_tensor_cores=tc,
            rule=rule,
            ceilings=ceilings,
            timer_factory=timer_factory,
        )
        return {"median_s": res.median, "flags": res.flags, "record": res.record.to_json()}

    return bench


def _workload(p: Planned, device, bench) -> dict[str, dict]:
    from gpubench.bench.measure.correctness import CorrectnessError, check_variant
    from gpubench.kernels import REGISTRY

    w, out = REGISTRY[p.workload], {}
    for name in p.variants:
        v = w.variant(name)
        if (reason := v.skip_reason(device, p.shape, p.dtype)) is not None:
            out[name] = {"skipped": reason}
            continue
        try:
            checked = check_variant(w, v, p.shape, p.dtype, device)  # correct before timed
            inputs = w.make_inputs(p.shape, p.dtype, device, 0)
            out[name] = bench(
                v.fn,
                inputs,
                flops=w.flops(p.shape),
                nbytes=w.bytes(p.shape, p.dtype),
                name=w.name,
                variant=name,
                shape=p.shape,
                dtype=p.dtype,
                tc=w.uses_tensor_cores,
            )
            out[name]["correctness"] = checked.to_json()
        except CorrectnessError as exc:
            out[name] = {"failed": f"incorrect: {exc}"}
        except Exception as exc:  # one variant that cannot run does not stop the layer
            out[name] = {"failed": f"{type(exc).__name__}: {exc}"}
    return out


def _torch(p: Planned, cfg, sc, device, dtype, bench) -> dict[str, dict]:
    """The operator as a plain torch op, under its own key ("torch_op"): a workload's own torch variant
    that failed stays in the document as it was."""
    from gpubench.transformer.measured.torch_ops import torch_op

    op = p.op
    fn, inputs = torch_op(op, heads=cfg.heads, kv_heads=cfg.kv_heads, device=device, dtype=dtype)
    try:
        return {
            "torch_op": bench(
                fn,
                inputs,
                flops=op.flops,
                nbytes=op.bytes,
                name=f"layer.{op.name}",
                variant="torch_op",
                shape=op.shape,
                dtype=sc.dtype,
                tc=op.tensor_cores,
            )
        }
    except Exception as exc:
        return {"torch_op": {"failed": f"{type(exc).__name__}: {exc}"}}


def measure_layer(
    plan: list[Planned], pred: ModelPrediction, device, rule="quick", ceilings=None, timer_factory=None
):
    """(per-operator measurements, the torch layer's measurement) on a CUDA `device`. `timer_factory`:
    gpubench.benchmark's stand-in for the device timer (the CPU tests run the whole path with one)."""
    import torch

    from gpubench.transformer.measured.blocks import block_from_config, block_inputs

    cfg, sc = pred.cfg, pred.sc
    bench = _bencher(rule, ceilings, timer_factory)
    dtype = torch_dtype(sc.dtype)
    measured = []
    for p in plan:
        got = _workload(p, device, bench) if p.workload else {}
        if not p.workload or not any("median_s" in d for d in got.values()):
            got.update(_torch(p, cfg, sc, device, dtype, bench))
        measured.append(Measured(p, got))
    block = block_from_config(
        cfg, device=device, dtype=dtype, phase=sc.phase, batch=sc.batch, seq=sc.seq, context=sc.context
    )
    x = block_inputs(cfg, device=device, dtype=dtype, batch=sc.batch, seq=sc.seq)
    with torch.no_grad():
        shape = {"batch": sc.batch, "seq": sc.seq, "context": sc.context}
        layer = bench(
            block,
            x,
            flops=pred.layer_flops(),
            nbytes=pred.layer_bytes(),
            name=f"layer.{cfg.key}",
            variant="torch_module",
            shape=shape,
            dtype=sc.dtype,
            tc=True,
        )
    return measured, layer


def layer_document(
    pred: ModelPrediction, measured: list[Measured], layer: dict | None, device_name: str
) -> dict:
    sc, rows = pred.sc, {r.op.name: r for r in pred.layer_rows()}
    ops = []
    for m in measured:
        p, row = m.planned, rows[m.planned.op.name]
        best, best_s = m.best
        ops.append(
            {
                "name": p.op.name,
                "kind": p.op.kind,
                "flops": p.op.flops,
                "bytes": p.op.bytes,
                "measured_by": p.source,
                "workload": p.workload,
                "shape": p.shape,
                "reason": p.reason,
                "note": p.note,
                "predicted": {s: t.time_s for s, t in row.times.items()},
                "bound": {s: t.bound for s, t in row.times.items()},
                "measured_s": best_s,
                "best_variant": best,
                "variants": m.variants,
            }
        )
    known = [o["measured_s"] for o in ops]
    return {
        "schema": LAYER_SCHEMA,
        "schema_version": LAYER_SCHEMA_VERSION,
        "model": pred.cfg.to_json(),
        "gpu": device_name,
        "spec": pred.spec.name,
        "scenario": sc.to_json(),
        "measured_ceilings": pred.measured_origin,
        "operators": ops,
        "layer": {
            "predicted": {s: pred.layer_s(s) for s in pred.sides},
            "sum_of_operators_s": None if any(k is None for k in known) else sum(known),
            "torch_layer_s": layer.get("median_s") if layer else None,
            "torch_layer": layer,
        },
    }
