"""The rates a training step is timed at (docs/training.md, "The roofs"): sustained roofs from figures
measured under load only; flash attention at its published share of the GEMM roof; an overlapped
collective's share of the SMs."""

import pytest

from gpubench import results
from gpubench.roofline.comm import load_topology, predict
from gpubench.roofline.specs import get_spec
from gpubench.transformer.configs import MODELS
from gpubench.transformer.operators import Operator
from gpubench.transformer.predict import op_time
from gpubench.transformer.training import flash
from gpubench.transformer.training.comm import exposed_s
from gpubench.transformer.training.efficiency import BURST_WINDOW_S, REFERENCE_DIR, loaded, roofs_for
from gpubench.transformer.training.layout import Job, Layout
from gpubench.transformer.training.shard import operator_key
from gpubench.transformer.training.step import op_sums, predict_step, seconds

H100 = get_spec("h100_sxm5")
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


def test_an_overlapped_collective_costs_its_channels_share_of_the_sms():
    """NCCL's channels are thread blocks: overlapping a GEMM, a collective of time t with c channels on a
    GPU of S SMs adds max(t - GEMM, t c / S)."""
    topo = load_topology("dgx-h100")
    p = predict("reduce_scatter", 1 << 28, 8, topo)
    t, share = p.time_s, p.channels / H100.sm_count
    assert p.channels == 12 and exposed_s(p, None, H100.sm_count) == t  # nothing hides it
    assert exposed_s(p, 10 * t, H100.sm_count) == pytest.approx(t * share, rel=1e-12)  # a long GEMM
    assert exposed_s(p, t / 2, H100.sm_count) == pytest.approx(t / 2, rel=1e-12)  # a short one
    assert exposed_s(p, 10 * t, None) == 0.0  # no SM count: nothing taken


@pytest.mark.parametrize("model", ["llama-3-70b", "llama-3-405b"])  # GEMMs shorter, then longer
def test_megatron_hides_the_input_gradients_reduction_behind_the_weight_gradient(model):
    """Megatron-LM's column-parallel backward: the re-gather overlaps dgrad, the input gradient's
    reduce-scatter (all-reduce without SP) overlaps wgrad; the forward's collectives stay on the path."""
    job = Job(MODELS[model], 8192, 64)
    topo, roofs = load_topology("dgx-h100"), roofs_for(H100)
    for sp, hidden in ((True, 4), (False, 2)):
        p = predict_step(job, Layout(tp=8, sp=sp, dp=1), H100, roofs, topo)
        tp = [c for c in p.comm if c.group == "TP" and c.count and "asynchronous" in c.why]
        assert sum(c.count for c in tp) == hidden
        sums = op_sums(job, operator_key(p.layout), roofs)
        for c in tp:
            gemm = sums.min_dgrad_s if "re-gather" in c.what else sums.min_wgrad_s
            channels = predict(c.collective, c.nbytes, c.ranks, topo, c.ranks_per_node).channels
            want = max(c.each_s - gemm, c.each_s * channels / H100.sm_count)
            assert c.exposed_s == pytest.approx(want, rel=1e-12) and c.exposed_s < c.each_s
        on_path = [c for c in p.comm if c.group == "TP" and c not in tp]
        assert all(c.exposed_s == c.each_s for c in on_path)
