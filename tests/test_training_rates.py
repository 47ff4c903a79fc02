"""The rates a training step is timed at (docs/training.md, "The roofs"): sustained roofs from figures
measured under load only; flash attention at its published share of the GEMM roof."""

import pytest

from gpubench import results
from gpubench.roofline.specs import get_spec
from gpubench.transformer.operators import Operator
from gpubench.transformer.predict import op_time
from gpubench.transformer.training import flash
from gpubench.transformer.training.efficiency import BURST_WINDOW_S, REFERENCE_DIR, loaded, roofs_for
from gpubench.transformer.training.step import seconds

H100_FILE = REFERENCE_DIR / "NVIDIA-H100-80GB-HBM3" / "ceilings.json"


def test_a_16_bit_figure_measured_in_a_burst_window_is_no_sustained_roof():
    """The committed H100 file predates burst and sustained measurement: its cuBLAS fp16 figure ran for
    0.10 s (the clock had not settled under the power cap), bf16's for 1.2 s. The roof is bf16's."""
    f = results.read_ceilings(H100_FILE)
    windows = {e.name: e.telemetry["window_s"] for e in f.micro if e.name in ("cublas_fp16", "cublas_bf16")}
    assert windows["cublas_fp16"] <= BURST_WINDOW_S < windows["cublas_bf16"]
    kept, note = loaded(f)
    assert "fp16" not in kept.peaks_sustained and note.startswith("a burst left out: fp16's")
    h100 = roofs_for(get_spec("h100_sxm5"))
    assert h100.peak_tflops("fp16") == h100.peak_tflops("bf16") == f.ceilings.peaks_sustained["bf16"]
    assert "a burst left out" in h100.origin


def test_figures_all_measured_under_load_keep_the_better_of_the_two():
    f = results.read_ceilings(REFERENCE_DIR / "NVIDIA-H200" / "ceilings.json")
    assert loaded(f) == (f.ceilings, "")  # its fp16 ran 0.56 s, its bf16 1.19 s: both under load
    best = max(f.ceilings.peaks_sustained[k] for k in ("fp16", "bf16"))
    assert roofs_for(get_spec("h200")).peak_tflops("fp16") == pytest.approx(best, rel=1e-12)


def _flash_op(seq_k: int, causal: bool = True) -> Operator:
    shape = {"batch": 1, "heads": 16, "kv_heads": 2, "seq_q": 4096, "seq_k": seq_k, "head_dim": 128,
             "causal": int(causal)}  # fmt: skip
    return Operator(
        "attention", "attention", "layer", 4 * 4096 * seq_k * 16 * 128, 1 << 20, "bf16", True, shape
    )


def test_flash_attention_runs_at_its_published_share_of_the_gemm_roof():
    run = results.read(REFERENCE_DIR / "NVIDIA-H100-80GB-HBM3" / "results-quick.json")
    (big,) = [r for r in run.records if r.workload == "gemm" and r.variant == "torch" and r.dtype == "bf16"
              and r.shape == {"M": 8192, "N": 8192, "K": 8192}]  # fmt: skip
    gemm = big.flops / big.timing.median / 1e12
    assert flash.gemm_reference() == pytest.approx(gemm, rel=1e-12)  # the largest bf16 cuBLAS record
    fwd, bwd = flash.share(_flash_op(8192), False), flash.share(_flash_op(8192), True)
    assert fwd.share == pytest.approx(flash.FORWARD[True][8192] / gemm, rel=1e-12)
    assert bwd.share == pytest.approx(flash.BACKWARD[8192] / gemm, rel=1e-12)
    roofs = roofs_for(get_spec("h100_sxm5"))
    op = _flash_op(8192)
    assert op_time(op, roofs.machine).limit == "tensor"
    on_gemm_roof = op_time(op, roofs.machine).time_s
    assert seconds(op, roofs) == pytest.approx(on_gemm_roof / fwd.share, rel=1e-9)
    assert seconds(op, roofs, backward=True) == pytest.approx(on_gemm_roof / bwd.share, rel=1e-9)


@pytest.mark.parametrize(("seq_k", "published"), [(131072, 16384), (8192, 8192), (6000, 4096), (300, 512)])
def test_the_published_length_nearest_below_the_keys_sets_the_share(seq_k, published):
    assert flash.share(_flash_op(seq_k), False).seq == published
    assert (
        flash.share(_flash_op(seq_k, causal=False), False).published_tflops
        == flash.FORWARD[False][max(published, 1024)]
    )


def test_materialised_scores_and_gemms_keep_the_gemm_roof():
    roofs = roofs_for(get_spec("h100_sxm5"))
    scores = Operator("attn_scores", "attention", "layer", 1 << 30, 1 << 20, "bf16", True,
                      {"batch": 32, "M": 2048, "N": 2048, "K": 128})  # fmt: skip
    assert flash.share(scores, False) is None
    assert seconds(scores, roofs) == op_time(scores, roofs.machine).time_s
