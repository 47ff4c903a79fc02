"""attention: O = softmax(Q K^T / sqrt(head_dim) + mask) V (axes `batch`, `heads`, `kv_heads`, `seq_q`,
`seq_k`, `head_dim`, `causal`).

Inputs (q, k, v, causal): q [batch, heads, seq_q, head_dim], k and v [batch, kv_heads, seq_k, head_dim],
contiguous, fp16 or bf16 (fp32 accumulation everywhere; the Triton and CUDA kernels also take fp32);
`heads` a multiple of `kv_heads` (grouped-query attention; kv_heads == heads is multi-head attention);
causal a bool. Causal masking is bottom-right aligned: query i sees keys j <= i + seq_k - seq_q
(FlashAttention 2's convention and KV-cache decoding's; for seq_q == seq_k it is SDPA's is_causal). A query
row that sees no key (causal, seq_q > seq_k) gives zeros. The reference is float64 (reference.py).

The three forms the roofline separates: `naive` materialises S (memory-bound), the flash kernels tile it
away (compute-bound at long sequences), and decoding (seq_q <= 16 against a long cache) streams K/V once
(memory-bound again: seq_q * heads / kv_heads FLOP per byte of 16-bit K/V). The backward is its own
workload, `attention_bwd` (kernels/attention/bwd.py). See docs/attention.md.
"""

from __future__ import annotations

from gpubench import dtypes, opcount
from gpubench.kernels import compiled
from gpubench.kernels.inputs import generator, randn
from gpubench.kernels.workload import Tolerance, Variant, Workload
from gpubench.roles import BASELINE, KERNEL

AXES = ("batch", "heads", "kv_heads", "seq_q", "seq_k", "head_dim", "causal")
DTYPES = ("fp16", "bf16")
# O is a convex combination of V's rows (V ~ N(0, 1), |O| < 4), so the tolerances are absolute plus
# relative, two ulps of the output. The flash kernels round P to the storage dtype before P V (errors
# that average out over the keys) and O once; naive also rounds S = Q K^T. Measured on the CPU over the
# test shapes and 10 seeds: the flash kernels' worst error is one output ulp (a third of the tolerance
# below), naive's 0.6 of it. (The interpreter runs the Triton kernels' bf16 dots in fp32: their errors
# with bf16 tensor-core dots are measured by tests/gpu/test_attention_gpu.py.)
TOLERANCES = {
    "fp16": Tolerance(atol=2e-3, rtol=2e-3),
    "bf16": Tolerance(atol=1.6e-2, rtol=1.6e-2),
}


def shape_of(batch, heads, kv_heads, seq_q, seq_k, head_dim, causal):
    return dict(batch=batch, heads=heads, kv_heads=kv_heads, seq_q=seq_q, seq_k=seq_k, head_dim=head_dim,
                causal=causal)  # fmt: skip


