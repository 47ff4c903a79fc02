"""Transformer models on the roofline (pure Python: no torch, no GPU).

configs     model configurations as data, each figure with its source (LLaMA, Llama 3, GPT-3)
counts      FLOPs and bytes of the row-wise and elementwise operators (norms, softmax, rotary, activations)
operators   the operators of a layer and of the model for a scenario (phase, batch, sequence, context,
            dtype, and the what-ifs: weight format, fusion, tiled GEMM traffic)
backward    training's phases beside the forward: each operator's backward, the loss, the optimizer step
predict     each operator on a GPU's datasheet and measured ceilings: the bound, the predicted time;
            totals, tokens per second, memory footprint
whatif      a what-if set against its baseline, operator by operator
render      the table, the JSON document and the plot of `gpubench model` (model_cli)

Measuring the same operators on a GPU, and profiling torch modules node by node, is
gpubench.transformer.measured's (docs/transformer.md); training at scale (layouts of many GPUs, memory,
step time, MFU) is gpubench.transformer.training's (docs/training.md).
"""
