"""A one-layer LLaMA-style config small enough to trace, run and count on the CPU in milliseconds,
shared by the module-profiling tests."""

from gpubench.transformer.configs import ModelConfig

TINY = ModelConfig(
    "tiny",
    "tiny",
    layers=1,
    hidden=64,
    heads=4,
    kv_heads=2,  # grouped-query: two query heads per kv head
    head_dim=16,
    ffn=96,
    activation="swiglu",
    vocab=100,
    norm="rmsnorm",
    max_context=256,
)
