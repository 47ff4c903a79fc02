"""The flash-attention kernel's rate in a training step: a share of the GEMM roof, from a published
measurement of the kernel and the suite's own measurement of a GEMM.

No attention record is committed with the suite, so the kernel's rate comes from FlashAttention-3's paper
(SOURCE): BF16 on an H100 SXM5, head dim 128, 16 heads, batch x sequence = 16k tokens, in TFLOP/s as
FlashAttention counts them (a causal mask halves the pairs, the backward is 2.5 x the forward; the suite's
attention counts, gpubench.opcount, are the same). Those are short benchmarks at the clock an idle GPU boosts
to; so is the suite's cuBLAS record of its largest bf16 GEMM on the same GPU (GEMM_RECORD). Their ratio is
the kernel's share of the GEMM rate, and a step's attention runs at its (sustained) tensor roof x that share:

    forward, causal mask       figure 5, head dim 128 with the causal mask
    forward, no mask           figure 5, head dim 128
    backward                   figure 6, head dim 128 (published without the mask only: for a causal
                               backward the share is an upper bound)

at the published sequence length nearest below the keys the operator attends to (the rate grows with the
keys each query block runs over; 16k, the longest published, is on the plateau); below the shortest, the
shortest. The share is the H100's on every GPU, as the carried roofs take the H100's ratio: FlashAttention-3
is a Hopper kernel, and other GPUs' best kernels are not measured here. Only flash operators (those with a
`seq_k`) take it; materialised scores are batched GEMMs and row-wise kernels, timed as such.
"""

from __future__ import annotations

import dataclasses
from functools import cache

from gpubench import results
from gpubench.results import ResultsError
from gpubench.roofline.perfmodel import Machine
from gpubench.transformer.operators import Operator
from gpubench.transformer.training.efficiency import REFERENCE_DIR

__all__ = ["BACKWARD", "FORWARD", "GEMM_RECORD", "SOURCE", "Share", "gemm_reference", "machine_for", "share"]

SOURCE = (
    "Shah et al. 2024, FlashAttention-3, arXiv:2407.08608, figures 5 and 6 (the values on the bars): BF16, "
    "H100 SXM5, head dim 128"
)
# TFLOP/s by sequence length: FlashAttention-3's forward (causal mask or none) and backward (no mask)
FORWARD = {
    True: {512: 292, 1024: 423, 2048: 521, 4096: 579, 8192: 602, 16384: 616},
    False: {1024: 565, 2048: 625, 4096: 638, 8192: 646, 16384: 648},
}
BACKWARD = {512: 316, 1024: 424, 2048: 501, 4096: 542, 8192: 559, 16384: 561}
GEMM_RECORD = ("NVIDIA-H100-80GB-HBM3", "torch", "bf16")  # folder, variant, dtype: cuBLAS's largest GEMM


@dataclasses.dataclass(frozen=True)
class Share:
    """A flash operator's rate as a share of the GEMM roof, and how it was found."""

    share: float
    published_tflops: float
    seq: int
    backward: bool
    gemm_tflops: float

    @property
    def note(self) -> str:
        what = "backward" if self.backward else "forward"
        return (f"flash attention {what} at {self.published_tflops:.0f} TFLOP/s ({SOURCE}, sequence "
                f"{self.seq}) / cuBLAS bf16 {self.gemm_tflops:.0f} ({GEMM_RECORD[0]}/results-quick.json) = "
                f"{self.share:.3f} of the GEMM roof")  # fmt: skip


@cache
def gemm_reference() -> float | None:
    """The suite's own short-window cuBLAS rate of its largest bf16 GEMM on the H100 (TFLOP/s), or None
    where the record is not at hand (then attention runs at the GEMM roof)."""
    folder, variant, dtype = GEMM_RECORD
    try:
        run = results.read(REFERENCE_DIR / folder / "results-quick.json", strict=False)
    except (OSError, ResultsError):
        return None
    gemms = [r for r in run.records if r.workload == "gemm" and r.variant == variant and r.dtype == dtype
             and r.status == "ok" and r.timing is not None and r.timing.median > 0]  # fmt: skip
    if not gemms:
        return None
    largest = max(gemms, key=lambda r: r.flops)
    return largest.flops / largest.timing.median / 1e12


def _at(table: dict[int, float], seq: int) -> tuple[int, float]:
    """The published length nearest at or below `seq` (the shortest below all of them) and its rate."""
    lengths = sorted(table)
    at = max((n for n in lengths if n <= seq), default=lengths[0])
    return at, table[at]


def share(op: Operator, backward: bool) -> Share | None:
    """The share of the GEMM roof flash operator `op` runs at (its `backward` when true); None for any other
    operator, or without the reference GEMM record."""
    if op.kind != "attention" or "seq_k" not in op.shape:
        return None
    gemm = gemm_reference()
    if gemm is None:
        return None
    table = BACKWARD if backward else FORWARD[bool(op.shape.get("causal"))]
    seq, tflops = _at(table, op.shape["seq_k"])
    return Share(tflops / gemm, tflops, seq, backward, gemm)


@cache
def machine_for(machine: Machine, fraction: float) -> Machine:
    """`machine` with every tensor-core peak scaled by `fraction` (what a flash operator runs at)."""
    peaks = {k: v * fraction for k, v in machine.ceilings.peaks.items()}
    return dataclasses.replace(machine, ceilings=dataclasses.replace(machine.ceilings, peaks=peaks))
