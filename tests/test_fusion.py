"""kernels/fusion.py: the fusion byte accounting worked by hand, checked against the ops the `unfused`
variants really run (logged at the aten level), pure Python (no torch import), and bad arguments."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils._pytree import tree_flatten  # noqa: E402

from gpubench.kernels.fusion import WORKLOADS, fused_bytes, fusion_bytes  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ROWS = {"rows": 37, "cols": 129}
CONV = {"batch": 2, "in_channels": 5, "out_channels": 7, "height": 9, "width": 11, "kernel": 3, "stride": 1,
        "padding": 1, "dilation": 1, "groups": 1}  # every input pixel read: all the conv op's bytes count
SHAPE = {name: CONV if name == "conv2d_bias_relu" else ROWS for name in WORKLOADS}


def test_softmax_by_hand():
    # 4096 x 4096 fp32: N = 16,777,216 elements of 4 bytes, R = 4096 rows.
    n, r = 4096 * 4096 * 4, 4096 * 4
    f = fusion_bytes("softmax", {"rows": 4096, "cols": 4096}, "fp32")
    assert f["fused_bytes"] == 134_217_728 == 2 * n
    assert [b for _, b in f["ops"]] == [
        n + r,  # amax: read x, write m
        n + r + n,  # sub: read x, m, write y
        n + n,  # exp: read y, write e
        n + r,  # sum: read e, write s
        n + r + n,  # div: read e, s, write out
    ]
    assert f["unfused_bytes"] == 536_936_448 == 8 * n + 4 * r
    assert f["ratio"] == pytest.approx(4.00048828125, rel=1e-12)
    assert [op.split(":")[0] for op, _ in f["ops"]] == ["amax", "sub", "exp", "sum", "div"]


def test_layernorm_and_rmsnorm_by_hand():
    # 2 x 3 bf16 (2 bytes): a [2, 3] tensor is 12 bytes, a [2, 1] fp32 statistic 8 bytes, weight/bias 6.
    f = fusion_bytes("layernorm", {"rows": 2, "cols": 3}, "bf16")
    assert f["fused_bytes"] == 12 + 6 + 6 + 12
    # mean 12+8, sub 12+8+12, square 12+12, mean 12+8, add 8+8, rsqrt 8+8,
    # mul 12+8+12, mul 12+6+12, add 12+6+12
    assert [b for _, b in f["ops"]] == [20, 32, 24, 20, 16, 16, 32, 30, 30]
    assert f["unfused_bytes"] == 220
    assert f["ratio"] == pytest.approx(220 / 36)
    g = fusion_bytes("rmsnorm", {"rows": 2, "cols": 3}, "bf16")
    assert g["fused_bytes"] == 12 + 6 + 12
    # square 12+12, mean 12+8, add 8+8, rsqrt 8+8, mul 12+8+12, mul 12+6+12
    assert [b for _, b in g["ops"]] == [24, 20, 16, 16, 32, 30]
    assert g["unfused_bytes"] == 138
    # wide rows: the [rows, cols] passes dominate (the per-row and per-column terms are ~0.1% here).
    # layernorm unfused: mean 1, sub 2, square 2, mean 1, mul 2, mul 2, add 2 = 12 passes against 2 fused;
    # rmsnorm: square 2, mean 1, mul 2, mul 2 = 7 against 2; softmax: 1 + 2 + 2 + 1 + 2 = 8 against 2.
    wide = {"rows": 1 << 10, "cols": 1 << 20}
    assert fusion_bytes("layernorm", wide, "fp32")["ratio"] == pytest.approx(12 / 2, rel=5e-3)
    assert fusion_bytes("rmsnorm", wide, "fp32")["ratio"] == pytest.approx(7 / 2, rel=5e-3)
    assert fusion_bytes("softmax", wide, "fp32")["ratio"] == pytest.approx(8 / 2, rel=5e-3)


def test_fused_bytes_scale_with_itemsize():
    for name in WORKLOADS:
        s = CONV if name == "conv2d_bias_relu" else {"rows": 64, "cols": 1000}
        a, b = fusion_bytes(name, s, "fp32"), fusion_bytes(name, s, "fp16")
        assert a["fused_bytes"] == 2 * b["fused_bytes"] == 2 * fusion_bytes(name, s, "bf16")["fused_bytes"]
        # the ratio is the same up to the fp32 per-row statistics, which do not scale with the itemsize
        assert a["ratio"] == pytest.approx(b["ratio"], rel=2e-3)
        assert fused_bytes(name, s, "fp32") == a["fused_bytes"]
        assert a["fused_ops"] and sum(x for _, x in a["fused_ops"]) == a["fused_bytes"]


def test_empty_shape_has_no_ratio():
    f = fusion_bytes("softmax", {"rows": 0, "cols": 5}, "fp32")
    assert f["fused_bytes"] == 0 and f["ratio"] is None


def test_bad_arguments():
    with pytest.raises(ValueError, match="no fusion analysis for 'gemm'"):
        fusion_bytes("gemm", {"rows": 1, "cols": 1}, "fp32")
    with pytest.raises(ValueError, match="unknown dtype"):
        fusion_bytes("softmax", {"rows": 1, "cols": 1}, "fp64")
    with pytest.raises(ValueError, match="rows"):
        fusion_bytes("softmax", {"n": 4}, "fp32")
    with pytest.raises(ValueError, match=">= 0"):
        fusion_bytes("softmax", {"rows": -1, "cols": 4}, "fp32")


def test_module_is_pure_python():
    code = "import sys, kernels.fusion as f; f.fusion_bytes('softmax', {'rows': 2, 'cols': 3}, 'fp32'); "
    code += "print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"


# ---- the unfused variants run exactly the counted ops ---------------------------------------------------


class _ByteLog(TorchDispatchMode):
    """Each aten op with the bytes of its distinct tensors (inputs, outputs, an out= buffer once) and the
    dtypes of its full-size outputs. Allocations (empty_like for an out= buffer) move no bytes: skipped."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.__name__.split(".")[0]
        if name.startswith("empty"):
            return out
        outs = [o for o in tree_flatten(out)[0] if isinstance(o, torch.Tensor)]
        seen = {id(a): a for a in tree_flatten((args, kwargs))[0] if isinstance(a, torch.Tensor)}
        if func.is_view:
            return out  # a view (the bias reshaped for broadcasting) moves no bytes
        seen.update({id(o): o for o in outs})
        nbytes = sum(t.numel() * t.element_size() for t in seen.values())
        big = {t.dtype for t in outs if t.dim() == 0 or t.shape[-1] != 1}  # not a per-row statistic
        self.ops.append((name, nbytes, big))
        return out


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
@pytest.mark.parametrize("name", WORKLOADS)
def test_unfused_variant_runs_the_counted_ops(name, dtype):
    from gpubench.kernels import REGISTRY

    w = REGISTRY[name]
    shape = SHAPE[name]
    inputs = w.make_inputs(shape, dtype, torch.device("cpu"), seed=1)
    with _ByteLog() as log:
        out = w.variant("unfused").fn(*inputs)
    expected = fusion_bytes(name, shape, dtype)["ops"]
    assert [b for _, b, _ in log.ops] == [b for _, b in expected], (log.ops, expected)
    # full-size intermediates and the output stay in the input's dtype (what the accounting assumes);
    # per-row statistics may be fp32
    assert all(dts <= {inputs[0].dtype} for _, _, dts in log.ops)
    assert out.dtype == inputs[0].dtype
    w.check(out, w.reference(*inputs), dtype)
    if name == "conv2d_bias_relu":  # a whole tensor read and written, as counted: no pixel left unread
        assert [op for op, _, _ in log.ops] == ["convolution", "add", "relu"]


def test_records_carry_the_analysis():
    from gpubench.kernels.layernorm import WORKLOAD as ln
    from gpubench.kernels.rmsnorm import WORKLOAD as rms
    from gpubench.kernels.softmax import WORKLOAD as sm

    s = {"rows": 4096, "cols": 4096}
    for w in (sm, ln, rms):
        extra = w.details(s, "bf16")["fusion"]
        assert extra == fusion_bytes(w.name, s, "bf16")
        assert extra["fused_bytes"] == w.bytes(s, "bf16")
