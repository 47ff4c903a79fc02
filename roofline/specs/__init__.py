"""The GPU spec database (roofline/data/gpus.toml), users' spec files, and the peaks derived from them.

One job per module:
    model   the GPUSpec record, its source documents, derived peaks, JSON form
    load    reading and validating the database and spec files (errors name file, line and field)
    match   which GPU a name denotes (ambiguous names list their candidates); specs of unknown GPUs
    device  a spec checked against the device a run measured
A GPU that is not in the database gets a spec derived from its reported properties and the per-SM rates
typical of its compute capability, with an `UnknownGPUWarning`.
"""

from .device import device_mismatches
from .load import DATABASE, SpecFileError, load_spec_file, load_specs
from .match import (
    AmbiguousGPU,
    UnknownGPU,
    UnknownGPUWarning,
    get_spec,
    match_gpu,
    resolve_spec,
    spec_from_properties,
    typical_rates,
)
from .model import ARCHES, FIGURE_FIELDS, PEAK_KEYS, RATE_TO_PEAK, Document, GPUSpec, to_json

__all__ = [
    "ARCHES",
    "DATABASE",
    "FIGURE_FIELDS",
    "PEAK_KEYS",
    "RATE_TO_PEAK",
    "AmbiguousGPU",
    "Document",
    "GPUSpec",
    "SpecFileError",
    "UnknownGPU",
    "UnknownGPUWarning",
    "device_mismatches",
    "get_spec",
    "load_spec_file",
    "load_specs",
    "match_gpu",
    "resolve_spec",
    "spec_from_properties",
    "to_json",
    "typical_rates",
]
