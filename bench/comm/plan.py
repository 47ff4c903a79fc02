"""What a collective sweep measures: collectives x sizes (nccl-tests' -b/-e/-f) x dtypes x modes, checked
before anything starts. Pure Python (no torch), so `gpubench comm` refuses bad input at once.

Sizes follow nccl-tests: one rank's buffer for all_reduce, broadcast, reduce and send/recv; the whole
array for all_gather (its output), reduce_scatter (its input) and all_to_all (each rank's buffer, split
into one chunk per peer). Modes: "in_place" (the output buffer is the input, or holds it) and
"out_of_place", as torch.distributed offers each collective.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from gpubench.cliargs import MAX_COUNT
from gpubench.dtypes import itemsize
from gpubench.results import COLLECTIVE_MODES
from gpubench.roofline.comm import COLLECTIVES

# The dtypes a collective sweep takes (their sizes: gpubench.dtypes).
DTYPES = ("fp32", "fp16", "bf16", "fp64")
# The modes torch.distributed offers each collective: all_reduce, broadcast and reduce work in place on
# one tensor; all_to_all_single and send/recv need two buffers.
MODES_OF = {
    "all_reduce": ("in_place",),
    "broadcast": ("in_place",),
    "reduce": ("in_place",),
    "all_gather": ("out_of_place", "in_place"),
    "reduce_scatter": ("out_of_place", "in_place"),
    "all_to_all": ("out_of_place",),
    "send_recv": ("out_of_place",),
}
# Collectives whose size is split into one chunk per rank.
CHUNKED = ("all_gather", "reduce_scatter", "all_to_all")
BACKENDS = ("nccl", "gloo")
MAX_BYTES = MAX_COUNT  # a size is a count the results file holds


class CommPlanError(ValueError):
    """A sweep that cannot run as asked; the message names the argument."""


@dataclass(frozen=True)
class CommItem:
    collective: str
    nbytes: int
    dtype: str
    mode: str

    @property
    def id(self) -> str:
        return f"{self.collective}[{self.nbytes}B|{self.dtype}|{self.mode}]"

    def count(self) -> int:
        """Elements of the buffer nccl-tests' size names (the whole array for the chunked collectives)."""
        return self.nbytes // self.itemsize

    @property
    def itemsize(self) -> int:
        return int(itemsize(self.dtype))

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> CommItem:
        return cls(**data)


def sizes(begin: int, end: int, factor: float = 2.0) -> list[int]:
    """nccl-tests' sweep: begin, begin x factor, ... up to end (bytes)."""
    if begin < 1 or end < begin:
        raise CommPlanError(f"-b/-e: need 1 <= begin <= end, got {begin} and {end}")
    if factor <= 1 and begin != end:
        raise CommPlanError(f"-f: the factor must be > 1, got {factor}")
    out, size = [], begin
    while size <= end:
        out.append(int(size))
        if begin == end or size * factor >= end + 1:  # past end: stop before int() meets an infinite product
            break
        size = max(size + 1, int(size * factor))
    return out


def parse_size(text: str) -> int:
    """'8', '64K', '1M', '2G' (powers of 1024, as nccl-tests reads them) -> bytes."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    t = text.strip().upper().removesuffix("B")
    num, unit = (t[:-1], t[-1]) if t and t[-1] in "KMG" else (t, "")
    try:
        value = float(num) * units[unit]
    except ValueError:
        raise CommPlanError(f"{text!r} is not a size (bytes, or with K, M or G)") from None
    if not math.isfinite(value):
        raise CommPlanError(f"{text!r} is not a finite size (bytes, or with K, M or G)")
    if value > MAX_BYTES:
        raise CommPlanError(f"{text!r} is more than 2^63 - 1 bytes, the largest size a results file holds")
    if value != int(value) or value < 1:
        raise CommPlanError(f"{text!r} is not a whole number of bytes >= 1")
    return int(value)


def _check_item(item: CommItem, ranks: int) -> None:
    size = item.itemsize
    parts = ranks if item.collective in CHUNKED else 1
    if item.nbytes % (size * parts):
        what = f"{ranks} ranks' {item.dtype} chunks" if parts > 1 else f"{item.dtype} elements"
        raise CommPlanError(
            f"{item.collective} of {item.nbytes} B: not a whole number of {what} (sizes must be multiples "
            f"of {size * parts} B; pick -b and -f so every size is)"
        )


def build(collectives, begin: int, end: int, factor: float, dtypes, modes, ranks: int) -> list[CommItem]:
    """Every item of the sweep, or CommPlanError naming what cannot run."""
    for c in collectives:
        if c not in COLLECTIVES:
            raise CommPlanError(f"unknown collective {c!r}; known: {', '.join(COLLECTIVES)}")
    for d in dtypes:
        if d not in DTYPES:
            raise CommPlanError(f"unknown dtype {d!r}; known: {', '.join(DTYPES)}")
    for m in modes or ():
        if m not in COLLECTIVE_MODES:
            raise CommPlanError(f"unknown mode {m!r}; known: {', '.join(COLLECTIVE_MODES)}")
        offered = [c for c in collectives if m not in MODES_OF[c]]
        if offered:
            raise CommPlanError(
                f"--mode {m}: torch.distributed offers {', '.join(offered)} only "
                f"{'/'.join(MODES_OF[offered[0]])}"
            )
    if ranks < 2 and "send_recv" in collectives:
        raise CommPlanError("send_recv needs at least 2 ranks")
    items = [
        CommItem(c, s, d, m)
        for c in collectives
        for d in dtypes
        for m in (modes or MODES_OF[c])
        for s in sizes(begin, end, factor)
    ]
    for item in items:
        _check_item(item, ranks)
    return items
