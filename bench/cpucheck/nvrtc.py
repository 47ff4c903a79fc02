"""Compile CUDA C sources with NVRTC on a machine without a GPU, and read ptxas's resource report.

NVRTC needs no driver or device, so this is the CPU-side proof that every .cu file is valid for the
architectures we target, with its register, shared-memory and spill figures. The library comes from
pip's `nvidia-cuda-nvrtc` wheel (or a CUDA toolkit); it is loaded through ctypes. Each source is
compiled with the options the GPU run passes (the shared ones, a launcher's defines, what CuPy appends),
and, where nvcc is on PATH, through nvcc as well: another ptxas release can allocate registers
differently (nvcc 13.0 spilled a kernel that NVRTC 13.5 did not), and both must be clean.
"""

from __future__ import annotations

import ctypes
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gpubench.kernels.cuda_loader import CUPY_OPTIONS, NVRTC_OPTIONS, option_sets


class NvrtcUnavailable(RuntimeError):
    pass


class CompileError(RuntimeError):
    pass


def _candidates() -> list[str]:
    found: list[str] = []
    env = os.environ.get("GPUBENCH_NVRTC")
    if env:
        found.append(env)
    for base in sys.path:
        for pattern in (
            "nvidia/cu13/lib/libnvrtc.so.1*",
            "nvidia/cuda_nvrtc/lib/libnvrtc.so.1*",
            "nvidia/cu12/lib/libnvrtc.so.1*",
        ):
            found.extend(sorted(glob.glob(os.path.join(base, pattern)), reverse=True))
    for home in (os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if home:
            found.extend(sorted(glob.glob(os.path.join(home, "lib64", "libnvrtc.so*")), reverse=True))
    found.append("libnvrtc.so")
    return [f for f in found if "builtins" not in f and "alt" not in os.path.basename(f)]


_LIB = None


def load_library():
    """The NVRTC shared library, or NvrtcUnavailable naming where it was looked for."""
    global _LIB
    if _LIB is not None:
        return _LIB
    errors = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            errors.append(f"{path}: {exc}")
            continue
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        _LIB = lib
        return lib
    raise NvrtcUnavailable(
        "NVRTC not found; install it with `pip install nvidia-cuda-nvrtc` (or set GPUBENCH_NVRTC). Tried: "
        + "; ".join(errors[-4:])
    )


def version() -> tuple[int, int]:
    lib = load_library()
    major, minor = ctypes.c_int(), ctypes.c_int()
    _check(lib, lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)))
    return major.value, minor.value


def _check(lib, status: int, log: str = "") -> None:
    if status != 0:
        msg = lib.nvrtcGetErrorString(status).decode()
        raise CompileError(f"{msg}\n{log}".strip())


@dataclass
class KernelResources:
    name: str
    registers: int
    spill_stores: int
    spill_loads: int
    stack_bytes: int
    smem_bytes: int


@dataclass
class CompileResult:
    path: str
    arch: str
    log: str
    cubin_bytes: int
    kernels: list[KernelResources] = field(default_factory=list)

    @property
    def spills(self) -> list[str]:
        return [k.name for k in self.kernels if k.spill_stores or k.spill_loads]


_FUNC = re.compile(r"Compiling entry function '([^']+)'|Function properties for (\S+)")
_SPILL = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_USED = re.compile(r"Used (\d+) registers(?:.*?(\d+) bytes smem)?")


def parse_ptxas_report(log: str) -> list[KernelResources]:
    """Per-kernel resources from `ptxas -v` output (registers, spills, stack, static shared memory)."""
    kernels: dict[str, KernelResources] = {}
    current = None
    for line in log.splitlines():
        m = _FUNC.search(line)
        if m:
            current = m.group(1) or m.group(2)
            kernels.setdefault(current, KernelResources(current, 0, 0, 0, 0, 0))
            continue
        if current is None:
            continue
        k = kernels[current]
        m = _SPILL.search(line)
        if m:
            k.stack_bytes, k.spill_stores, k.spill_loads = (int(g) for g in m.groups())
            continue
        m = _USED.search(line)
        if m:
            k.registers = int(m.group(1))
            k.smem_bytes = int(m.group(2) or 0)
    return list(kernels.values())


