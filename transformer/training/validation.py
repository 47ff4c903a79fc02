"""The published training steps the planner is checked against, with where each figure comes from, and its
predictions for them. Nothing in the planner was fitted to these rows.

Korthikanti et al. 2022 (arXiv:2205.05198), GPT models on NVIDIA's Selene (DGX A100 80GB: 8 GPUs on NVLink,
HDR InfiniBand): table 3 gives each model's heads, hidden size, layers, TP, PP, GPUs and global batch
(sequence 2048); table 5 the seconds per iteration with full recompute (TP without SP) and with SP and
selective recompute. The figures were checked against Calculon's transcription of the same rows
(calculon-ai/calculon: examples/{22B,175B,530B,1T}.json for the models; validation/*_full.json and
*_seqsel.json for TP, PP, batch, micro-batch and the interleaving, 3 for 175B and 530B; calculon/megatron/
validation.py for the times). Vocabulary 51,200 and learned positions, LayerNorm, GeLU, biases, tied
embeddings and dropout as in Megatron-LM's GPT models (its README: "All models use a vocabulary size of
51,200 and a sequence length of 2048"); the 2022 code materialises the attention scores (no flash
attention) with fused softmax and norm kernels; fp16.

Llama 3 405B (arXiv:2407.21783): table 4 (GPUs, TP, CP, PP, DP, sequence, batch per DP, TFLOP/s per GPU,
BF16 MFU; DP 8 on the 131,072-token row, which the 16,384 GPUs and 16M tokens per batch need); section 3.3.2
for what the runs did: FSDP that shards optimizer states and gradients but keeps the weights gathered
after the forward (ZeRO-2 here), fp32 gradient accumulation and reduce-scatter, asynchronous
point-to-point in PP, one layer fewer on the first and last stages (the first model chunk holding only the
embedding and the last only the output layer and loss, so 128 one-layer chunks: V = 8 on 16 stages), the
8K stage without activation checkpointing, all-gather based CP; section 3.3.1 for 8-GPU NVLink servers with
400 Gb/s RoCE per GPU between them (the interconnect database's meta-genai-roce). What the paper leaves out
(micro-batch size, the 131K stage's recompute) the planner chooses as its search would for anyone: the
fastest that fits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gpubench.roofline.comm import load_topology
from gpubench.roofline.specs import get_spec
from gpubench.transformer.configs import MODELS, ModelConfig
from gpubench.transformer.training.efficiency import roofs_for
from gpubench.transformer.training.layout import Job, Layout
from gpubench.transformer.training.search import search
from gpubench.transformer.training.step import StepPrediction, predict_step

__all__ = ["KORTHIKANTI", "LLAMA3", "Published", "Validated", "validate"]

_K22 = "Korthikanti et al. 2022, arXiv:2205.05198, tables 3 and 5 (as calculon-ai/calculon transcribes them)"
_MEGATRON_README = "NVIDIA/Megatron-LM README: vocabulary 51,200, sequence 2048 for its GPT models"


def _gpt(key: str, layers: int, hidden: int, heads: int) -> ModelConfig:
    return ModelConfig(
        key, f"GPT {key.split('-')[1].upper()} (Megatron)", layers=layers, hidden=hidden, heads=heads,
        kv_heads=heads, head_dim=hidden // heads, ffn=4 * hidden, activation="gelu", vocab=51200,
        norm="layernorm", max_context=2048, position="learned", bias=True, tied_embeddings=True,
        sources=(_K22, _MEGATRON_README),
    )  # fmt: skip


@dataclass(frozen=True)
class Published:
    label: str
    cfg: ModelConfig
    gpu: str
    topology: str
    job: Job
    layout: Layout | None  # None: TP/CP/PP/DP fixed by `fixed`, the rest chosen by the search
    step_time_s: float | None = None
    tflops_per_gpu: float | None = None
    fixed: dict | None = None
    source: str = ""


def _korthikanti(size: str, cfg: ModelConfig, tp: int, pp: int, batch: int, mb: int, v: int,
                 full_s: float, sel_s: float) -> list[Published]:  # fmt: skip
    job = Job(cfg, 2048, batch, dtype="fp16", attention="materialised", dropout=True)
    full = Layout(tp=tp, pp=pp, micro_batch=mb, interleave=v, recompute="full")
    sel = replace(full, sp=True, recompute="selective")
    return [
        Published(
            f"{size} full recompute", cfg, "a100_sxm4_80gb", "dgx-a100", job, full, full_s, source=_K22
        ),
        Published(f"{size} SP + selective", cfg, "a100_sxm4_80gb", "dgx-a100", job, sel, sel_s, source=_K22),
    ]


KORTHIKANTI = [
    *_korthikanti("22B", _gpt("megatron-22b", 48, 6144, 64), 8, 1, 4, 4, 1, 1.42, 1.10),
    *_korthikanti("175B", _gpt("megatron-175b", 96, 12288, 96), 8, 8, 64, 1, 3, 18.13, 13.75),
    *_korthikanti("530B", _gpt("megatron-530b", 105, 20480, 128), 8, 35, 280, 1, 3, 49.05, 37.83),
    *_korthikanti("1T", _gpt("megatron-1t", 128, 25600, 160), 8, 64, 512, 1, 1, 94.42, 71.49),
]

_L3 = "Llama Team, The Llama 3 Herd of Models, arXiv:2407.21783, table 4 and section 3.3.2"


def _llama(gpus: int, cp: int, dp: int, seq: int, per_dp: int, tflops: float) -> Published:
    job = Job(MODELS["llama-3-405b"], seq, dp * per_dp)
    # V 8: the first chunk of the first stage holds only the embedding, the last of the last only the output
    # layer and loss, in place of one layer each: 126 layers + 2 = 128 one-layer chunks = 16 stages x 8
    fixed = {"tp": 8, "cp": cp, "pp": 16, "dp": dp, "zero": 2, "interleave": 8}
    if seq == 8192:
        fixed["recompute"] = "none"  # "we could pre-train Llama 3 on sequences of 8K tokens without ..."
    return Published(f"405B {gpus} GPUs, seq {seq}", job.cfg, "h100_sxm5", "meta-genai-roce", job, None,
                     tflops_per_gpu=tflops, fixed=fixed, source=_L3)  # fmt: skip


LLAMA3 = [
    _llama(8192, 1, 64, 8192, 32, 430),
    _llama(16384, 1, 128, 8192, 16, 400),
    _llama(16384, 16, 8, 131072, 16, 380),
]


@dataclass(frozen=True)
class Validated:
    row: Published
    prediction: StepPrediction

    @property
    def error(self) -> float:
        """(predicted - published) / published, of the step time where published, else of TFLOP/s per GPU."""
        if self.row.step_time_s is not None:
            return self.prediction.step_time_s / self.row.step_time_s - 1
        return self.prediction.tflops_per_gpu / self.row.tflops_per_gpu - 1


def _predict(row: Published) -> StepPrediction:
    spec = get_spec(row.gpu)
    roofs = roofs_for(spec)
    lay = row.layout
    gpus = (
        lay.gpus if lay is not None else row.fixed["tp"] * row.fixed["cp"] * row.fixed["pp"] * row.fixed["dp"]
    )
    topo = load_topology(row.topology, nodes=-(-gpus // 8))
    if lay is not None:
        return predict_step(row.job, lay, spec, roofs, topo)
    res = search(row.job, gpus, spec, roofs, topo, top=1, p2p_overlap=True, fixed=row.fixed)
    if res.best is None:
        raise ValueError(f"{row.label}: no layout with {row.fixed} fits")
    return res.best


def validate(rows: list[Published] | None = None) -> list[Validated]:
    """The planner's prediction for each published row."""
    return [Validated(r, _predict(r)) for r in (KORTHIKANTI + LLAMA3 if rows is None else rows)]
