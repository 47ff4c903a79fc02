"""Training at scale: a planner for TP, SP, CP, PP and DP/ZeRO layouts (pure Python: no torch, no GPU).

layout      what is trained (Job) and how it is laid out (Layout), every constraint checked
shard       one GPU's operators for a micro-batch: gpubench model's operators and their backward, cut
efficiency  the roofs a step is timed against: measured (sustained), carried from the reference GPU, or
            the datasheet, and where each figure came from
memory      weights, gradients, optimizer states (ZeRO), activations (Korthikanti's terms) and buffers
comm        TP/SP, CP, PP and DP collectives from gpubench.roofline.comm, exposed or overlapped and why
step        the step by term, tokens/s, TFLOP/s per GPU, MFU and HFU
search      every layout that fits, ranked; the largest model of a family that trains
formulas    the published closed forms the plan is checked against
validation  the published steps (Korthikanti et al. 2022; Llama 3) and the predictions for them
render, cli `gpubench train` (docs/training.md)
"""
