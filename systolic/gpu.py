"""The same layers on a GPU: the suite's roofline prediction next to the array's cycles at a clock.

Each layer is a GEMM of 2*M*N*K FLOPs (per instance) moving its compulsory bytes: the input (a conv's
distinct input pixels, not its im2col copy), the filter and the output, each once, at the dtype's size. The
GPU side is `roofline.roof.predict` with tensor cores on the target's ceilings (roofline.target: its
datasheet, or those measured on it), by roofline.rates' rule where it lacks the dtype's unit: a stated
fallback, or no GPU time (and no total) with the reason. The array side is the layer's cycles divided by the
clock.
"""

from __future__ import annotations

from gpubench import dtypes
from gpubench.roofline.rates import compute_rate
from gpubench.roofline.roof import predict
from gpubench.roofline.target import Target, TargetError, resolve_target

from .analysis import TopologyResult
from .errors import SystolicInputError
from .report import table

GPU_DTYPES = ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4")  # with a tensor-core peak
_DTYPE_OF_WORD = {1: "int8", 2: "bf16", 4: "tf32", 8: "fp64"}


def resolve_gpu(gpu: str | Target) -> Target:
    """The target of --gpu (roofline.target); SystolicInputError names what is wrong with it."""
    try:
        return gpu if isinstance(gpu, Target) else resolve_target(gpu)
    except TargetError as exc:
        raise SystolicInputError(str(exc)) from None


def default_dtype(word_bytes: int) -> str:
    return _DTYPE_OF_WORD.get(word_bytes, "bf16")


def check_dtype(dtype: str) -> str:
    d = dtypes.normalise(dtype)
    if d not in GPU_DTYPES:
        raise SystolicInputError(
            f"--dtype: unknown or unsupported dtype {dtype!r}; choose {', '.join(GPU_DTYPES)}"
        )
    return d


def compare(
    result: TopologyResult, gpu: str | Target, clock_mhz: float | None = None, dtype: str | None = None
) -> dict:
    """Per layer: the array's time at `clock_mhz` (default: the config's) beside the GPU's roofline time
    (`gpu` a name or a roofline.target.Target; its measured ceilings where it has them)."""
    target = resolve_gpu(gpu)
    spec, on = target.spec, target.ceilings()
    ceilings = on.measured or on.datasheet
    dtype = check_dtype(dtype or default_dtype(result.config.word_bytes))
    clock = clock_mhz or result.config.clock_mhz
    if not clock or clock <= 0:
        raise SystolicInputError(f"--clock-mhz must be > 0, got {clock!r}")
    layers, array_total, gpu_total, notes = [], 0.0, 0.0, set()
    for r in result.layers:
        layer = r.layer
        flops = 2 * layer.macs
        words = (layer.ifmap_words + layer.k * layer.n + layer.m * layer.n) * layer.repeat
        nbytes = words * dtypes.itemsize(dtype)
        pred = predict(flops, nbytes, dtype, ceilings, uses_tensor_cores=True, gpu=spec)
        array_s = r.cycles / (clock * 1e6)
        array_total += array_s
        gpu_total = None if gpu_total is None or pred.time_s is None else gpu_total + pred.time_s
        notes |= {pred.note} if pred.note else set()
        layers.append(
            {
                "name": layer.name,
                "m": layer.m,
                "n": layer.n,
                "k": layer.k,
                "repeat": layer.repeat,
                "flops": flops,
                "bytes": nbytes,
                "array_cycles": r.cycles,
                "array_time_s": array_s,
                "gpu_time_s": pred.time_s,
                "gpu_bound": pred.bound,
                "gpu_intensity": pred.intensity,
                "array_over_gpu": array_s / pred.time_s if pred.time_s else None,
            }
        )
    pes = result.config.rows * result.config.cols
    return {
        "gpu": spec.name,
        "gpu_key": spec.key,
        "target": target.to_json(),
        "ceilings": ceilings.label,
        "note": "; ".join(sorted(notes)) or None,
        "refused": gpu_total is None,
        "dtype": dtype,
        "clock_mhz": clock,
        "gpu_peak_tflops": compute_rate(ceilings.peaks, dtype, True, spec, ceilings.label).tflops,
        "gpu_bandwidth_gbs": ceilings.mem_bandwidth_gbs,
        "array_peak_tflops": 2 * pes * clock * 1e6 / 1e12,
        "layers": layers,
        "array_time_s": array_total,
        "gpu_time_s": gpu_total,
        "array_over_gpu": array_total / gpu_total if gpu_total else None,
    }


def _us(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:,.2f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}x"


def comparison_table(cmp: dict) -> str:
    header = ["layer", "M", "N", "K", "x", "array cycles", "array us", "GPU us", "GPU bound", "array/GPU"]
    rows = [
        [
            x["name"],
            str(x["m"]),
            str(x["n"]),
            str(x["k"]),
            str(x["repeat"]),
            f"{x['array_cycles']:,}",
            _us(x["array_time_s"]),
            _us(x["gpu_time_s"]),
            x["gpu_bound"],
            _ratio(x["array_over_gpu"]),
        ]
        for x in cmp["layers"]
    ]
    rows.append(
        [
            "total",
            "",
            "",
            "",
            "",
            "",
            _us(cmp["array_time_s"]),
            _us(cmp["gpu_time_s"]),
            "",
            _ratio(cmp["array_over_gpu"]),
        ]
    )
    peak = cmp["gpu_peak_tflops"]
    lines = [
        f"beside {cmp['gpu']} ({cmp['dtype']}: {'-' if peak is None else f'{peak:,.1f}'} TFLOP/s, "
        f"{cmp['gpu_bandwidth_gbs']:,.0f} GB/s {cmp['ceilings']} roofline) with the array at "
        f"{cmp['clock_mhz']:g} MHz ({cmp['array_peak_tflops']:,.2f} TOP/s peak)"
    ]
    if cmp["note"]:
        lines.append(f"note: {cmp['note']}")
    return "\n".join([*lines, "", table(header, rows)])
