"""Systolic-array accelerators: an analytical cycle and traffic model of output-, weight- and input-stationary
dataflows that agrees with SCALE-Sim 3.0.0, SCALE-Sim's input formats, design-space exploration and the
same layers on a GPU's roofline. Standard library only (matplotlib for the Pareto plot); no torch, no GPU.

    topology  layers: SCALE-Sim conv/GEMM CSVs, the suite's TOML/JSON, conv lowering to GEMM
    conv      convolution geometry: output size, distinct input words of parts of the lowered matrix
    config    the accelerator: SCALE-Sim .cfg or the suite's TOML/JSON
    model     folds, cycles (fill, drain, skew), mapping efficiency, compute utilisation
    memory    SRAM and DRAM traffic, double buffering, bandwidth stalls
    analysis  the two together, per layer and per topology
    dse, expr, plot   sweeps, the objective language, the Pareto plot
    gpu       the GEMMs on a GPU's roofline beside the array
    reference the comparison with the committed SCALE-Sim table (tests/data/scalesim_reference.json)
    report, cli, dse_cli   tables, `gpubench systolic` and `gpubench dse`
    errors    SystolicInputError: bad input, exit code 2 on the command line
"""

from .analysis import LayerResult, TopologyResult, evaluate, evaluate_layer
from .config import DATAFLOWS, ArrayConfig, read_config
from .errors import SystolicInputError
from .model import CYCLE_MODELS, compute
from .topology import Layer, Topology, conv_layer, gemm_layer, read_topology

__all__ = [
    "CYCLE_MODELS",
    "DATAFLOWS",
    "ArrayConfig",
    "Layer",
    "LayerResult",
    "SystolicInputError",
    "Topology",
    "TopologyResult",
    "compute",
    "conv_layer",
    "evaluate",
    "evaluate_layer",
    "gemm_layer",
    "read_config",
    "read_topology",
]
