"""What one fx node computes and moves: FLOPs (FlopCounterMode where it counts; gpubench.opcount for
attention; else an estimate per element, labelled as such) and bytes from the tensors' metadata (each
input read once, each output written once; a view moves nothing)."""

from __future__ import annotations

import torch
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

from gpubench.opcount import attention_flops

__all__ = ["NodeCounts", "count_node", "op_name", "tensors_of"]

# Operators that move data and compute nothing (their bytes still count).
DATA_MOVEMENT = frozenset(
    {
        "cat",
        "stack",
        "contiguous",
        "clone",
        "copy",
        "copy_",
        "to",
        "type",
        "float",
        "half",
        "bfloat16",
        "setitem",
        "__setitem__",
        "embedding",
        "index",
        "index_select",
        "gather",
        "repeat",
        "repeat_interleave",
        "pad",
        "arange",
        "ones",
        "zeros",
        "full",
        "empty",
        "new_ones",
        "new_zeros",
        "ones_like",
        "zeros_like",
        "tril",
        "triu",
        "alias",
        "lift_fresh_copy",
        "_to_copy",
        "slice_scatter",
        "index_put",
        "index_put_",
        "reshape",
        "flatten",
        "view",
        "permute",
        "transpose",
        "expand",
        "unsqueeze",
        "squeeze",
        "split",
        "chunk",
    }
)  # the shape operators copy when a view cannot be made
# FLOPs an element of the largest operand, where FlopCounterMode counts none (it counts matmul-like ops
# only): the norms and softmax as transformer.counts counts them, silu and gelu likewise; any
# other arithmetic is one an element.
PER_ELEMENT = {
    "rmsnorm": 4,
    "rms_norm": 4,
    "layernorm": 7,
    "layer_norm": 7,
    "native_layer_norm": 7,
    "softmax": 5,
    "_softmax": 5,
    "log_softmax": 5,
    "silu": 4,
    "gelu": 9,
    "sigmoid": 3,
    "tanh": 1,
}
SDPA = (
    "scaled_dot_product_attention",
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
)


def tensors_of(value) -> list[torch.Tensor]:
    return [t for t in tree_leaves(value) if isinstance(t, torch.Tensor)]


def op_name(node, gm) -> str:
    """A node's operator in plain words: the module's class, the method, or the function (ATen op name)."""
    if node.op == "call_module":
        return type(gm.get_submodule(node.target)).__name__.lower()
    if node.op == "call_method":
        return str(node.target)
    t = node.target
    name = getattr(t, "_opname", None) or getattr(t, "__name__", None) or str(t)
    return str(name).split(".")[0].lower()


class NodeCounts(tuple):
    """(flops, flops_source, counter_flops, bytes, kind); kind "compute", "data movement" or "view"."""

    def __new__(cls, flops, source, counter, nbytes, kind):
        return super().__new__(cls, (flops, source, counter, nbytes, kind))

    flops, source, counter, bytes, kind = (property(lambda self, i=i: self[i]) for i in range(5))


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def _is_view(out: torch.Tensor, sources: list[torch.Tensor]) -> bool:
    if any(out is s for s in sources):
        return True
    if out._base is None:
        return False
    ptr = out.untyped_storage().data_ptr()
    return any(s.untyped_storage().data_ptr() == ptr for s in sources)


def _sdpa_flops(args, kwargs) -> int:
    q, k = args[0], args[1]
    b, h, sq, d = q.shape[0], q.shape[-3], q.shape[-2], q.shape[-1]
    sk = k.shape[-2]
    causal = bool(kwargs.get("is_causal", args[5] if len(args) > 5 else False))
    if kwargs.get("attn_mask", args[3] if len(args) > 3 else None) is not None or not causal:
        return attention_flops(b, h, d, sq, sk, False)  # a mask given as a tensor: every pair computed
    if sq <= sk:  # torch's is_causal is top-left aligned: query i sees keys j <= i
        return attention_flops(b, h, d, sq, sq, True)
    return attention_flops(b, h, d, sk, sk, True) + attention_flops(b, h, d, sq - sk, sk, False)


def count_node(name: str, run, args, kwargs, out, params: list[torch.Tensor]) -> NodeCounts:
    """The counts of one node whose call is `run()` (it returned `out`); `params` are a call_module
    node's parameters and buffers."""
    ins = tensors_of((args, kwargs)) + list(params)
    outs = tensors_of(out)
    if name in ("setitem", "__setitem__"):  # writes the value into a slice: read it, write it
        value = tensors_of(args[-1])
        moved = 2 * sum(_nbytes(t) for t in value)
        return NodeCounts(0, "none: data movement", None, moved, "data movement")
    if outs and all(_is_view(o, ins) for o in outs):
        return NodeCounts(0, "none: a view", None, 0, "view")
    seen, read = set(), 0
    for t in ins:
        key = (t.data_ptr(), tuple(t.shape), tuple(t.stride()), t.dtype)
        if key not in seen:
            seen.add(key)
            read += _nbytes(t)
    nbytes = read + sum(_nbytes(o) for o in outs)
    counter = FlopCounterMode(display=False)
    with counter:
        run()
    counted = int(counter.get_total_flops()) or None
    if name in SDPA:
        src = "gpubench.opcount (attention pairs computed)"
        return NodeCounts(_sdpa_flops(args, kwargs), src, counted, nbytes, "compute")
    if counted:
        return NodeCounts(counted, "FlopCounterMode", counted, nbytes, "compute")
    if name in DATA_MOVEMENT:
        return NodeCounts(0, "none: data movement", None, nbytes, "data movement")
    k = PER_ELEMENT.get(name, 1)
    elements = max((t.numel() for t in ins + outs), default=0)
    return NodeCounts(k * elements, f"estimate: {k} an element", None, nbytes, "compute")
