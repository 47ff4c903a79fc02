"""Where a rank stands: its rank, the world size, its local rank and the rendezvous address, from the
environment torch's launcher (or `gpubench comm`'s) sets, or from Slurm's (srun, submitit). Pure Python."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_PORT_BASE = 29500


class RendezvousError(ValueError):
    """The environment does not say where this rank stands; the message names the variable."""


@dataclass(frozen=True)
class Rendezvous:
    rank: int
    world: int
    local_rank: int
    master_addr: str
    master_port: int
    nodes: int
    source: str  # "env" (torchrun-style variables) or "slurm"


def _int(env: Mapping[str, str], name: str) -> int:
    try:
        return int(env[name])
    except KeyError:
        raise RendezvousError(f"{name} is not set") from None
    except ValueError:
        raise RendezvousError(f"{name}={env[name]!r} is not a whole number") from None


def first_host(nodelist: str) -> str:
    """The first host of a Slurm node list ('gpu[03-05,09],cpu1' -> 'gpu03'), as `scontrol show hostnames`
    would print it (asked when scontrol is there)."""
    try:
        out = subprocess.run(
            ["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, timeout=10
        )
        if out.returncode == 0 and out.stdout.split():
            return out.stdout.split()[0]
    except (OSError, subprocess.TimeoutExpired):
        pass
    m = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?", nodelist)
    if not m:
        raise RendezvousError(f"SLURM_JOB_NODELIST={nodelist!r} is not a node list")
    prefix, ranges = m.group(1), m.group(2)
    return prefix + ranges.split(",")[0].split("-")[0] if ranges else prefix


def rendezvous(env: Mapping[str, str]) -> Rendezvous:
    """RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT when set, else Slurm's SLURM_PROCID, SLURM_NTASKS,
    SLURM_LOCALID and the job's first node (port from the job id)."""
    if "RANK" in env or "WORLD_SIZE" in env:
        rank, world = _int(env, "RANK"), _int(env, "WORLD_SIZE")
        local = int(env.get("LOCAL_RANK", rank))
        addr, port = env.get("MASTER_ADDR", "127.0.0.1"), int(env.get("MASTER_PORT", DEFAULT_PORT_BASE))
        nodes, source = int(env.get("GPUBENCH_COMM_NODES", env.get("SLURM_NNODES", 1))), "env"
    elif "SLURM_PROCID" in env:
        rank, world, local = _int(env, "SLURM_PROCID"), _int(env, "SLURM_NTASKS"), _int(env, "SLURM_LOCALID")
        nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
        if not nodelist and "MASTER_ADDR" not in env:
            raise RendezvousError("SLURM_JOB_NODELIST is not set (and no MASTER_ADDR)")
        addr = env.get("MASTER_ADDR") or first_host(nodelist)
        port = int(env.get("MASTER_PORT", DEFAULT_PORT_BASE + int(env.get("SLURM_JOB_ID", "0")) % 10000))
        nodes, source = _int(env, "SLURM_NNODES") if "SLURM_NNODES" in env else 1, "slurm"
    else:
        raise RendezvousError(
            "neither RANK/WORLD_SIZE (torchrun, gpubench comm) nor SLURM_PROCID (srun) is set"
        )
    if not (0 <= rank < world) or not (0 <= local < world):
        raise RendezvousError(f"rank {rank} / local rank {local} is outside a world of {world}")
    return Rendezvous(rank, world, local, addr, port, nodes, source)


def check_nodes(asked: int | None, granted: int) -> str | None:
    """Why a run of `asked` nodes cannot go on in an allocation of `granted`, or None."""
    if asked is not None and asked != granted:
        return f"asked for {asked} nodes; the allocation has {granted} (SLURM_NNODES)"
    return None
