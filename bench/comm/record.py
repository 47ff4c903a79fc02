"""A collective's measurement as a results record (gpubench.results: Record with its Collective section)."""

from __future__ import annotations

from gpubench.bench.comm.plan import CommItem
from gpubench.bench.measure.sampling import Measurement
from gpubench.results import Collective, Correctness, Record, Telemetry, Timing


def variant(backend: str, algorithm: str | None = None, protocol: str | None = None) -> str:
    """The record's variant: the backend, and what was forced ('nccl', 'nccl-ring', 'nccl-ring-LL128')."""
    return "-".join(x for x in (backend, algorithm, protocol) if x)


def timing(m: Measurement | None) -> Timing | None:
    """The record's samples and how they were taken (None: not timed)."""
    if m is None:
        return None
    return Timing(samples=m.samples, method=m.method, stop_reason=m.stop_reason, wall_s=m.wall_s,
                  warmup_calls=m.warmup_calls, notes=list(m.notes))  # fmt: skip


def build(
    item: CommItem,
    config: dict,
    world: int,
    nodes: int,
    wrong: int,
    elements: int,
    m: Measurement | None,
    ranks_info: list[dict],
    telemetry: Telemetry | None,
) -> Record:
    """The record of `item`: failed (with its #wrong) when the check found a wrong element, else timed."""
    backend, algo, proto = config["backend"], config.get("algorithm"), config.get("protocol")
    clock = "host" if backend != "nccl" or config.get("host_overhead") else "device"
    section = Collective(
        name=item.collective,
        nbytes=item.nbytes,
        ranks=world,
        nodes=nodes,
        backend=backend,
        clock=clock,
        wrong=wrong,
        checked_elements=elements,
        algorithm=algo,
        protocol=proto,
        transport=config.get("transport", ""),
        topology=config.get("topology") or {},
        ranks_info=ranks_info,
    )
    status, reason = "ok", None
    if wrong:
        status, reason = "failed", f"#wrong = {wrong} of {elements} elements checked over {world} ranks"
    where = f"{nodes} node{'s' if nodes > 1 else ''}"
    return Record(
        workload=item.collective,
        variant=variant(backend, algo, proto),
        backend=backend,
        shape={"bytes": item.nbytes, "ranks": world, "nodes": nodes},
        dtype=item.dtype,
        mode=item.mode,
        status=status,
        reason=reason,
        flops=None,
        bytes=item.nbytes,
        description=f"{item.collective} of {item.nbytes} B over {world} ranks on {where} ({backend}, "
        f"{config.get('transport') or 'transport not recorded'}; {clock} clock)",
        correctness=Correctness(checked=True, passed=not wrong, extra={"wrong": wrong, "elements": elements}),
        timing=timing(m),
        telemetry=telemetry,
        flags=list(m.flags) if m else [],
        collective=section,
    )