SHAPES = {
    # Odd lengths crossing the interpreter's 16-wide tiles, seq_q != seq_k both ways, causal and not,
    # grouped-query (4 -> 2, 2 -> 1, 8 -> 2 heads), decode shapes for the split-KV variant.
    "test": [
        shape_of(1, 1, 1, 1, 1, 32, 0),
        shape_of(2, 4, 2, 37, 37, 32, 1),  # square causal (SDPA's is_causal)
        shape_of(1, 2, 2, 19, 70, 64, 1),  # fewer queries than keys: bottom-right diagonal
        shape_of(1, 2, 1, 45, 17, 32, 1),  # more queries than keys: the first 28 rows see no key
        shape_of(1, 3, 3, 33, 50, 64, 0),
        shape_of(1, 2, 2, 20, 24, 128, 0),
        shape_of(2, 8, 2, 1, 300, 64, 1),  # decode, one new token
        shape_of(1, 4, 1, 5, 200, 32, 1),  # decode, five new tokens (causal among themselves)
    ],
    # The GPU report's sweep: head_dim 128, 16 heads, batch x seq = 16K tokens, seq 1K..16K, causal and not
    # (the FlashAttention papers' setting); decode: Llama-3-8B-like heads (32 query, 8 kv), batch 4,
    # contexts 8K..128K, one new token and 16 (speculative decoding).
    "bench": [
        shape_of(16384 // n, 16, 16, n, n, 128, c) for n in (1024, 2048, 4096, 8192, 16384) for c in (0, 1)
    ]  # fmt: skip
    + [shape_of(4, 32, 8, 1, n, 128, 1) for n in (8192, 32768, 131072)]
    + [shape_of(4, 32, 8, 16, 32768, 128, 1)],
    # One prefill shape and one decode shape: the flash and naive clusters and the decode cluster.
    "quick": [shape_of(4, 16, 16, 4096, 4096, 128, 0), shape_of(4, 32, 8, 1, 32768, 128, 1)],
}


def make_inputs(shape, dtype, device, seed=0):
    g = generator(device, seed)
    b, sq, sk, hd = shape["batch"], shape["seq_q"], shape["seq_k"], shape["head_dim"]
    q = randn((b, shape["heads"], sq, hd), dtype, device, g)
    k = randn((b, shape["kv_heads"], sk, hd), dtype, device, g)
    v = randn((b, shape["kv_heads"], sk, hd), dtype, device, g)
    return q, k, v, bool(shape["causal"])


def reference(q, k, v, causal):
    # The costliest step of a check at 16K tokens: the harness computes it once per shape and dtype for
    # all the variants (bench.measure.correctness.ReferenceCache).
    from gpubench.kernels.attention.reference import reference as ref

    return ref(q, k, v, causal)


def flops(shape):
    # 4 * batch * heads * head_dim per unmasked (query, key) pair: Q K^T and P V (gpubench.opcount).
    return opcount.attention_flops(shape["batch"], shape["heads"], shape["head_dim"], shape["seq_q"],
                                   shape["seq_k"], bool(shape["causal"]))  # fmt: skip


def nbytes(shape, dtype, *, materialised=False):
    # Q and O per query head, K and V once per kv head (gpubench.opcount); `materialised` adds S written
    # and read once (the naive form's minimum).
    return opcount.attention_bytes(shape["batch"], shape["heads"], shape["kv_heads"], shape["head_dim"],
                                   shape["seq_q"], shape["seq_k"], int(dtypes.itemsize(dtype)),
                                   materialised=materialised)  # fmt: skip


def details(shape, dtype):
    """What a report needs to place the three forms: the unmasked pairs, the bytes of the materialised
    form (for `naive`), and the phase (decode: seq_q <= 16)."""
    from gpubench.kernels.attention.triton_decode import MAX_SEQ_Q

    pairs = opcount.attention_pairs(shape["seq_q"], shape["seq_k"], bool(shape["causal"]))
    return {
        "attention": {
            "pairs": pairs,
            "materialised_bytes": nbytes(shape, dtype, materialised=True),
            "materialised_variants": ["naive"],
            "phase": "decode" if shape["seq_q"] <= MAX_SEQ_Q else "prefill",
        }
    }


def _variants():
    from gpubench.kernels.attention import baselines, cupy_kernels, flex, triton_decode, triton_fwd
    from gpubench.kernels.attention.support import (
        cuda_supported,
        decode_supported,
        naive_supported,
        sdpa_supported,
        tma_supported,
        triton_supported,
    )

    out = {
        "triton": Variant("triton", "triton", triton_fwd.flash_attention, supported=triton_supported,
                          description="Triton flash attention: online softmax over K/V tiles, causal blocks "
                          "skipped, autotuned per architecture"),
        "triton_tma": Variant("triton_tma", "triton", triton_fwd.flash_attention_tma, supported=tma_supported,
                              description="the same kernel with Q/K/V/O moved by TMA tensor descriptors "
                              "(Hopper)"),
        "triton_decode": Variant("triton_decode", "triton", triton_decode.flash_decode,
                                 supported=decode_supported,
                                 description="Triton flash-decoding: KV split across programs, one read of "
                                 "each kv head for its whole group, then a combine kernel"),
        "cuda": Variant("cuda", "cupy", cupy_kernels.attention, supported=cuda_supported,
                        description="CUDA C: 32-query tiles, K/V tiles in shared memory, online softmax, "
                        "fp32 SIMT math"),
        "naive": Variant("naive", "torch", baselines.naive, supported=naive_supported,
                         description="torch ops materialising S: matmul, mask, softmax, matmul",
                         nbytes=lambda shape, dtype: nbytes(shape, dtype, materialised=True)),
    }  # fmt: skip
    out[compiled.NAME] = flex.VARIANT
    for backend in baselines.BACKENDS:
        name = f"sdpa_{backend}"
        out[name] = Variant(name, "torch", baselines.variant_fn(backend),
                            supported=sdpa_supported(backend),
                            description=f"torch SDPA, {backend} backend only",
                            role=BASELINE if backend in baselines.BASELINE_BACKENDS else KERNEL)  # fmt: skip
    return out


WORKLOAD = Workload(
    name="attention",
    axes=AXES,
    shapes=SHAPES,
    dtypes=DTYPES,
    tolerances=TOLERANCES,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes=nbytes,
    variants=_variants(),
    description="Attention forward: flash (Triton, CUDA C) and flash-decoding against naive attention and "
    "torch SDPA's backends.",
    uses_tensor_cores=True,
    details=details,
)
