"""The interconnect database as `gpubench specs` shows it: a table of each GPU's links, the systems built
from them, and JSON with every source."""

from __future__ import annotations

import dataclasses
from typing import Any

from gpubench.roofline.comm.database import GPULinks, System, load_interconnects


def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _columns(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
            for r in rows]  # fmt: skip


def systems_of(gpu_keys: list[str], name: str | None = None) -> list[System]:
    """Systems built from these GPUs, or whose key or name contains `name`."""
    needle = (name or "").lower()
    return [s for s in load_interconnects().systems.values()
            if s.gpu in gpu_keys or (needle and (needle in s.key or needle in s.name.lower()))]  # fmt: skip


def table(gpu_keys: list[str], names: dict[str, str], systems: list[System]) -> str:
    """GPU links (GB/s per direction) and the systems' NICs, for the GPUs that have links in the database."""
    db = load_interconnects()
    rows = [["GPU", "NVLink", "links", "GB/s/link", "NVLink GB/s", "NCCL GB/s", "NVLS", "PCIe", "PCIe GB/s"]]
    for key in gpu_keys:
        links: GPULinks | None = db.gpus.get(key)
        if links is None:
            continue
        pcie = f"{links.pcie} x{links.pcie_lanes}" if links.pcie else "-"
        rows.append([names.get(key, key), links.nvlink or "-", str(links.nvlink_links or "-"),
                     _fmt(links.nvlink_gbps_per_link), _fmt(links.nvlink_gbps), _fmt(links.nvlink_nccl_gbps),
                     "yes" if links.nvls else "no", pcie, _fmt(links.pcie_gbps)])  # fmt: skip
    lines = ["", "Interconnects (GB/s per direction; NCCL GB/s: what NCCL's model credits the links with)"]
    lines += _columns(rows) if len(rows) > 1 else ["  no GPU here has links in the database"]
    if systems:
        srows = [["system", "GPUs", "GPU", "NVSwitch", "NVLS", "NICs", "Gb/s each", "NIC GB/s per GPU"]]
        yes = {True: "yes", False: "no"}
        srows += [[s.key, str(s.gpus_per_node), s.gpu, yes[s.nvswitch], yes[s.nvls],
                   f"{s.nics} x {s.nic or '-'}", _fmt(s.nic_gbits, 0), _fmt(s.nic_gbps_per_gpu)]
                  for s in systems]  # fmt: skip
        lines += ["", "Systems (gpubench comm --topology NAME)", *_columns(srows)]
    lines.append("Sources of every figure: --json")
    return "\n".join(lines)


def _plain(obj) -> Any:
    out = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name != "sources"}
    out["notes"] = list(obj.notes)
    out["sources"] = {k: [dataclasses.asdict(d) for d in v] for k, v in obj.sources.items()}
    return out


def gpu_json(key: str) -> dict[str, Any] | None:
    """One GPU's links with their sources and derived totals, and the systems built from it; or None."""
    links = load_interconnects().gpus.get(key)
    if links is None:
        return None
    out = _plain(links)
    out["nvlink_gbps"], out["nvlink_nccl_gbps"] = links.nvlink_gbps, links.nvlink_nccl_gbps
    out["units"] = "GB/s per direction"
    out["systems"] = [{**_plain(s), "nic_gbps_per_gpu": s.nic_gbps_per_gpu} for s in systems_of([key])]
    return out
