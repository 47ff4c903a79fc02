"""Node-by-node profiles on the CPU: the built-in block against a float64 reference (prefill, decode and
chunked prefill against a KV cache), torch.fx tracing with the torch.export fallback and the place where
an untraceable module stopped, and every node's FLOPs and bytes, held to the layer's operator list."""

import pytest
import torch
from torch import nn

from gpubench import opcount
from gpubench.bench.measure.sampling import measure
from gpubench.transformer.measured import profile_module, trace
from gpubench.transformer.measured.blocks import block_from_config, block_inputs
from gpubench.transformer.measured.report import COLUMNS
from gpubench.transformer.measured.timers import HOST_RULE, HostTimer
from gpubench.transformer.measured.tracing import UntraceableModule
from gpubench.transformer.operators import layer_operators
from gpubench.transformer.scenario import Scenario
from tests.support.tiny_model import TINY

EPS = 1e-5


def reference(block, x, start=0, past=None):
    """The block's maths in float64, written out: (output, rotated K, V) for the input's positions; `past`
    (K, V) of earlier positions are attended to first (bottom-right causal)."""
    p = {k: v.double() for k, v in block.state_dict().items()}
    x = x.double()
    b, s, _ = x.shape
    h, kvh, d = block.heads, block.kv_heads, block.head_dim

    def norm(t, w):
        return t * (t.square().mean(-1, keepdim=True) + EPS).rsqrt() * w

    def rotate(t):
        inv = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
        ang = torch.arange(start, start + s, dtype=torch.float64)[:, None] * inv
        t1, t2 = t[..., : d // 2], t[..., d // 2 :]
        return torch.cat([t1 * ang.cos() - t2 * ang.sin(), t1 * ang.sin() + t2 * ang.cos()], -1)

    qkv = norm(x, p["attn_norm.weight"]) @ p["qkv_proj.weight"].T
    q, k, v = qkv.split([h * d, kvh * d, kvh * d], -1)
    q = rotate(q.view(b, s, h, d).transpose(1, 2))
    k = rotate(k.view(b, s, kvh, d).transpose(1, 2))
    v = v.view(b, s, kvh, d).transpose(1, 2)
    keys, values = (k, v) if past is None else (torch.cat([past[0], k], 2), torch.cat([past[1], v], 2))
    sk = keys.shape[2]
    scores = q @ keys.repeat_interleave(h // kvh, 1).transpose(-1, -2) / d**0.5
    seen = torch.ones(s, sk, dtype=torch.bool).tril(sk - s)
    att = scores.masked_fill(~seen, float("-inf")).softmax(-1) @ values.repeat_interleave(h // kvh, 1)
    x = x + att.transpose(1, 2).reshape(b, s, h * d) @ p["o_proj.weight"].T
    gate, up = (norm(x, p["mlp_norm.weight"]) @ p["gate_up_proj.weight"].T).chunk(2, -1)
    return x + (torch.nn.functional.silu(gate) * up) @ p["down_proj.weight"].T, k, v


def test_block_matches_the_float64_reference():
    block = block_from_config(TINY, batch=2, seq=11)
    (x,) = block_inputs(TINY, batch=2, seq=11)
    expected, _, _ = reference(block, x)
    torch.testing.assert_close(block(x).double(), expected, atol=2e-5, rtol=2e-5)  # fp32 against float64
    wrong = block_from_config(TINY, batch=2, seq=11)  # other random weights: the check must notice
    with pytest.raises(AssertionError):
        torch.testing.assert_close(wrong(x).double(), expected, atol=2e-5, rtol=2e-5)


@pytest.mark.parametrize("new", [1, 4])
def test_cached_steps_see_the_cache_bottom_right(new):
    """A step of `new` tokens against a cache holding the earlier positions' K and V gives what the full
    prefill gives for those tokens (RoPE positions, cache slots and the bottom-right mask all right)."""
    seq, f64 = 13, torch.float64
    full = block_from_config(TINY, dtype=f64, batch=2, seq=seq)
    step = block_from_config(TINY, dtype=f64, phase="decode", batch=2, seq=new, context=seq)
    step.load_state_dict(full.state_dict())
    (x,) = block_inputs(TINY, dtype=f64, batch=2, seq=seq)
    out_full, _, _ = reference(full, x)
    _, k, v = reference(full, x[:, : seq - new])
    step.k_cache[:, :, : seq - new], step.v_cache[:, :, : seq - new] = k, v
    # float64 throughout but the rotary tables, which the block keeps in fp32 (~1e-8 relative)
    torch.testing.assert_close(step(x[:, seq - new :]), out_full[:, seq - new :], atol=1e-7, rtol=1e-7)
    torch.testing.assert_close(full(x), out_full, atol=1e-7, rtol=1e-7)
    shifted = block_from_config(TINY, dtype=f64, phase="decode", batch=2, seq=new, context=seq + 1)
    shifted.load_state_dict(full.state_dict())  # the same tokens one position later: other angles
    shifted.k_cache[:, :, : seq - new], shifted.v_cache[:, :, : seq - new] = k, v
    with pytest.raises(AssertionError):
        torch.testing.assert_close(shifted(x[:, seq - new :]), out_full[:, seq - new :], atol=1e-7, rtol=1e-7)


@pytest.fixture(scope="module")
def profiled():
    block = block_from_config(TINY, batch=2, seq=16)
    (x,) = block_inputs(TINY, batch=2, seq=16)
    return profile_module(block, x, gpu="h100_sxm5")


def test_every_node_is_counted_and_the_gemms_agree_with_the_operator_list(profiled):
    p = profiled
    assert p.tracer == "torch.fx.symbolic_trace" and not p.device_time and "HOST wall time" in p.timer
    nodes = {n.name: n for n in p.nodes}
    qkv = nodes["qkv_proj"]
    assert qkv.flops == 2 * 32 * 128 * 64 and qkv.flops_source == "FlopCounterMode"
    assert qkv.bytes == (32 * 64 + 64 * 128 + 32 * 128) * 4  # x, the weight, the output: fp32
    sdpa = nodes["scaled_dot_product_attention"]
    assert sdpa.flops == opcount.attention_flops(2, 4, 16, 16, 16, True) and "opcount" in sdpa.flops_source
    assert sdpa.bytes == opcount.attention_bytes(2, 4, 2, 16, 16, 16, 4)  # K, V once per kv head
    ops = layer_operators(TINY, Scenario("prefill", 2, 16, 16, "fp32"))
    model = sum(op.flops for op in ops if op.kind in ("gemm", "attention"))
    assert (
        sum(n.flops for n in p.timed() if n.flops_source != "none" and n.target in ("linear", sdpa.target))
        == model
    )
    norm = nodes["attn_norm"]
    assert norm.bytes == next(
        op for op in ops if op.name == "attn_norm"
    ).bytes and norm.flops_source.startswith("estimate")
    views = [n for n in p.timed() if n.kind == "view"]
    assert views and all(n.bytes == 0 and n.flops == 0 for n in views)
    assert all(n.time_s > 0 for n in p.timed()) and p.module_time_s > 0
    assert qkv.bound in ("memory", "compute") and qkv.predicted_s > 0


def test_table_csv_and_picture(profiled, tmp_path):
    text = profiled.table(top=3)
    assert (
        "heaviest 3 nodes by time:" in text
        and "HOST wall time" in text
        and "views, which move nothing" in text
    )
    profiled.to_csv(tmp_path / "nodes.csv")
    lines = (tmp_path / "nodes.csv").read_text().splitlines()
    assert lines[0].split(",") == list(COLUMNS) and len(lines) == len(profiled.nodes) + 1
    profiled.plot(tmp_path / "graph.png")
    assert (tmp_path / "graph.png").read_bytes()[:4] == b"\x89PNG"
    assert [n.name for n in profiled.heaviest(2)] == sorted(
        (n.name for n in profiled.timed()),
        key=lambda name: -next(m.time_s for m in profiled.nodes if m.name == name),
    )[:2]


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        y = self.lin(x)
        if y.sum() > 0:  # a branch on a tensor's value: neither tracer can follow it
            return y.relu()
        return -y


class ShapeBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        if x.shape[0] > 1:  # symbolic tracing cannot decide this; torch.export (with the example) can
            return self.lin(x).relu()
        return self.lin(x)


def test_an_untraceable_module_says_where_it_stopped():
    with pytest.raises(UntraceableModule) as exc:
        trace(DataDependent(), (torch.randn(4, 8),), tracer="fx")
    assert f"{__file__}:" in str(exc.value) and "in forward `if y.sum() > 0:" in str(exc.value)
    assert "torch.fx.symbolic_trace stopped at" in str(exc.value)


def test_export_takes_over_where_symbolic_tracing_stops():
    x = torch.randn(4, 8)
    with pytest.raises(UntraceableModule, match="x.shape"):
        trace(ShapeBranch(), (x,), tracer="fx")
    p = profile_module(ShapeBranch(), x)
    assert p.tracer == "torch.export" and "traced with torch.export instead" in p.notes[0]
    linear = next(n for n in p.timed() if n.target == "linear")
    assert linear.flops == 2 * 4 * 8 * 8 and linear.bytes == (32 + 64 + 8 + 32) * 4  # x, W, bias, out


class InPlace(nn.Module):
    def forward(self, x):
        y = x * 2
        y.add_(1)
        return y


def test_in_place_ops_are_timed_on_copies():
    x = torch.ones(8)
    p = profile_module(InPlace(), x)
    add = next(n for n in p.timed() if n.target == "add_")
    assert add.samples >= HOST_RULE.min_samples and add.bytes == 2 * 8 * 4
    assert torch.equal(InPlace()(x), torch.full((8,), 3.0))


def test_host_timer_runs_the_adaptive_loop():
    calls = []
    m = measure(lambda: calls.append(1), HostTimer(), HOST_RULE)
    assert m.method == "host-perf-counter" and len(m.samples) >= HOST_RULE.min_samples
    assert all(s > 0 for s in m.samples) and len(calls) > len(m.samples)  # warm-up calls came first


def test_bad_arguments():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        trace(lambda x: x, (torch.ones(1),))
    with pytest.raises(ValueError, match="tracer must be one of"):
        trace(InPlace(), (torch.ones(1),), tracer="jit")
    with pytest.raises(ValueError, match="unknown GPU"):
        profile_module(InPlace(), torch.ones(2), gpu="tpu9")
