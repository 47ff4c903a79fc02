"""A collective's buffers, its call through torch.distributed, and its exact-value check.

Inputs are small whole numbers chosen so that every float result is exact whatever order a library adds
in: a reduction's inputs are 1 or 2 (a sum over p ranks is at most 2p, exact in bf16 up to 128 ranks, in
fp16 up to 1024, fp32 far beyond); moved data are whole numbers below 64. The check counts the elements
that differ from the expected value on this rank (nccl-tests' #wrong); `gpubench comm` sums it over ranks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist

from gpubench import dtypes
from gpubench.bench.comm.plan import CommItem

MAX_EXACT_RANKS = {"bf16": 128, "fp16": 1024, "fp32": 1 << 22, "fp64": 1 << 51}


def _reduced(rank: int, index: torch.Tensor) -> torch.Tensor:
    """What rank `rank` contributes to a reduction at global element `index`: 1 or 2."""
    return 1 + (index + rank) % 2


def _moved(rank: int, index: torch.Tensor) -> torch.Tensor:
    """What rank `rank` holds at global element `index` of data that is only moved: 0..63."""
    return (index * 3 + rank * 5) % 64


def _summed(ranks: int, index: torch.Tensor) -> torch.Tensor:
    return sum(_reduced(r, index) for r in range(ranks))


@dataclass
class Prepared:
    """The buffers of one item on one rank, the call that runs the collective on them, and the check."""

    call: Callable[[], object]
    check: Callable[[], int]  # elements wrong on this rank (run `call` once first)
    reset: Callable[[], None]  # restore the inputs (in-place collectives overwrite them)
    elements: int  # elements checked on this rank


def _arange(n: int, start: int, device) -> torch.Tensor:
    return torch.arange(start, start + n, device=device, dtype=torch.int64)


def _wrong(got: torch.Tensor, want: torch.Tensor) -> int:
    return int((got.to(torch.float64) != want.to(torch.float64)).sum().item())


def prepare(item: CommItem, rank: int, ranks: int, device) -> Prepared:
    """The buffers and call of `item` on this rank (collective roots are rank 0; send/recv goes r -> r+1)."""
    if ranks > MAX_EXACT_RANKS[item.dtype]:
        raise ValueError(f"{ranks} ranks: a {item.dtype} sum of the check's inputs is no longer exact")
    builder = _BUILDERS[item.collective]
    return builder(item, rank, ranks, device, getattr(torch, dtypes.torch_name(item.dtype)))


def _all_reduce(item, rank, ranks, device, dtype) -> Prepared:
    idx = _arange(item.count(), 0, device)
    buf = torch.empty(item.count(), dtype=dtype, device=device)
    reset = lambda: buf.copy_(_reduced(rank, idx))  # noqa: E731
    reset()
    return Prepared(
        lambda: dist.all_reduce(buf), lambda: _wrong(buf, _summed(ranks, idx)), reset, buf.numel()
    )


def _reduce(item, rank, ranks, device, dtype) -> Prepared:
    idx = _arange(item.count(), 0, device)
    buf = torch.empty(item.count(), dtype=dtype, device=device)
    reset = lambda: buf.copy_(_reduced(rank, idx))  # noqa: E731
    reset()
    check = (lambda: _wrong(buf, _summed(ranks, idx))) if rank == 0 else (lambda: 0)  # the root's result
    return Prepared(lambda: dist.reduce(buf, 0), check, reset, buf.numel() if rank == 0 else 0)


def _broadcast(item, rank, ranks, device, dtype) -> Prepared:
    idx = _arange(item.count(), 0, device)
    buf = torch.empty(item.count(), dtype=dtype, device=device)
    reset = lambda: buf.copy_(_moved(rank, idx))  # noqa: E731
    reset()
    return Prepared(lambda: dist.broadcast(buf, 0), lambda: _wrong(buf, _moved(0, idx)), reset, buf.numel())


def _whole_and_part(item, rank, ranks, device, dtype):
    """The whole array, this rank's chunk of it (a view of it in place, its own buffer out of place), the
    chunk's length and the global indices: the two buffers of all_gather and reduce_scatter."""
    chunk = item.count() // ranks
    whole = torch.empty(item.count(), dtype=dtype, device=device)
    in_place = item.mode == "in_place"
    part = (
        whole.narrow(0, rank * chunk, chunk) if in_place else torch.empty(chunk, dtype=dtype, device=device)
    )
    return whole, part, chunk, _arange(item.count(), 0, device)


def _all_gather(item, rank, ranks, device, dtype) -> Prepared:
    out, inp, chunk, idx = _whole_and_part(item, rank, ranks, device, dtype)
    mine = _moved(rank, idx.narrow(0, rank * chunk, chunk))
    reset = lambda: inp.copy_(mine)  # noqa: E731
    reset()
    want = torch.cat([_moved(r, idx.narrow(0, r * chunk, chunk)) for r in range(ranks)])
    call = lambda: dist.all_gather_into_tensor(out, inp)  # noqa: E731
    return Prepared(call, lambda: _wrong(out, want), reset, out.numel())


_scatter = getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor  # renamed in torch 2.13


def _reduce_scatter(item, rank, ranks, device, dtype) -> Prepared:
    inp, out, chunk, idx = _whole_and_part(item, rank, ranks, device, dtype)
    reset = lambda: inp.copy_(_reduced(rank, idx))  # noqa: E731
    reset()
    want = _summed(ranks, idx.narrow(0, rank * chunk, chunk))
    return Prepared(lambda: _scatter(out, inp), lambda: _wrong(out, want), reset, out.numel())


def _all_to_all(item, rank, ranks, device, dtype) -> Prepared:
    chunk = item.count() // ranks
    idx = _arange(item.count(), 0, device)
    inp = _moved(rank, idx).to(dtype)
    out = torch.empty_like(inp)
    # Chunk j of rank r's output is chunk r of rank j's input.
    want = torch.cat([_moved(j, idx.narrow(0, rank * chunk, chunk)) for j in range(ranks)])
    return Prepared(
        lambda: dist.all_to_all_single(out, inp), lambda: _wrong(out, want), lambda: None, out.numel()
    )


def _send_recv(item, rank, ranks, device, dtype) -> Prepared:
    idx = _arange(item.count(), 0, device)
    send = _moved(rank, idx).to(dtype)
    recv = torch.empty_like(send)

    def call():
        ops = [
            dist.P2POp(dist.isend, send, (rank + 1) % ranks),
            dist.P2POp(dist.irecv, recv, (rank - 1) % ranks),
        ]
        for work in dist.batch_isend_irecv(ops):
            work.wait()

    return Prepared(call, lambda: _wrong(recv, _moved((rank - 1) % ranks, idx)), lambda: None, recv.numel())


_BUILDERS = {
    "all_reduce": _all_reduce,
    "reduce": _reduce,
    "broadcast": _broadcast,
    "all_gather": _all_gather,
    "reduce_scatter": _reduce_scatter,
    "all_to_all": _all_to_all,
    "send_recv": _send_recv,
}