def compile_file(path: str | Path, arch: str = "sm_90", options: tuple[str, ...] = ()) -> CompileResult:
    """Compile one .cu file to a cubin for `arch` and return ptxas's per-kernel report."""
    lib = load_library()
    path = Path(path)
    src = path.read_bytes()
    prog = ctypes.c_void_p()
    _check(lib, lib.nvrtcCreateProgram(ctypes.byref(prog), src, str(path.name).encode(), 0, None, None))
    try:
        opts = [*NVRTC_OPTIONS, *options, *CUPY_OPTIONS, f"--gpu-architecture={arch}", "--ptxas-options=-v"]
        c_opts = (ctypes.c_char_p * len(opts))(*(o.encode() for o in opts))
        status = lib.nvrtcCompileProgram(prog, len(opts), c_opts)
        log_size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(log_size))
        buf = ctypes.create_string_buffer(log_size.value)
        lib.nvrtcGetProgramLog(prog, buf)
        log = buf.value.decode(errors="replace")
        _check(lib, status, f"{path}: {log}")
        size = ctypes.c_size_t()
        _check(lib, lib.nvrtcGetCUBINSize(prog, ctypes.byref(size)))
        return CompileResult(str(path), arch, log, size.value, parse_ptxas_report(log))
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


class NvccUnavailable(RuntimeError):
    pass


def nvcc_compile(path: str | Path, arch: str = "sm_90", options: tuple[str, ...] = ()) -> CompileResult:
    """The same compile as `compile_file` through nvcc (`-cubin -Xptxas -v`) and its own ptxas;
    NvccUnavailable when nvcc is not on PATH."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        raise NvccUnavailable("nvcc is not on PATH")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.cubin"
        cmd = [nvcc, "-cubin", f"-arch={arch}", "-Xptxas", "-v", *NVRTC_OPTIONS, *options, *CUPY_OPTIONS,
               "-o", str(out), str(path)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise CompileError(f"{path}: {proc.stderr.strip()}")
        log = proc.stdout + proc.stderr
        return CompileResult(str(path), arch, log, out.stat().st_size, parse_ptxas_report(log))


def cuda_sources(root: str | Path | None = None) -> list[Path]:
    """Every .cu file shipped in the kernels package (or under `root`)."""
    if root is None:
        from gpubench import kernels

        root = Path(kernels.__file__).parent
    return sorted(Path(root).rglob("*.cu"))


ARCHS = ("sm_80", "sm_90")


def _check_one(
    path: Path, label: str, arch: str, options: tuple[str, ...], with_nvcc: bool
) -> tuple[str, bool]:
    """(report line, whether it is a problem) for one compile: NVRTC's, and nvcc's where asked."""
    try:
        results = {"NVRTC": compile_file(path, arch, options)}
        if with_nvcc:
            results["nvcc"] = nvcc_compile(path, arch, options)
    except CompileError as exc:
        return f"  FAIL {label}: {exc}", True
    first = results["NVRTC"]
    regs = max((k.registers for k in first.kernels), default=0)
    spills = "".join(f", SPILLS ({who}) in {r.spills}" for who, r in results.items() if r.spills)
    return f"  ok   {label}: {len(first.kernels)} kernels, max {regs} registers{spills}", bool(spills)


def check_sources(paths: list[Path], base: Path, echo=print, archs: tuple[str, ...] = ARCHS) -> int:
    """Compile each source for each arch with each option set its launcher uses, one line each
    (registers, spills; nvcc's spills too where nvcc is on PATH); the number of problems (a compile
    error or a spill). Without NVRTC it says so and checks nothing (0)."""
    try:
        load_library()
    except NvrtcUnavailable as exc:
        echo(f"NVRTC check skipped: {exc}")
        return 0
    with_nvcc = shutil.which("nvcc") is not None
    if not with_nvcc:
        echo("  (nvcc is not on PATH: NVRTC's report only)")
    bad = 0
    for path in paths:
        name = path.relative_to(base) if path.is_relative_to(base) else path
        for arch in archs:
            for options in option_sets(path):
                line, problem = _check_one(
                    path, " ".join([str(name), arch, *options]), arch, options, with_nvcc
                )
                echo(line)
                bad += problem
    return bad
