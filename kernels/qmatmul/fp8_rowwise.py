"""qmatmul_fp8_rowwise: kernels/qmatmul/fp8.py with one fp32 scale per row of a (per token) and per row
of b (per output column): its own workload, since other scales make other dequantised operands, so
another reference and other bytes."""

from gpubench.kernels.qmatmul.fp8 import build

WORKLOAD = build("row")
