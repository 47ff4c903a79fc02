"""What a Triton kernel compiled ahead of time for a GPU target uses: registers, spill stack, shared
memory, read from the cubin Triton itself built (cuobjdump's resource report). That is the binary the
GPU would run, assembled by the ptxas Triton picks with the options Triton passes (they differ between
releases: Triton 3.9 assembles sm_90 with CUDA 13's ptxas and --regAllocOptLevel=2), so no re-assembly
of the PTX here can disagree with it."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile

_FIELD = re.compile(r"(REG|STACK|SHARED|LOCAL):(\d+)")


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


def spill_bytes(cubin: bytes) -> int:
    """Stack and local memory per thread: registers that did not fit (none of these kernels keeps arrays
    on the stack otherwise)."""
    return sum(r["stack"] + r["local"] for r in resources(cubin))
