"""The same layers on a GPU: the suite's roofline prediction next to the array's cycles at a clock.

Each layer is a GEMM of 2*M*N*K FLOPs (per instance) moving its compulsory bytes: the input (a conv's
distinct input pixels, not its im2col copy), the filter and the output, each once, at the dtype's size. The
GPU side is `roofline.roof.predict` on the datasheet ceilings with tensor cores; the array side is the
layer's cycles divided by the clock.
"""

from __future__ import annotations

from gpubench import dtypes
from gpubench.roofline.roof import Ceilings, peak_key, predict
from gpubench.roofline.specs import get_spec, load_specs

from .analysis import TopologyResult
from .errors import SystolicInputError
from .report import table

GPU_DTYPES = ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4")  # with a tensor-core peak
_DTYPE_OF_WORD = {1: "int8", 2: "bf16", 4: "tf32", 8: "fp64"}


def _squash(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def resolve_gpu(name: str):
    """(spec, note): a database key, a name, or a unique-enough part of one ('H100' -> the first H100 in the
    database, the SXM5, with a note naming the others)."""
    try:
        return get_spec(name), None
    except KeyError:
        pass
    needle = _squash(name)
    hits = [s for s in load_specs() if needle and (needle in _squash(s.name) or needle in _squash(s.key))]
    if not hits:
        known = ", ".join(s.key for s in load_specs())
        raise SystolicInputError(f"--gpu: unknown GPU {name!r}; known: {known}")
    note = None if len(hits) == 1 else f"{name!r} also matches " + ", ".join(s.name for s in hits[1:])
    return hits[0], note


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
    result: TopologyResult, gpu: str, clock_mhz: float | None = None, dtype: str | None = None
) -> dict:
    """Per layer: the array's time at `clock_mhz` (default: the config's) beside the GPU's roofline time."""
    spec, note = resolve_gpu(gpu)
    dtype = check_dtype(dtype or default_dtype(result.config.word_bytes))
    clock = clock_mhz or result.config.clock_mhz
    if not clock or clock <= 0:
        raise SystolicInputError(f"--clock-mhz must be > 0, got {clock!r}")
    ceilings = Ceilings.from_spec(spec)
    layers, array_total, gpu_total = [], 0.0, 0.0
    for r in result.layers:
        layer = r.layer
        flops = 2 * layer.macs
        words = (layer.ifmap_words + layer.k * layer.n + layer.m * layer.n) * layer.repeat
        nbytes = words * dtypes.itemsize(dtype)
        pred = predict(flops, nbytes, dtype, ceilings, uses_tensor_cores=True)
        array_s = r.cycles / (clock * 1e6)
        array_total += array_s
        gpu_total += pred.time_s or 0.0
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
        "note": note,
        "dtype": dtype,
        "clock_mhz": clock,
        "gpu_peak_tflops": ceilings.peaks.get(peak_key(dtype, True)),
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
        f"{cmp['gpu_bandwidth_gbs']:,.0f} GB/s datasheet roofline) with the array at {cmp['clock_mhz']:g} "
        f"MHz ({cmp['array_peak_tflops']:,.2f} TOP/s peak)"
    ]
    if cmp["note"]:
        lines.append(f"note: {cmp['note']}; name one by key to choose")
    return "\n".join([*lines, "", table(header, rows)])
