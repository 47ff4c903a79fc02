"""The rates a training step is timed at (docs/training.md, "The roofs"): sustained roofs from figures
measured under load only."""

import pytest

from gpubench import results
from gpubench.roofline.specs import get_spec
from gpubench.transformer.training.efficiency import BURST_WINDOW_S, REFERENCE_DIR, loaded, roofs_for

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
