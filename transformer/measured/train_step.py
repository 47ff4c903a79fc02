"""A training step measured on the device at hand: a LLaMA-style model (the built-in block, stacked to a few
layers, with embedding, final norm, output layer and cross-entropy), random weights and tokens, a real
mixed-precision AdamW step; the forward, backward and optimizer each timed, the peak memory taken, the MFU
worked out; next to the training planner's prediction for the same step on one GPU, in the same record.

Mixed precision as the planner counts it: 16-bit weights and activations, gradients accumulated into fp32
buffers, AdamW (torch.optim.AdamW, fused on CUDA) on fp32 master weights, the 16-bit weights copied back.
On a CUDA device the phases are timed with CUDA events on the stream and the peak is
torch.cuda.max_memory_allocated; on the CPU the same step runs, timed on the host (time.perf_counter,
labelled so), with no peak memory, so the path is tested where there is no GPU.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from gpubench.kernels.workload import torch_dtype
from gpubench.transformer.configs import ModelConfig
from gpubench.transformer.measured.blocks import block_from_config
from gpubench.transformer.training.efficiency import roofs_for
from gpubench.transformer.training.formulas import palm_flops_per_token
from gpubench.transformer.training.layout import Job, Layout
from gpubench.transformer.training.render import SCHEMA, SCHEMA_VERSION, step_json
from gpubench.transformer.training.step import predict_step

__all__ = ["PHASES", "MixedAdamW", "StackedModel", "measure_train_step", "stacked", "train_step_document"]

PHASES = ("forward", "backward", "optimizer step")


class StackedModel(nn.Module):
    """Embedding, `cfg.layers` built-in blocks, final norm and output layer; forward gives the mean
    cross-entropy against `targets`."""

    def __init__(self, cfg: ModelConfig, seq: int, batch: int, device, dtype):
        super().__init__()
        if cfg.position != "rope":
            raise ValueError(f"model {cfg.key!r}: the built-in block is LLaMA-style (rotary positions only)")
        with torch.device(device):
            self.embed = nn.Embedding(cfg.vocab, cfg.hidden)
            norm = nn.RMSNorm(cfg.hidden) if cfg.norm == "rmsnorm" else nn.LayerNorm(cfg.hidden)
            self.norm, self.head = norm, nn.Linear(cfg.hidden, cfg.vocab, bias=False)
        blocks = [
            block_from_config(cfg, device=device, dtype=dtype, seq=seq, batch=batch)
            for _ in range(cfg.layers)
        ]
        self.blocks = nn.ModuleList(blocks)
        if cfg.tied_embeddings:
            self.head.weight = self.embed.weight
        self.to(dtype).train()

    def forward(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.norm(x)).float()  # the loss in fp32, as the planner counts it
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


class MixedAdamW:
    """AdamW on fp32 master weights with fp32 gradient buffers; the 16-bit weights copied back."""

    def __init__(self, params: list[nn.Parameter], fused: bool):
        self.params = params
        self.master = [p.detach().float().clone() for p in params]
        for m in self.master:
            m.grad = torch.zeros_like(m)
        self.opt = torch.optim.AdamW(self.master, lr=1e-4, fused=fused or None)

    def step(self) -> None:
        for p, m in zip(self.params, self.master):
            m.grad.copy_(p.grad)
            p.grad = None
        self.opt.step()
        for p, m in zip(self.params, self.master):
            p.data.copy_(m)


class _Clock:
    """Elapsed seconds of a phase: CUDA events on the current stream, else the host's perf_counter."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def mark(self):
        if self.cuda:
            e = torch.cuda.Event(enable_timing=True)
            e.record()
            return e
        return time.perf_counter()

    def between(self, a, b) -> float:
        if self.cuda:
            b.synchronize()
            return a.elapsed_time(b) / 1e3
        return b - a


def measure_train_step(cfg: ModelConfig, *, batch: int, seq: int, device="cpu", dtype: str = "bf16",
                       steps: int = 5, warmup: int = 2, seed: int = 0) -> dict:  # fmt: skip
    """Median seconds of each phase over `steps` steps (after `warmup`), the peak memory (CUDA) and how
    the time was taken. `cfg.layers` blocks are stacked."""
    device = torch.device(device)
    torch.manual_seed(seed)
    model = StackedModel(cfg, seq, batch, device, torch_dtype(dtype))
    opt = MixedAdamW(list(model.parameters()), fused=device.type == "cuda")
    g = torch.Generator(device=device).manual_seed(seed)
    tokens = torch.randint(0, cfg.vocab, (batch, seq), device=device, generator=g)
    targets = torch.randint(0, cfg.vocab, (batch, seq), device=device, generator=g)
    clock, times = _Clock(device), {p: [] for p in PHASES}
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    for i in range(warmup + steps):
        if i == warmup and device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        t0 = clock.mark()
        loss = model(tokens, targets)
        t1 = clock.mark()
        loss.backward()
        t2 = clock.mark()
        opt.step()
        t3 = clock.mark()
        if i >= warmup:
            for phase, (a, b) in zip(PHASES, ((t0, t1), (t1, t2), (t2, t3))):
                times[phase].append(clock.between(a, b))
    cuda = device.type == "cuda"
    host = "HOST wall time (time.perf_counter on the CPU, no GPU): not device time"
    return {
        "phases_s": {p: statistics.median(v) for p, v in times.items()},
        "samples_s": times,
        "peak_memory_bytes": torch.cuda.max_memory_allocated(device) if cuda else None,
        "timer": "CUDA events on the stream (device time)" if cuda else host,
        "device": torch.cuda.get_device_name(device) if cuda else "cpu",
        "loss": float(loss.detach()),
    }  # fmt: skip


def train_step_document(cfg: ModelConfig, spec, measured: dict, *, batch: int, seq: int, dtype: str = "bf16",
                        measured_ceilings=None, origin: str = "") -> dict:  # fmt: skip
    """The measurement next to the planner's prediction for one GPU of `spec`, in the planner's record
    format (gpubench train --json): step_time_s, tokens_per_s, tflops_per_gpu, mfu, memory_per_gpu_bytes,
    terms."""
    job = Job(cfg, seq, batch, dtype=dtype, grad_dtype="fp32", attention="flash")
    pred = predict_step(job, Layout(), spec, roofs_for(spec, measured_ceilings, origin), None)
    step = sum(measured["phases_s"].values())
    model_flops = palm_flops_per_token(cfg, seq) * batch * seq
    on_gpu = measured["peak_memory_bytes"] is not None
    mine = {
        "step_time_s": step,
        "tokens_per_s": batch * seq / step,
        "tflops_per_gpu": model_flops / step / 1e12,
        "mfu": model_flops / step / 1e12 / spec.peaks[dtype] if on_gpu else None,
        "memory_per_gpu_bytes": measured["peak_memory_bytes"],
        "terms": [{"name": p, "seconds": s} for p, s in measured["phases_s"].items()],
        **{k: measured[k] for k in ("timer", "device", "samples_s", "loss")},
    }
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "kind": "measured single-GPU step",
            "model": cfg.to_json(), "batch": batch, "seq": seq, "dtype": dtype, "measured": mine,
            "prediction": step_json(pred)}  # fmt: skip


def stacked(cfg: ModelConfig, layers: int) -> ModelConfig:
    """`cfg` with `layers` layers (the measured model's depth)."""
    return replace(cfg, key=f"{cfg.key}-{layers}l", name=f"{cfg.name} ({layers} layers)", layers=layers)
