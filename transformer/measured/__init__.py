"""Transformer layers and torch modules measured: node-by-node profiles of a torch module (torch.fx), a
built-in LLaMA-style block, one layer's operators run with the suite's workloads next to the roofline's
prediction, and a training step of the block stacked (train_step) next to the training planner's.

    from gpubench.transformer.measured import profile_module
    prof = profile_module(module, x, gpu="h100_sxm5")     # every node timed, counted, placed
    print(prof.table()); prof.to_csv("nodes.csv"); prof.plot("graph.png")

Importing this package is cheap; torch loads with the names that need it.
"""

from __future__ import annotations

__all__ = ["LlamaBlock", "ModuleProfile", "UntraceableModule", "block_from_config", "profile_module", "trace"]

_WHERE = {
    "profile_module": "profile",
    "ModuleProfile": "profile",
    "NodeProfile": "profile",
    "trace": "tracing",
    "UntraceableModule": "tracing",
    "LlamaBlock": "blocks",
    "block_from_config": "blocks",
    "block_inputs": "blocks",
}


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"gpubench.transformer.measured.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'gpubench.transformer.measured' has no attribute {name!r}")
