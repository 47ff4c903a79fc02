"""A results file as typed sections: the device, the software, how the run was made, its records.

The measured ceilings a run is placed under travel with it, together with where they came from (which
physical GPU measured them, when), since a ceilings file may come from another card of the same model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gpubench.results.ceilings import MeasuredCeilings
from gpubench.results.codec import FieldError, Struct
from gpubench.results.machine import Device, Software
from gpubench.results.provenance import Provenance, run_warnings
from gpubench.results.records import Record, RecordKey

__all__ = ["RUN_STATUSES", "SCHEMA", "SCHEMA_VERSION", "EmbeddedCeilings", "Run", "RunInfo", "utc_now"]

SCHEMA = "gpubench.results"
# 2: records name their GPU (gpu_uuid; a run measured on several lists them in `gpus`); embedded
# ceilings carry their provenance; derived figures
# (a timing's statistics, "achieved") are checked against the samples on reading. Version 1 files are
# upgraded on reading (gpubench.results.migrate).
SCHEMA_VERSION = 2
RUN_STATUSES = ("complete", "partial", "interrupted")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class RunInfo(Struct):
    """How the run was made."""

    profile: str | None = None
    modes: list[str] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)
    workloads: list[str] = field(default_factory=list)
    items: int | None = None
    started: str | None = None
    finished: str | None = None
    rule: dict[str, Any] | None = None  # the stopping rule (bench.measure.stopping.StoppingRule's fields)
    notes: list[str] = field(default_factory=list)
    sustained_s: float | None = None  # seconds of load before each record's second, sustained measurement
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EmbeddedCeilings(Struct):
    """Measured ceilings stored in a results file, with their provenance (None where not known)."""

    ceilings: MeasuredCeilings
    device_name: str | None = None
    device_uuid: str | None = None  # the physical GPU that measured them
    created: str | None = None
    source: str | None = None  # the ceilings file they were taken from
    extra: dict[str, Any] = field(default_factory=dict)

    def provenance(self, run_uuid: str | None) -> str:
        """One line: where the ceilings come from, and whether the same physical GPU measured them."""
        bits = [f"measured on {self.device_name or 'an unrecorded GPU'}"]
        if self.created:
            bits.append(self.created)
        if self.source:
            bits.append(f"from {self.source}")
        if self.device_uuid and run_uuid and self.device_uuid != run_uuid:
            bits.append(f"ANOTHER card than the results' (ceilings {self.device_uuid}, results {run_uuid})")
        elif self.device_uuid and run_uuid:
            bits.append("the same card as the results")
        elif not self.device_uuid:
            bits.append("which card measured them is not recorded")
        return "; ".join(bits)


@dataclass
class Run(Struct):
    """A whole results file. `path` and `problems` describe the reading, and are not written."""

    device: Device
    software: Software
    run: RunInfo
    records: list[Record] = field(default_factory=list)
    schema: str = SCHEMA
    schema_version: int = SCHEMA_VERSION
    created: str = field(default_factory=utc_now)
    synthetic: bool = False  # generated samples, not a measurement (test documents)
    status: str = "partial"
    ceilings: EmbeddedCeilings | None = None
    # Every GPU that measured records of this run, when there were several (a multi-GPU or merged run);
    # `device` is then one of them, and each record names its own by `gpu_uuid`.
    gpus: list[Device] = field(default_factory=list)
    # The commit, the tree's state, the environment knobs, spec mismatches (None in older files).
    provenance: Provenance | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    path: str | None = field(default=None, metadata={"transient": True}, compare=False)
    problems: list[str] = field(default_factory=list, metadata={"transient": True}, compare=False)

    def __post_init__(self):
        if self.status not in RUN_STATUSES:
            raise FieldError("status", f"{self.status!r} is not one of {', '.join(RUN_STATUSES)}")

    @property
    def gpu(self) -> str:
        return self.device.model

    @property
    def where(self) -> str:
        return self.path or "results"

    def device_of(self, record: Record) -> Device:
        """The GPU that measured `record` (the run's device when the record does not say)."""
        for d in self.gpus:
            if record.gpu_uuid and d.uuid == record.gpu_uuid:
                return d
        return self.device

    def provenance_warnings(self) -> list[str]:
        """What a reader must be told about where these numbers come from (gpubench.results.provenance)."""
        return run_warnings(self)

    def ok_records(self) -> list[Record]:
        return [r for r in self.records if r.ok]

    def index(self) -> dict[RecordKey, Record]:
        """key -> record; keys are unique (checked on reading and by `add`)."""
        return {r.key: r for r in self.records}

    def add(self, record: Record) -> None:
        """Append a record; a second record of the same key is a bug of the caller."""
        if any(r.key == record.key for r in self.records):
            raise ValueError(f"{self.where}: a record {record.label} is already in this run")
        if record.gpu_uuid is None and self.device.uuid:
            record.gpu_uuid = self.device.uuid
        self.records.append(record)

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        head = ("schema", "schema_version", "created", "synthetic", "status", "run", "device", "software")
        return {**{k: out[k] for k in head}, **{k: v for k, v in out.items() if k not in head}}

    def to_frame(self, samples: bool = False):
        """The long-format pandas DataFrame of this run (gpubench.results.frame.to_frame)."""
        from gpubench.results.frame import to_frame

        return to_frame(self, samples=samples)
