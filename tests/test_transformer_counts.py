"""The transformer's row-wise operators count what the suite's workloads count at the same shape (so a
layer's operator and the kernel measured for it agree), and their unfused forms move what
kernels/fusion.py says the unfused torch op sequences move."""

import pytest

from gpubench.kernels import REGISTRY
from gpubench.kernels.fusion import fusion_bytes
from gpubench.transformer import counts
from gpubench.transformer.configs import MODELS
from gpubench.transformer.operators import layer_operators
from gpubench.transformer.scenario import Scenario

SHAPES = [(1, 1), (7, 33), (2048, 4096), (16, 12288)]
SIZES = {"fp32": 4, "fp16": 2, "bf16": 2}


@pytest.mark.parametrize("kind", ["rmsnorm", "layernorm"])
@pytest.mark.parametrize("rows, cols", SHAPES)
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_norms_count_what_their_workloads_count(kind, rows, cols, dtype):
    w, shape = REGISTRY[kind], {"rows": rows, "cols": cols}
    (fused,) = counts.norm(kind, rows, cols, SIZES[dtype])
    assert (fused.flops, fused.bytes) == (w.flops(shape), w.bytes(shape, dtype))
    unfused = counts.norm(kind, rows, cols, SIZES[dtype], fused=False)
    analysis = fusion_bytes(kind, shape, dtype)
    assert [c.bytes for c in unfused] == [b for _, b in analysis["ops"]]
    assert sum(c.bytes for c in unfused) == analysis["unfused_bytes"]


@pytest.mark.parametrize("rows, cols", SHAPES)
@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
def test_softmax_counts_what_its_workload_counts(rows, cols, dtype):
    w, shape = REGISTRY["softmax"], {"rows": rows, "cols": cols}
    (fused,) = counts.softmax(rows, cols, SIZES[dtype])
    assert (fused.flops, fused.bytes) == (w.flops(shape), w.bytes(shape, dtype))
    unfused = counts.softmax(rows, cols, SIZES[dtype], fused=False)
    assert [c.bytes for c in unfused] == [b for _, b in fusion_bytes("softmax", shape, dtype)["ops"]]
    assert sum(c.flops for c in unfused) == fused.flops  # the same maths, split into kernels


def test_elementwise_and_rotary_counts():
    add = counts.elementwise("add", 1000, 2)
    assert (add.flops, add.bytes) == (1000, 3 * 2000)  # read two, write one
    act = counts.elementwise("silu_mul", 10, 4)
    assert (act.flops, act.bytes) == (50, 3 * 40)
    rope = counts.rope(tokens=8, positions=4, heads=4, kv_heads=2, head_dim=16, size=2)
    elements = 8 * 6 * 16
    assert rope.flops == 3 * elements and rope.bytes == 2 * elements * 2 + 2 * 4 * 8 * 2
    with pytest.raises(ValueError, match="unknown elementwise"):
        counts.elementwise("relu6", 1, 1)


def test_a_layers_norm_operator_is_the_workload_at_its_shape():
    sc = Scenario("prefill", 2, 300, 300)
    norm = next(op for op in layer_operators(MODELS["gpt-3-175b"], sc) if op.name == "attn_norm")
    shape = {"rows": 600, "cols": 12288}
    assert norm.shape == shape
    assert (norm.flops, norm.bytes) == (
        REGISTRY["layernorm"].flops(shape),
        REGISTRY["layernorm"].bytes(shape, "bf16"),
    )
