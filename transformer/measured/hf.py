"""A `transformers` causal language model from a config, with random weights (nothing is downloaded):
from a local config.json, or from a model type ("llama", "gpt2", "mistral", ...) sized by the options.
Needs the `transformers` package; without it, `HFUnavailable` says so."""

from __future__ import annotations

from pathlib import Path

__all__ = ["HFUnavailable", "hf_model", "hf_available"]


class HFUnavailable(RuntimeError):
    """The transformers package is not installed (pip install transformers)."""


def hf_available() -> str | None:
    """None where transformers imports, else why not."""
    try:
        import transformers  # noqa: F401
    except ImportError as exc:
        return f"the transformers package is not installed ({exc}); pip install transformers"
    return None


# Size options by the names most configs use (a config that names them otherwise keeps its own).
_SIZES = {
    "hidden": "hidden_size",
    "ffn": "intermediate_size",
    "heads": "num_attention_heads",
    "kv_heads": "num_key_value_heads",
    "layers": "num_hidden_layers",
    "vocab": "vocab_size",
}


def hf_model(
    config: str,
    *,
    sizes: dict | None = None,
    device="cpu",
    dtype=None,
    batch: int = 1,
    seq: int = 16,
    seed: int = 0,
):
    """(model, (input_ids,)): `config` a config.json path or a model type; `sizes` override the config's
    (keys hidden, ffn, heads, kv_heads, layers, vocab); the KV cache off (the forward is one prefill)."""
    why = hf_available()
    if why:
        raise HFUnavailable(why)
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    overrides = {_SIZES[k]: v for k, v in (sizes or {}).items() if v is not None}
    if Path(config).suffix == ".json":
        if not Path(config).is_file():
            raise FileNotFoundError(f"no config file {config!r}")
        cfg = AutoConfig.from_pretrained(config)
        for key, value in overrides.items():
            setattr(cfg, key, value)
    else:  # a model type; an unknown one is transformers' ValueError, naming the known types
        cfg = AutoConfig.for_model(config, **overrides)
    cfg.use_cache = False
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg)
    model = model.to(dtype) if dtype is not None else model
    g = torch.Generator(device=device).manual_seed(seed)
    ids = torch.randint(0, cfg.vocab_size, (batch, seq), generator=g, device=device)
    return model.eval(), (ids,)
