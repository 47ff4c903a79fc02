"""The compile gate: Triton kernels compiled ahead of time for real GPU targets on a machine without a GPU.

A family declares its builds (kernel x config x operand dtype x architecture, `build`); `check` compiles
each distinct one once (in a subprocess without TRITON_INTERPRET, two at a time) and asserts that it
compiles, does not spill, fits the architecture's shared memory and uses the instructions it is meant to.

Resources are read from the cubin Triton itself built (cuobjdump's resource report): the binary the GPU
would run, assembled by the ptxas Triton picks with the options Triton passes (they differ between
releases: Triton 3.9 assembles sm_90 with CUDA 13's ptxas and --regAllocOptLevel=2), so no re-assembly
of the PTX here can disagree with it. Run as `python -m tests.support.aot` it compiles JSON builds from stdin.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_FIELD = re.compile(r"(REG|STACK|SHARED|LOCAL):(\d+)")

# Largest dynamic shared memory per block: H100/H200 227 KiB; the sm_80 tables also serve sm_86/sm_89
# parts (99 KiB), and so do the sm_89 (Ada) ones.
SMEM_LIMIT = {90: 227 * 1024, 89: 99 * 1024, 80: 99 * 1024}

# What a kernel may be required to use (or not to), found in Triton's PTX.
INSTRUCTIONS = {
    "wgmma": re.compile(r"\bwgmma\.mma_async"),  # Hopper warpgroup tensor-core MMA
    "mma": re.compile(r"\bmma\.sync"),  # Ampere-style warp tensor-core MMA
    "tma": re.compile(r"\bcp\.async\.bulk\.tensor"),  # TMA bulk tensor copies
    "cp_async": re.compile(r"\bcp\.async\.c[ag]\."),  # Ampere asynchronous global -> shared copies
    "vector_load": re.compile(r"\bld\.global(\.[\w:]+)*\.v[248]\."),  # 8- or 16-byte global loads
    "scalar_load": re.compile(r"\bld\.global(?:\.(?!v[248]\b)[\w:]+)*\s"),  # one element per load
}
NO_TOOLS = "this triton wheel ships no CUDA binary tools (cuobjdump)"


def cuobjdump() -> str:
    import triton

    return os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")


def resources(cubin: bytes) -> list[dict[str, int]]:
    """One dict per kernel of the cubin: registers, stack (spill) bytes, static shared and local bytes."""
    with tempfile.NamedTemporaryFile(suffix=".cubin", delete=False) as f:
        f.write(cubin)
    try:
        out = subprocess.run([cuobjdump(), "-res-usage", f.name], capture_output=True, text=True, check=True)
    finally:
        os.unlink(f.name)
    found = []
    for line in out.stdout.splitlines():
        fields = dict(_FIELD.findall(line))
        if "REG" in fields:
            found.append({
                "registers": int(fields["REG"]), "stack": int(fields.get("STACK", 0)),
                "shared": int(fields.get("SHARED", 0)), "local": int(fields.get("LOCAL", 0)),
            })  # fmt: skip
    if not found:
        raise RuntimeError(f"cuobjdump reported no kernel:\n{out.stdout}\n{out.stderr}")
    return found


@dataclass(frozen=True)
class Build:
    """One compilation. Hashable: equal builds compile once per process."""

    kernel: str  # "module:function" of the @triton.jit kernel
    arch: int  # compute capability as an integer: 80, 89, 90
    signature: tuple[tuple[str, str], ...]  # every argument in order with its type ("constexpr" included)
    constexprs: tuple[tuple[str, object], ...]
    num_warps: int
    num_stages: int
    aligned: tuple[int, ...]  # argument positions Triton may take as 16-divisible (16-byte aligned pointers)
    expect: tuple[str, ...] = ()  # INSTRUCTIONS the kernel must use
    forbid: tuple[str, ...] = ()  # INSTRUCTIONS it must not use
    spill_allowed: int = 0  # bytes; every use says why next to it

    def label(self) -> str:
        cx = " ".join(f"{k}={v}" for k, v in self.constexprs)
        types = "/".join(sorted({t.lstrip("*") for _, t in self.signature if t.startswith("*")}))
        name = self.kernel.split(":")[1]
        return f"{name} sm_{self.arch} {types} w{self.num_warps} s{self.num_stages} {cx}"


def build(
    fn,
    arch: int,
    types: dict,
    constexprs: dict,
    num_warps: int,
    num_stages: int = 3,
    *,
    unaligned: tuple[str, ...] = (),
    expect=(),
    forbid=(),
    spill_allowed: int = 0,
) -> Build:
    """A Build of the jitted `fn`: `types` names the type of each pointer ("*bf16") and each argument that
    is not an i32; the rest are i32. Pointers and integer arguments are taken as 16-divisible, as Triton
    specialises them on a launch with aligned tensors and sizes that are multiples of 16, except those in
    `unaligned` (an argument whose alignment the kernel must not assume)."""
    names = list(fn.arg_names)
    unknown = (set(types) | set(constexprs) | set(unaligned)) - set(names)
    if unknown:
        raise ValueError(f"{fn.fn.__name__} has no argument(s) {sorted(unknown)}")
    sig = tuple((n, "constexpr" if n in constexprs else types.get(n, "i32")) for n in names)
    aligned = tuple(
        i for i, (n, t) in enumerate(sig)
        if n not in unaligned and (t.startswith("*") or t in ("i32", "i64"))
    )  # fmt: skip
    return Build(f"{fn.fn.__module__}:{fn.fn.__name__}", arch, sig, tuple(constexprs.items()), num_warps,
                 num_stages, aligned, tuple(expect), tuple(forbid), spill_allowed)  # fmt: skip


# ---- compiling (in the child process) ----


def _compile(spec: dict) -> dict:
    import importlib

    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    module, name = spec["kernel"].split(":")
    fn = getattr(importlib.import_module(module), name)
    sig = dict(map(tuple, spec["signature"]))
    const = dict(map(tuple, spec["constexprs"]))
    attrs = {(i,): [["tt.divisibility", 16]] for i in spec["aligned"]}
    try:
        options = {"num_warps": spec["num_warps"], "num_stages": spec["num_stages"]}
        target = GPUTarget("cuda", spec["arch"], 32)
        k = triton.compile(ASTSource(fn, sig, const, attrs), target=target, options=options)
    except Exception as exc:  # reported, not raised: the gate lists every failure at once
        return {"error": f"{type(exc).__name__}: {str(exc)[-1500:]}"}
    used = resources(k.asm["cubin"])
    ptx = k.asm["ptx"]
    return {
        "error": None,
        "registers": max(r["registers"] for r in used),
        "spills": sum(r["stack"] + r["local"] for r in used),
        "shared": k.metadata.shared,
        "uses": sorted(kind for kind, pattern in INSTRUCTIONS.items() if pattern.search(ptx)),
    }


def _main() -> None:
    from concurrent.futures import ProcessPoolExecutor

    specs = json.load(sys.stdin)
    jobs = max(1, min(int(os.environ.get("GPUBENCH_AOT_JOBS", "2")), os.cpu_count() or 1, len(specs)))
    if jobs == 1:
        results = map(_compile, specs)
    else:
        results = ProcessPoolExecutor(jobs).map(_compile, specs)
    for r in results:
        print(json.dumps(r), flush=True)


# ---- the parent: dedupe, compile what is new, check ----

_DONE: dict[Build, dict] = {}


def compile_all(builds) -> dict[Build, dict]:
    """Reports of `builds`, each distinct build compiled once per process."""
    builds = list(builds)
    todo = [b for b in dict.fromkeys(builds) if b not in _DONE]
    if todo:
        env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        proc = subprocess.run(
            [sys.executable, "-m", "tests.support.aot"], input=json.dumps([asdict(b) for b in todo]),
            capture_output=True, text=True, env=env, cwd=REPO, timeout=1800,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-4000:]
        for b, line in zip(todo, proc.stdout.splitlines(), strict=True):
            _DONE[b] = json.loads(line)
    return {b: _DONE[b] for b in builds}


def problems(b: Build, r: dict) -> list[str]:
    """What is wrong with one compiled build (nothing: an empty list)."""
    if r["error"]:
        return [f"does not compile: {r['error']}"]
    found = []
    if r["spills"] > b.spill_allowed:
        found.append(f"{r['spills']} B of spill stack ({r['registers']} registers)")
    if r["shared"] > SMEM_LIMIT[b.arch]:
        found.append(f"{r['shared']} B of shared memory, over the {SMEM_LIMIT[b.arch]} B limit")
    found += [f"no {kind} instructions" for kind in b.expect if kind not in r["uses"]]
    found += [f"uses {kind} instructions" for kind in b.forbid if kind in r["uses"]]
    return found


def check(builds) -> dict[Build, dict]:
    """Compile `builds` and fail with every problem of every build; the reports for further checks."""
    builds = list(builds)
    assert builds, "no builds declared"
    reports = compile_all(builds)
    bad = [f"{b.label()}: {p}" for b, r in reports.items() for p in problems(b, r)]
    assert not bad, f"{len(bad)} problem(s):\n" + "\n".join(bad)
    return reports


if __name__ == "__main__":
    _main()
