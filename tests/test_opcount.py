"""The shared operator counts against brute force."""

import itertools

import pytest

from gpubench.opcount import activation_bytes, attention_bytes, attention_flops, attention_pairs, weight_bytes


def _brute_pairs(sq, sk, causal):
    return sum(1 for i in range(sq) for j in range(sk) if not causal or j <= i + sk - sq)


@pytest.mark.parametrize("sq, sk", list(itertools.product([0, 1, 2, 5, 16, 17], [0, 1, 3, 16, 33])))
@pytest.mark.parametrize("causal", [False, True])
def test_pairs_match_a_brute_force_count(sq, sk, causal):
    assert attention_pairs(sq, sk, causal) == _brute_pairs(sq, sk, causal)


def test_causal_square_counts_the_lower_triangle_and_decode_sees_everything():
    assert attention_pairs(1024, 1024, True) == 1024 * 1025 // 2
    assert attention_pairs(1, 8192, True) == 8192  # one new token sees the whole cache
    assert attention_pairs(4, 2, True) == 0 + 0 + 1 + 2  # rows that see no key count none


def test_flops_and_backward():
    f = attention_flops(2, 8, 64, 128, 128, False)
    assert f == 4 * 2 * 8 * 64 * 128 * 128
    assert attention_flops(2, 8, 64, 128, 128, False, backward=True) == f * 5 // 2


def test_bytes_read_kv_once_per_kv_head():
    mha = attention_bytes(1, 32, 32, 128, 1, 8192, 2)
    gqa = attention_bytes(1, 32, 8, 128, 1, 8192, 2)
    assert mha == 2 * 32 * 128 * 2 + 2 * 32 * 8192 * 128 * 2
    assert gqa == 2 * 32 * 128 * 2 + 2 * 8 * 8192 * 128 * 2
    naive = attention_bytes(1, 4, 4, 64, 256, 256, 2, materialised=True)
    assert naive - attention_bytes(1, 4, 4, 64, 256, 256, 2) == 2 * 4 * 256 * 256 * 2


def test_weight_bytes_per_format():
    assert weight_bytes(4096, 4096, "fp16") == 4096 * 4096 * 2
    assert weight_bytes(4096, 4096, "int8") == 4096 * 4096 + 4096 * 4
    assert weight_bytes(4096, 4096, "int4", group=128) == 4096 * 4096 // 2 + 32 * 4096 * 2
    with pytest.raises(ValueError, match="multiple of the group"):
        weight_bytes(100, 8, "int4", group=64)
    with pytest.raises(ValueError, match="unknown weight format"):
        weight_bytes(8, 8, "int3")


def test_per_tensor_scales_and_activation_bytes():
    # one fp32 scale for the whole matrix instead of one per column
    assert weight_bytes(4096, 4096, "fp8", per_tensor=True) == 4096 * 4096 + 4
    assert weight_bytes(4096, 4096, "fp8") == 4096 * 4096 + 4096 * 4
    assert weight_bytes(4096, 4096, "fp16", per_tensor=True) == 4096 * 4096 * 2  # no scales to count
    assert weight_bytes(4096, 8192, "int4", group=4096) == 4096 * 8192 // 2 + 8192 * 2  # per-channel
    # activations: per-row (per-token) fp32 scales, or one per tensor
    assert activation_bytes(16, 4096, "int8") == 16 * 4096 + 16 * 4
    assert activation_bytes(16, 4096, "fp8", per_tensor=True) == 16 * 4096 + 4
    assert activation_bytes(16, 4096, "bf16") == 16 * 4096 * 2
    with pytest.raises(ValueError, match="weight-only"):
        activation_bytes(16, 4096, "int4")
    with pytest.raises(ValueError, match="unknown weight format"):
        activation_bytes(16, 4096, "int2")
