"""The attention Triton kernels compiled ahead of time for sm_90 and sm_80 (no GPU needed), with the configs
of kernels/attention/config.py as this machine's Triton picks them: every forward autotune candidate, the
TMA forward (Hopper), the backward's dK/dV and dQ kernels and the decode kernels lower, fit the shared
memory of their architecture and do not spill (cuobjdump on Triton's own cubins, tests/support/aot.py); Hopper
uses wgmma and, in the TMA forward, TMA copies; Ampere uses mma.sync. Compiled in bf16, causal (the masked
and unmasked loops both present), at head_dim 128 on sm_90 by default, every table with
GPUBENCH_AOT_ALL=1 (see HEAD_DIMS)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.aot import cuobjdump

REPO = Path(__file__).resolve().parents[1]
NO_TOOLS = "this triton wheel ships no CUDA binary tools"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.path.exists(cuobjdump()), reason=NO_TOOLS)]

AOT_SCRIPT = r"""
import json, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from gpubench.kernels.attention import config, triton_bwd, triton_decode, triton_fwd
from tests.support.aot import resources

HEAD_DIMS, MAJORS = (tuple(x) for x in json.loads(sys.argv[1]))

def ptr(dt):
    return f"*{dt}"

def compile_one(name, fn, sig, const, cc, tile, n_ptrs, extra=None):
    sig = dict(sig)
    sig.update({k: "constexpr" for k in const})
    attrs = {(i,): [["tt.divisibility", 16]] for i in range(n_ptrs)}
    k = triton.compile(ASTSource(fn, sig, const, attrs), target=GPUTarget("cuda", cc, 32),
                       options={"num_warps": tile.num_warps, "num_stages": tile.num_stages})
    used = resources(k.asm["cubin"])
    ptx = k.asm["ptx"]
    return {"kernel": name, "cc": cc, "tile": [tile.block_m, tile.block_n], "warps": tile.num_warps,
            "stages": tile.num_stages, "shared": k.metadata.shared, **(extra or {}),
            "spills": sum(r["stack"] + r["local"] for r in used),
            "wgmma": "wgmma" in ptx, "mma": "mma.sync" in ptx, "tma": "cp.async.bulk.tensor" in ptx}

def fwd(cc, hd, t, tma):
    const = {"CAUSAL": True, "BLOCK_M": t.block_m, "BLOCK_N": t.block_n, "HEAD_DIM": hd, "DOT_F32": False,
             "PRECISION": "ieee", "TMA": tma}
    if tma:
        rows = {"Qs": t.block_m, "Ks": t.block_n, "Vs": t.block_n, "Os": t.block_m}
        sig = {n: f"tensordesc<bf16[1, {r}, {hd}]>" for n, r in rows.items()}
    else:
        sig = {n: ptr("bf16") for n in ("Qs", "Ks", "Vs", "Os")}
    sig.update({"LSE": ptr("fp32"), "heads": "i32", "group": "i32", "seq_q": "i32", "seq_k": "i32",
                "qk_scale": "fp32"})
    return compile_one("fwd_tma" if tma else "fwd", triton_fwd._fwd_kernel, sig, const, cc, t,
                       0 if tma else 5, {"head_dim": hd})

def bwd(cc, hd, tiles):
    common = {"CAUSAL": True, "HEAD_DIM": hd, "DOT_F32": False, "PRECISION": "ieee"}
    out = []
    sig = {n: ptr("bf16") for n in ("Q", "K", "V", "DO")}
    sig.update({"LSE": ptr("fp32"), "DELTA": ptr("fp32"), "DK": ptr("bf16"), "DV": ptr("bf16"),
                "group": "i32", "seq_q": "i32", "seq_k": "i32", "qk_scale": "fp32", "sm_scale": "fp32"})
    const = {**common, "BLOCK_M": tiles.kv.block_m, "BLOCK_N": tiles.kv.block_n}
    out.append(compile_one("bwd_dkdv", triton_bwd._dkdv_kernel, sig, const, cc, tiles.kv, 8,
                           {"head_dim": hd}))
    sig = {n: ptr("bf16") for n in ("Q", "K", "V", "DO")}
    sig.update({"LSE": ptr("fp32"), "DELTA": ptr("fp32"), "DQ": ptr("bf16"), "heads": "i32", "group": "i32",
                "seq_q": "i32", "seq_k": "i32", "qk_scale": "fp32", "sm_scale": "fp32"})
    const = {**common, "BLOCK_M": tiles.q.block_m, "BLOCK_N": tiles.q.block_n}
    out.append(compile_one("bwd_dq", triton_bwd._dq_kernel, sig, const, cc, tiles.q, 7, {"head_dim": hd}))
    return out

