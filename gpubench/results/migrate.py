"""Older results files, brought to the current layout on reading (nothing measured is changed).

Version 1 -> 2:
- each record names its GPU (`gpu_uuid`, from the file's device section);
- the embedded measured ceilings, a bare mapping in version 1, are wrapped with their provenance, which
  version 1 did not record (unknown, unless the ceilings stored were a whole ceilings file);
- an ok record's correctness check says it passed (version 1 left that implicit);
- the flag "above_ceiling" is no longer stored: it follows from the roofline placement, which every
  tool computes on reading.
Timings, samples, telemetry, correctness and counts are carried over as they are.

Records written before they carried a role (gpubench.roles; any version): the role their variant had by
the rule the reports followed then, by name (`legacy_role`). That rule is kept here, for those files only.
"""

from __future__ import annotations

import copy
from typing import Any

from gpubench.roles import BASELINE, KERNEL, UNFUSED

__all__ = ["READABLE_VERSIONS", "legacy_role", "upgrade", "with_role"]

READABLE_VERSIONS = (1, 2)
DERIVED_FLAGS = ("above_ceiling",)
# The baselines of each workload by variant name, and the defaults, as the reports chose them before
# records carried their role.
_BASELINES_BY_NAME = {
    "attention": ("sdpa_flash", "sdpa_cudnn"),
    "attention_bwd": ("sdpa_flash", "sdpa_cudnn"),
    "layernorm_bwd": ("torch_bwd",),
    "qmatmul_fp8": ("torch_dense", "torch_scaled_mm"),
    "qmatmul_fp8_rowwise": ("torch_dense", "torch_scaled_mm"),
    "qmatmul_int8": ("torch_dense", "torch_int_mm"),
    "qmatmul_int4": ("torch_dense", "torch_int4pack"),
}
_DEFAULT_BASELINES = ("torch",)


def legacy_role(workload: Any, variant: Any) -> str:
    """The role of a record written before records carried one, from its workload's and variant's names."""
    if variant in _BASELINES_BY_NAME.get(workload, _DEFAULT_BASELINES):
        return BASELINE
    return UNFUSED if variant == UNFUSED else KERNEL


def with_role(raw: Any) -> Any:
    """A stored record with its role: as written, else `legacy_role` (a new object; others as they are)."""
    if not isinstance(raw, dict) or "role" in raw:
        return raw
    return {**raw, "role": legacy_role(raw.get("workload"), raw.get("variant"))}


def _embedded_ceilings_v1(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict) or not raw:
        return None
    if isinstance(raw.get("ceilings"), dict):  # a whole ceilings file was stored
        device = raw.get("device") if isinstance(raw.get("device"), dict) else {}
        return {
            "ceilings": raw["ceilings"],
            "device_name": device.get("name"),
            "device_uuid": device.get("uuid"),
            "created": raw.get("created"),
            "source": None,
        }
    return {"ceilings": raw}


def _upgrade_v1(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    uuid = (out.get("device") or {}).get("uuid") if isinstance(out.get("device"), dict) else None
    for rec in out.get("records") or []:
        if not isinstance(rec, dict):
            continue  # the reader names it
        rec.setdefault("gpu_uuid", uuid)
        check = rec.get("correctness")
        if rec.get("status") == "ok" and isinstance(check, dict) and check.get("checked"):
            check.setdefault("passed", True)  # an ok record passed its check: version 1 left that implicit
        if isinstance(rec.get("flags"), list):
            rec["flags"] = [f for f in rec["flags"] if f not in DERIVED_FLAGS]
    if "ceilings" in out:
        out["ceilings"] = _embedded_ceilings_v1(out["ceilings"])
    out["schema_version"] = 2
    return out


_STEPS = {1: _upgrade_v1}


def upgrade(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` (a results document of a readable version) in the current layout; a new object."""
    version = doc.get("schema_version")
    while version in _STEPS:
        doc = _STEPS[version](doc)
        version = doc["schema_version"]
    return doc
