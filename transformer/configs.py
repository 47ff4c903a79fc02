"""Transformer model configurations as data, each figure with the document it comes from.

A config holds what the operator list of a layer needs: layers, hidden size, attention heads and key/value
heads (grouped-query attention when fewer), head dimension, FFN size and activation, vocabulary, norm,
position encoding, biases, tied embeddings and the longest context the model was trained for.
Standard library only. A config of one's own is a JSON object with the same fields (`from_json`).
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

__all__ = [
    "ACTIVATIONS",
    "MODELS",
    "NORMS",
    "POSITIONS",
    "ConfigError",
    "ModelConfig",
    "from_json",
    "get_model",
]

ACTIVATIONS = ("swiglu", "gelu")  # swiglu: silu(x W_gate) * (x W_up); gelu: gelu(x W_1 + b_1)
NORMS = ("rmsnorm", "layernorm")
POSITIONS = ("rope", "learned")


class ConfigError(ValueError):
    """A model config that is unknown or not well formed; the message names the field or the known ones."""


@dataclass(frozen=True)
class ModelConfig:
    key: str
    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int  # the FFN's inner size (per branch for SwiGLU: gate and up are each hidden x ffn)
    activation: str
    vocab: int
    norm: str
    max_context: int
    position: str = "rope"
    bias: bool = False  # biases on every linear layer (GPT-2/3); LLaMA has none
    tied_embeddings: bool = False  # the LM head reuses the token embedding matrix
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self):
        for name in ("layers", "hidden", "heads", "kv_heads", "head_dim", "ffn", "vocab", "max_context"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"model {self.key!r}: {name} must be a positive integer, got {value!r}")
        if self.heads % self.kv_heads:
            raise ConfigError(
                f"model {self.key!r}: heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads})"
            )
        for name, allowed in (("activation", ACTIVATIONS), ("norm", NORMS), ("position", POSITIONS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"model {self.key!r}: {name} must be one of {', '.join(allowed)}")

    @property
    def q_dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def layer_matmul_params(self) -> int:
        """Weights of one layer's linear projections (QKV, O, the MLP), biases excluded."""
        attn = self.hidden * (self.q_dim + 2 * self.kv_dim) + self.q_dim * self.hidden
        branches = 3 if self.activation == "swiglu" else 2  # gate, up, down / fc1, fc2
        return attn + branches * self.hidden * self.ffn

    def params(self) -> int:
        """Every parameter: layers (projections, biases, norms), embeddings, final norm, LM head."""
        norm_params = self.hidden * (2 if self.norm == "layernorm" else 1)
        per_layer = self.layer_matmul_params() + 2 * norm_params
        if self.bias:
            mlp_bias = (2 * self.ffn if self.activation == "swiglu" else self.ffn) + self.hidden
            per_layer += self.q_dim + 2 * self.kv_dim + self.hidden + mlp_bias
        embed = self.vocab * self.hidden + (
            self.max_context * self.hidden if self.position == "learned" else 0
        )
        head = 0 if self.tied_embeddings else self.vocab * self.hidden
        return self.layers * per_layer + embed + norm_params + head

    def to_json(self) -> dict:
        out = asdict(self)
        out["sources"], out["notes"] = list(self.sources), list(self.notes)
        out["params"] = self.params()
        return out


_LLAMA1 = "Touvron et al., LLaMA: Open and Efficient Foundation Language Models, arXiv:2302.13971 (2023)"
_LLAMA1_CODE = (
    "facebookresearch/llama (v1) model.py: FFN size 2/3 x 4 x hidden rounded up to a multiple of 256"
)
_LLAMA3 = (
    "Llama Team, The Llama 3 Herd of Models, arXiv:2407.21783 (2024), Table 3: layers, model dimension, "
    "attention and key/value heads"
)
_LLAMA3_CARD = (
    "Meta Llama 3 model card and released config.json: intermediate_size (FFN) 14336 (8B) and 28672 (70B), "
    "vocab_size 128256, 8192-token context"
)
_LLAMA31_CARD = (
    "Meta Llama 3.1 model card and released config.json: intermediate_size 53248 (405B), vocab_size 128256, "
    "131072-token context"
)
# The FFN sizes and vocabulary disagree between sources: say which are used and why.
_LLAMA3_CONFLICT = (
    "FFN size and vocabulary are the released config.json's (14,336 / 28,672 / 53,248; 128,256), which give "
    "the stated sizes (8.03 / 70.6 / 405.9 B parameters). Table 3 as some copies of the paper print it says "
    "FFN 6,144 / 12,288 / 20,480 and a 128,000-token vocabulary, which give 4.8 / 38.3 / 202.9 B: not used"
)
_GPT3 = (
    "Brown et al., Language Models are Few-Shot Learners, arXiv:2005.14165 (2020), Table 2.1 and section 2.1"
)
_GPT2 = (
    "Radford et al., Language Models are Unsupervised Multitask Learners (2019), section 2.3: 50,257 tokens"
)