def decode(cc, hd, dc):
    tile = config.Tile(16, dc.block_n, dc.num_warps, dc.num_stages)
    sig = {n: ptr("bf16") for n in ("Q", "K", "V")}
    sig.update({"PART_O": ptr("fp32"), "PART_LSE": ptr("fp32"), "seq_q": "i32", "seq_k": "i32",
                "rows": "i32", "chunk": "i32", "qk_scale": "fp32"})
    const = {"CAUSAL": True, "BLOCK_M": 16, "BLOCK_N": dc.block_n, "HEAD_DIM": hd, "DOT_F32": False,
             "PRECISION": "ieee"}
    return compile_one("decode", triton_decode._split_kernel, sig, const, cc, tile, 5, {"head_dim": hd})

for major in MAJORS:
    cc = major * 10
    cfg = config.for_arch(major)
    for hd in HEAD_DIMS:
        for t in cfg.fwd.get(hd, ()):
            print(json.dumps(fwd(cc, hd, t, False)), flush=True)
        for t in cfg.fwd_tma.get(hd, ()):
            print(json.dumps(fwd(cc, hd, t, True)), flush=True)
        if hd in cfg.bwd:
            for r in bwd(cc, hd, cfg.bwd[hd]):
                print(json.dumps(r), flush=True)
        print(json.dumps(decode(cc, hd, cfg.decode)), flush=True)
"""

# head_dim 128 (the bench sweep's, and the largest tiles of 32..128) by default: compiling every table
# on Hopper (the GPUs the suite reports on) by default: compiling every table for both architectures
# takes about a minute on two cores. GPUBENCH_AOT_ALL=1 compiles head_dim 32, 64, 256 and sm_80 as well.
ALL = os.environ.get("GPUBENCH_AOT_ALL") == "1"
HEAD_DIMS = (32, 64, 128, 256) if ALL else (128,)
MAJORS = (9, 8) if ALL else (9,)

# Largest dynamic shared memory per block: H100/H200 227 KiB; the Ampere tables also serve sm_86/sm_89
# parts (99 KiB).
SMEM_LIMIT = {90: 227 * 1024, 80: 99 * 1024}


@pytest.fixture(scope="module")
def reports():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [sys.executable, "-c", AOT_SCRIPT, json.dumps([HEAD_DIMS, MAJORS])],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_every_config_compiles_fits_and_does_not_spill(reports):
    from gpubench.kernels.attention import config

    expected = 0
    for major in MAJORS:
        cfg = config.for_arch(major)
        for hd in HEAD_DIMS:
            expected += len(cfg.fwd.get(hd, ())) + len(cfg.fwd_tma.get(hd, ())) + 2 * (hd in cfg.bwd) + 1
    assert len(reports) == expected
    for major in (9, 8):
        assert {64, 128} <= set(config.for_arch(major).fwd) & set(config.for_arch(major).bwd)
    for r in reports:
        where = f"{r['kernel']} sm_{r['cc']} d{r['head_dim']} {r['tile']} w{r['warps']} s{r['stages']}"
        assert r["shared"] <= SMEM_LIMIT[r["cc"]], f"{where}: {r['shared']} B of shared memory"
        assert r["spills"] == 0, f"{where}: {r['spills']} B of spill stack"
        # Decode's 16-row tiles are below wgmma's 64: mma.sync on Hopper too.
        tensor_cores = r["wgmma"] if r["cc"] == 90 and r["kernel"] != "decode" else r["mma"]
        assert tensor_cores, f"{where}: no tensor-core instructions"
        if r["kernel"] == "fwd_tma":
            assert r["tma"], f"{where}: no TMA copies"
