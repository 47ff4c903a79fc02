"""Alpha-beta forms of the collectives (Thakur, Rabenseifner and Gropp 2005; the double binary tree of
Sanders, Speck and Traff 2009): time = steps x alpha + bytes moved per rank x beta, over one link. They
predict libraries without a published cost model of their own (gloo), and let users compare algorithms.

p ranks, n bytes (nccl-tests' size), alpha the link's latency, beta its seconds per byte:
    all_reduce  ring                2(p-1) a + 2(p-1)/p n b
                recursive_doubling  log2(p) a + log2(p) n b
                rabenseifner        2 log2(p) a + 2(p-1)/p n b   (halving, then doubling)
                double_binary_tree  2 log2(p) a + 2 n b          (pipelined; each tree carries half)
    all_gather, reduce_scatter, all_to_all   ring: (p-1) a + (p-1)/p n b
    broadcast, reduce                        pipelined ring: (p-1) a + n b
    send_recv                                a + n b
"""

from __future__ import annotations

import math

ALGORITHMS = ("ring", "recursive_doubling", "rabenseifner", "double_binary_tree")


def label(collective: str, algorithm: str) -> str:
    """What the forms model for this collective: the algorithm, or the pattern of the others."""
    return {"send_recv": "p2p", "all_to_all": "pairwise"}.get(collective, algorithm)


def _log2(p: int) -> int:
    return math.ceil(math.log2(p)) if p > 1 else 0


def steps_and_bytes(collective: str, algorithm: str, p: int, nbytes: float) -> tuple[float, float]:
    """(latency steps, bytes through one rank's link) for `collective` by `algorithm` over p ranks."""
    if algorithm != "ring" and collective != "all_reduce":
        raise ValueError(f"algorithm {algorithm!r} is modelled for all_reduce only; {collective} uses 'ring'")
    if collective == "all_reduce":
        forms = {
            "ring": (2 * (p - 1), 2 * (p - 1) / p * nbytes),
            "recursive_doubling": (_log2(p), _log2(p) * nbytes),
            "rabenseifner": (2 * _log2(p), 2 * (p - 1) / p * nbytes),
            "double_binary_tree": (2 * _log2(p), 2 * nbytes),
        }
        if algorithm not in forms:
            raise ValueError(f"unknown algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")
        return forms[algorithm]
    if collective in ("all_gather", "reduce_scatter", "all_to_all"):
        return p - 1, (p - 1) / p * nbytes
    if collective in ("broadcast", "reduce"):
        return p - 1, float(nbytes)
    return 1, float(nbytes)  # send_recv
