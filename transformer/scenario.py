"""What runs: the phase, batch, sequence, context and dtype of a forward, and the what-ifs (weight format,
fusion, tiled GEMM traffic), checked against the model.

prefill: `seq` prompt tokens per sequence; decode: `seq` new tokens (usually 1) against a KV cache. The
context is the keys the last new token attends to, its own included (the KV cache after the step).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gpubench import dtypes
from gpubench.opcount import WEIGHT_FORMATS
from gpubench.roofline.tiling import DATAFLOWS
from gpubench.transformer.configs import ModelConfig

__all__ = ["ATTENTION_FORMS", "DTYPES", "PHASES", "Scenario", "ScenarioError", "check"]

PHASES = ("prefill", "decode")
ATTENTION_FORMS = ("flash", "materialised")
DTYPES = ("fp16", "bf16", "fp32")  # activations, KV cache and unquantised weights


class ScenarioError(ValueError):
    """A batch, sequence, context or what-if that the model cannot run; the message names it."""


@dataclass(frozen=True)
class Scenario:
    phase: str
    batch: int
    seq: int  # new tokens per sequence: the prompt (prefill) or the tokens of one step (decode)
    context: int  # keys the last new token attends to, itself included (= the KV cache after the step)
    dtype: str = "bf16"
    weights: str | None = None  # a gpubench.opcount.WEIGHT_FORMATS key; None: the dtype, unquantised
    group: int = 128  # int4 scale group along K
    fusion: bool = True
    tile: tuple[int, int, int] | None = None  # (tm, tn, tk): GEMM bytes from roofline.tiling
    dataflow: str = "output_stationary"
    logits: str = "last"  # prefill: logits of each sequence's last token ("last") or of every token ("all")
    # "flash" or "materialised" (the score matrix written to DRAM, as before flash attention); None
    # follows `fusion`. A materialised attention with fusion on has a fused softmax kernel (Megatron's).
    attention: str | None = None

    @property
    def tokens(self) -> int:
        return self.batch * self.seq

    def to_json(self) -> dict:
        """The scenario as `gpubench model --json` and `gpubench layer` write it."""
        return {
            "phase": self.phase, "batch": self.batch, "seq": self.seq, "context": self.context,
            "dtype": self.dtype, "weights": self.weights or self.dtype, "group": self.group,
            "fusion": self.fusion, "tile": list(self.tile) if self.tile else None,
            "dataflow": self.dataflow if self.tile else None, "logits": self.logits, "tokens": self.tokens,
        }  # fmt: skip

    @property
    def itemsize(self) -> int:
        return int(dtypes.itemsize(self.dtype))

    @property
    def attention_form(self) -> str:
        return self.attention or ("flash" if self.fusion else "materialised")

    @property
    def baseline(self) -> Scenario:
        """The same run without what-ifs: weights in the dtype, fused, compulsory GEMM bytes."""
        return replace(
            self, weights=None, fusion=True, tile=None, dataflow="output_stationary", attention=None
        )

    def whatifs(self) -> list[tuple[str, Scenario]]:
        """(label, scenario) for each what-if this scenario applies, alone on the baseline."""
        base, out = self.baseline, []
        if self.weights is not None:
            group = f" (group {self.group})" if WEIGHT_FORMATS[self.weights].grouped else ""
            out.append((f"weights {self.weights}{group}", replace(base, weights=self.weights)))
        if not self.fusion:
            out.append(("fusion off", replace(base, fusion=False)))
        if self.attention is not None and self.attention != base.attention_form:
            out.append((f"attention {self.attention}", replace(base, attention=self.attention)))
        if self.tile is not None:
            t = "x".join(map(str, self.tile))
            out.append((f"tile {t} {self.dataflow}", replace(base, tile=self.tile, dataflow=self.dataflow)))
        return out

    def describe(self) -> str:
        what = (
            f"{self.seq} new token{'s' if self.seq != 1 else ''}"
            if self.phase == "decode"
            else f"seq {self.seq}"
        )
        return f"{self.phase}, batch {self.batch}, {what}, context {self.context}, {self.dtype}"


def check(cfg: ModelConfig, sc: Scenario) -> None:
    """ScenarioError naming the first argument the model cannot take."""
    if sc.phase not in PHASES:
        raise ScenarioError(f"phase must be one of {', '.join(PHASES)}, got {sc.phase!r}")
    if sc.dtype not in DTYPES:
        raise ScenarioError(f"dtype must be one of {', '.join(DTYPES)}, got {sc.dtype!r}")
    for name in ("batch", "seq", "context"):
        value = getattr(sc, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ScenarioError(f"{name} must be a positive integer, got {value!r}")
    if sc.context < sc.seq:
        raise ScenarioError(f"context ({sc.context}) must be at least the new tokens (seq {sc.seq})")
    if sc.context > cfg.max_context:
        raise ScenarioError(
            f"context {sc.context} is longer than {cfg.name} allows ({cfg.max_context} tokens)"
        )
    if sc.weights is not None and sc.weights not in WEIGHT_FORMATS:
        raise ScenarioError(
            f"unknown weight format {sc.weights!r}; expected one of {', '.join(WEIGHT_FORMATS)}"
        )
    if sc.weights is not None and WEIGHT_FORMATS[sc.weights].grouped:
        if sc.group < 1:
            raise ScenarioError(f"group must be a positive integer, got {sc.group}")
        bad = sorted({k for k in (cfg.hidden, cfg.q_dim, cfg.ffn) if k % sc.group})
        if bad:
            raise ScenarioError(f"{sc.weights} groups of {sc.group} do not divide the GEMMs' K {bad}")
    if sc.attention is not None and sc.attention not in ATTENTION_FORMS:
        raise ScenarioError(f"attention must be one of {', '.join(ATTENTION_FORMS)}, got {sc.attention!r}")
    if sc.logits not in ("last", "all"):
        raise ScenarioError(f"logits must be 'last' or 'all', got {sc.logits!r}")
    if sc.tile is not None:
        if len(sc.tile) != 3 or any(isinstance(t, bool) or not isinstance(t, int) or t < 1 for t in sc.tile):
            raise ScenarioError(f"a tile is three positive integers TMxTNxTK, got {sc.tile!r}")
        if sc.weights is not None and WEIGHT_FORMATS[sc.weights].bits < 8:
            raise ScenarioError(
                f"the tiling model counts whole-byte elements: a tile with {sc.weights} weights is not "
                "modelled"
            )
        if sc.dataflow not in DATAFLOWS:
            raise ScenarioError(f"dataflow must be one of {', '.join(DATAFLOWS)}, got {sc.dataflow!r}")