_LLAMA = dict(activation="swiglu", norm="rmsnorm", position="rope", bias=False, tied_embeddings=False)
MODELS: dict[str, ModelConfig] = {
    c.key: c
    for c in (
        ModelConfig(
            "llama-7b",
            "LLaMA-7B",
            layers=32,
            hidden=4096,
            heads=32,
            kv_heads=32,
            head_dim=128,
            ffn=11008,
            vocab=32000,
            max_context=2048,
            **_LLAMA,
            sources=(_LLAMA1 + ", Table 2 and section 2", _LLAMA1_CODE),
        ),
        ModelConfig(
            "llama-3-8b",
            "Llama-3-8B",
            layers=32,
            hidden=4096,
            heads=32,
            kv_heads=8,
            head_dim=128,
            ffn=14336,
            vocab=128256,
            max_context=8192,
            **_LLAMA,
            sources=(_LLAMA3, _LLAMA3_CARD),
            notes=(_LLAMA3_CONFLICT,),
        ),
        ModelConfig(
            "llama-3-70b",
            "Llama-3-70B",
            layers=80,
            hidden=8192,
            heads=64,
            kv_heads=8,
            head_dim=128,
            ffn=28672,
            vocab=128256,
            max_context=8192,
            **_LLAMA,
            sources=(_LLAMA3, _LLAMA3_CARD),
            notes=(_LLAMA3_CONFLICT,),
        ),
        ModelConfig(
            "llama-3-405b",
            "Llama-3.1-405B",
            layers=126,
            hidden=16384,
            heads=128,
            kv_heads=8,
            head_dim=128,
            ffn=53248,
            vocab=128256,
            max_context=131072,
            **_LLAMA,
            sources=(_LLAMA3, _LLAMA31_CARD),
            notes=("405B was released as Llama 3.1 only, with the 128K context", _LLAMA3_CONFLICT),
        ),
        ModelConfig(
            "gpt-3-175b",
            "GPT-3 175B",
            layers=96,
            hidden=12288,
            heads=96,
            kv_heads=96,
            head_dim=128,
            ffn=4 * 12288,
            activation="gelu",
            vocab=50257,
            norm="layernorm",
            max_context=2048,
            position="learned",
            bias=True,
            tied_embeddings=True,
            sources=(_GPT3, _GPT2),
            notes=(
                "GPT-3 alternates dense and locally banded sparse attention layers; every layer is "
                "counted here as dense attention",
                "pre-norm LayerNorm, GELU, learned positions, biases and tied embeddings as in GPT-2",
            ),
        ),
    )
}
_ALIASES = {"llama-3.1-405b": "llama-3-405b", "gpt-3": "gpt-3-175b", "gpt3-175b": "gpt-3-175b"}


def get_model(name: str) -> ModelConfig:
    """A config by key or name (any case), or from a JSON file's path; ConfigError lists the known ones."""
    text = name.strip().lower()
    key = _ALIASES.get(text, text)
    if key in MODELS:
        return MODELS[key]
    for cfg in MODELS.values():
        if cfg.name.lower() == text:
            return cfg
    if text.endswith(".json"):
        return from_json(name)
    raise ConfigError(f"unknown model {name!r}; known: {', '.join(MODELS)} (or a config's .json file)")


def from_json(path: str | Path) -> ModelConfig:
    """A config of one's own: a JSON object with ModelConfig's fields (key and name default to the file's)."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read model config {str(p)!r}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p}: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: a model config is a JSON object")
    known = {f.name for f in fields(ModelConfig)}
    raw = {k: v for k, v in raw.items() if k != "params"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{p}: unknown fields {unknown}; allowed: {sorted(known)}")
    raw.setdefault("key", p.stem)
    raw.setdefault("name", raw["key"])
    required = [f.name for f in fields(ModelConfig) if f.default is MISSING and f.name not in ("key", "name")]
    if missing := [name for name in required if name not in raw]:
        raise ConfigError(f"{p}: missing fields {', '.join(missing)} (a config needs {', '.join(required)})")
    for name in ("sources", "notes"):
        if not isinstance(raw.get(name, []), list) or not all(isinstance(x, str) for x in raw.get(name, [])):
            raise ConfigError(f"{p}: {name} must be a list of strings")
    raw["sources"] = tuple(raw.get("sources", (str(p),)))
    raw["notes"] = tuple(raw.get("notes", ()))
    return ModelConfig(**raw)
