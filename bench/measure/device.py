"""What the suite sees: the GPU's properties, NVML's view, and the software versions."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def suite_commit() -> str | None:
    """The suite's git commit (with '-dirty' when the work tree has changes), or None outside git.

    GPUBENCH_COMMIT overrides it, for a copy of the tree made without its .git (say, shipped to a GPU host).
    """
    if os.environ.get("GPUBENCH_COMMIT"):
        return os.environ["GPUBENCH_COMMIT"]
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except Exception:
        return None


def software_versions() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "suite_version": _version("gpubench"),
        "suite_commit": suite_commit(),
        "numpy": _version("numpy"),
        "pytest_benchmark": _version("pytest-benchmark"),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda_runtime"] = torch.version.cuda
    except ImportError:
        info["torch"] = None
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    info["cupy"] = next((v for d in ("cupy-cuda13x", "cupy-cuda12x", "cupy") if (v := _version(d))), None)
    return info


def nvml_info(torch_device=None) -> dict[str, Any]:
    """Driver, CUDA driver version and the device's NVML figures, or why they are unavailable."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as exc:
        return {"available": False, "reason": f"NVML unavailable: {exc}"}
    out: dict[str, Any] = {"available": True}
    try:
        out["driver"] = _text(pynvml.nvmlSystemGetDriverVersion())
        v = pynvml.nvmlSystemGetCudaDriverVersion()
        out["cuda_driver"] = f"{v // 1000}.{(v % 1000) // 10}"
        if torch_device is not None:
            from gpubench.bench.measure.telemetry import handle_for

            nv, h = handle_for(torch_device)
            out["name"] = _text(nv.nvmlDeviceGetName(h))
            out["uuid"] = _text(nv.nvmlDeviceGetUUID(h))
            out["sm_clock_max_mhz"] = nv.nvmlDeviceGetMaxClockInfo(h, nv.NVML_CLOCK_SM)
            out["mem_clock_max_mhz"] = nv.nvmlDeviceGetMaxClockInfo(h, nv.NVML_CLOCK_MEM)
            for key, fn in (
                ("mem_bus_width_bits", "nvmlDeviceGetMemoryBusWidth"),
                ("power_limit_w", "nvmlDeviceGetEnforcedPowerLimit"),
            ):
                try:
                    val = getattr(nv, fn)(h)
                    out[key] = val / 1000.0 if key == "power_limit_w" else val
                except Exception:
                    pass
            try:
                out["persistence_mode"] = bool(nv.nvmlDeviceGetPersistenceMode(h))
                app = nv.nvmlDeviceGetApplicationsClock(h, nv.NVML_CLOCK_SM)
                out["applications_sm_clock_mhz"] = app
            except Exception:
                pass
    except Exception as exc:
        out["reason"] = f"NVML query failed: {exc}"
    return out


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def device_info(torch_device) -> dict[str, Any]:
    """The results file's device section for one CUDA device."""
    import torch

    p = torch.cuda.get_device_properties(torch_device)
    info: dict[str, Any] = {
        "name": p.name,
        "index": torch_device.index or 0,
        "uuid": str(getattr(p, "uuid", "")) or None,
        "compute_capability": f"{p.major}.{p.minor}",
        "sm_count": p.multi_processor_count,
        "memory_bytes": p.total_memory,
        "l2_bytes": getattr(p, "L2_cache_size", None),
        "max_threads_per_sm": getattr(p, "max_threads_per_multi_processor", None),
        "smem_per_block_optin_bytes": getattr(p, "shared_memory_per_block_optin", None),
        "regs_per_sm": getattr(p, "regs_per_multiprocessor", None),
    }
    nv = nvml_info(torch_device)
    info["nvml"] = {"available": nv.get("available"), "reason": nv.get("reason")}
    for key in (
        "uuid",
        "sm_clock_max_mhz",
        "mem_clock_max_mhz",
        "mem_bus_width_bits",
        "power_limit_w",
        "persistence_mode",
        "applications_sm_clock_mhz",
        "driver",
        "cuda_driver",
    ):
        if nv.get(key) is not None:
            info[key] = nv[key]
    info["cuda"] = torch.version.cuda
    return info


def describe() -> dict[str, Any]:
    """Everything `gpubench device` prints."""
    out: dict[str, Any] = {"software": software_versions()}
    try:
        import torch
    except ImportError:
        out["gpu"] = {"available": False, "reason": "torch is not installed"}
        out["nvml"] = nvml_info()
        return out
    if not torch.cuda.is_available():
        out["gpu"] = {
            "available": False,
            "reason": "torch sees no CUDA device (torch.cuda.is_available() is False)",
        }
        out["nvml"] = nvml_info()
        return out
    out["gpu"] = {
        "available": True,
        "devices": [device_info(torch.device("cuda", i)) for i in range(torch.cuda.device_count())],
    }
    return out
