"""The results and ceilings formats: typed records with reading, writing and validation.

This package is the one owner of those formats; the harness writes through it and every reader (the
report, the gate, the comparison) reads through it. It uses the standard library only (pandas for
`Run.to_frame`, when asked), so it runs on any machine.
"""

from gpubench.results.ceilings import (
    CEILINGS_SCHEMA,
    CEILINGS_SCHEMA_VERSION,
    CeilingsFile,
    MeasuredCeilings,
    MicroEntry,
)
from gpubench.results.codec import finite_or_none
from gpubench.results.collective import CLOCKS, Collective
from gpubench.results.io import (
    CeilingsError,
    ResultsError,
    dumps,
    load_json,
    no_records,
    parse_ceilings,
    parse_run,
    read,
    read_any,
    read_ceilings,
    read_embedded_ceilings,
    write,
)
from gpubench.results.machine import Device, Software
from gpubench.results.ncu import NcuProfile
from gpubench.results.provenance import Provenance, SpecMismatch
from gpubench.results.records import (
    COLLECTIVE_MODES,
    MODES,
    STATUSES,
    STOP_REASONS,
    Correctness,
    Record,
    RecordKey,
    Spread,
    Sustained,
    Telemetry,
    Timing,
)
from gpubench.results.run import RUN_STATUSES, SCHEMA, SCHEMA_VERSION, EmbeddedCeilings, Run, RunInfo, utc_now

__all__ = [
    "read_embedded_ceilings",
    "CLOCKS",
    "COLLECTIVE_MODES",
    "Collective",
    "CEILINGS_SCHEMA",
    "CEILINGS_SCHEMA_VERSION",
    "MODES",
    "RUN_STATUSES",
    "SCHEMA",
    "SCHEMA_VERSION",
    "STATUSES",
    "STOP_REASONS",
    "CeilingsError",
    "CeilingsFile",
    "Correctness",
    "Device",
    "EmbeddedCeilings",
    "MeasuredCeilings",
    "MicroEntry",
    "NcuProfile",
    "Provenance",
    "Record",
    "RecordKey",
    "ResultsError",
    "Run",
    "RunInfo",
    "Software",
    "SpecMismatch",
    "Spread",
    "Sustained",
    "Telemetry",
    "Timing",
    "dumps",
    "finite_or_none",
    "load_json",
    "no_records",
    "parse_ceilings",
    "parse_run",
    "read",
    "read_any",
    "read_ceilings",
    "utc_now",
    "write",
]
