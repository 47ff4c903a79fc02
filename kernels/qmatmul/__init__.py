"""qmatmul: quantised matmuls, one workload per format (axes M, N, K; and group for int4).

  qmatmul_fp8          fp8 e4m3, one fp32 scale per tensor                 (fp8.py)
  qmatmul_fp8_rowwise  fp8 e4m3, one fp32 scale per token / output column  (fp8_rowwise.py)
  qmatmul_int8         int8 W8A8, per-token and per-column scales, int32   (int8.py)
  qmatmul_int4         int4 weight-only, group scales, fp16/bf16 math      (int4.py)

Each holds the suite's kernels for its format (Triton: triton_scaled.py, triton_int4.py; CUDA C:
int8_gemm.cu through cupy_scaled.py), torch's own quantised path (baselines.py) and the dense fp16/bf16
matmul on the same dequantised operands. quant.py owns the formats (quantise, dequantise, int4 packing,
the error metrics); docs/qmatmul.md explains how dtype and format relate in the records. Importing
the workloads needs neither torch nor triton.
"""
