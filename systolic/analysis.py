"""A layer or a whole topology on an accelerator: the compute model and the memory model put together."""

from __future__ import annotations

from dataclasses import dataclass

from . import memory, model
from .config import OPERANDS, ArrayConfig
from .topology import Layer, Topology


@dataclass(frozen=True)
class LayerResult:
    layer: Layer
    config: ArrayConfig
    cycle_model: str
    compute: model.Compute
    traffic: memory.Traffic  # one instance
    stalls: memory.Stalls  # one instance

    @property
    def compute_lines(self) -> int:
        """Cycles one instance's folds take, counted (not SCALE-Sim's last-cycle index)."""
        return self.compute.folds * self.compute.fold.total

    @property
    def compute_cycles(self) -> int:
        return self.compute.cycles * self.layer.repeat

    @property
    def stall_cycles(self) -> int:
        return self.stalls.stall_cycles * self.layer.repeat

    @property
    def cycles(self) -> int:
        return self.compute_cycles + self.stall_cycles

    @property
    def overall_utilization(self) -> float:
        """Useful MACs / (PEs x cycles, stalls included), as SCALE-Sim's 'Overall Util'."""
        return self.layer.macs / (self.config.rows * self.config.cols * max(self.cycles, 1))

    def words(self, kind: str) -> dict[str, int]:
        per_instance = getattr(self.traffic, kind)
        return {o: w * self.layer.repeat for o, w in per_instance.items()}

    @property
    def dram_words(self) -> int:
        return sum(self.words("dram_reads").values()) + sum(self.words("dram_writes").values())

    def to_dict(self) -> dict:
        c = self.compute
        return {
            **self.layer.to_dict(),
            "dataflow": c.dataflow,
            "sr_sc_t": [c.sr, c.sc, c.t],
            "folds": {"row": c.row_folds, "col": c.col_folds, "total": c.folds},
            "fold_cycles": c.fold.to_dict(),
            "compute_cycles": self.compute_cycles,
            "stall_cycles": self.stall_cycles,
            "cycles": self.cycles,
            "prefetch_cycles": self.stalls.prefetch_cycles * self.layer.repeat,
            "drain_cycles": self.stalls.drain_cycles * self.layer.repeat,
            "macs": self.layer.macs,
            "mapping_efficiency": c.mapping_efficiency,
            "compute_utilization": c.compute_utilization,
            "overall_utilization": self.overall_utilization,
            "sram_reads": self.words("sram_reads"),
            "sram_writes": self.words("sram_writes"),
            "dram_reads": self.words("dram_reads"),
            "dram_writes": self.words("dram_writes"),
            "dram_bytes": self.dram_words * self.config.word_bytes,
            "resident_in_sram": dict(self.traffic.resident),
            "bandwidth_needed": memory.bandwidth_needed(self.traffic, self.compute_lines, self.config),
        }


def evaluate_layer(layer: Layer, config: ArrayConfig, cycle_model: str = "scalesim") -> LayerResult:
    """One layer on the config's array and dataflow; SystolicInputError if an SRAM cannot hold one fold."""
    memory.check_operands(layer)
    memory.check_fits(layer, config)
    comp = model.compute(layer.m, layer.n, layer.k, config.rows, config.cols, config.dataflow, cycle_model)
    words = memory.traffic(layer, comp, config)
    stall = memory.stalls(words, comp.folds * comp.fold.total, config)
    return LayerResult(layer, config, cycle_model, comp, words, stall)


@dataclass(frozen=True)
class TopologyResult:
    topology: Topology
    config: ArrayConfig
    cycle_model: str
    layers: tuple[LayerResult, ...]

    @property
    def total_cycles(self) -> int:
        return sum(r.cycles for r in self.layers)

    @property
    def compute_cycles(self) -> int:
        return sum(r.compute_cycles for r in self.layers)

    @property
    def stall_cycles(self) -> int:
        return sum(r.stall_cycles for r in self.layers)

    def _weighted(self, attribute: str) -> float:
        """A per-layer figure averaged over the layers, weighted by their compute cycles."""
        weight = sum(max(r.compute_cycles, 1) for r in self.layers)
        return sum(getattr(r.compute, attribute) * max(r.compute_cycles, 1) for r in self.layers) / weight

    @property
    def mapping_efficiency(self) -> float:
        return self._weighted("mapping_efficiency")

    @property
    def compute_utilization(self) -> float:
        return self._weighted("compute_utilization")

    @property
    def overall_utilization(self) -> float:
        macs = sum(r.layer.macs for r in self.layers)
        return macs / (self.config.rows * self.config.cols * max(self.total_cycles, 1))

    @property
    def dram_words(self) -> int:
        return sum(r.dram_words for r in self.layers)

    def totals(self) -> dict:
        def summed(kind):
            return {
                o: sum(r.words(kind).get(o, 0) for r in self.layers)
                for o in OPERANDS
                if o in self.layers[0].words(kind)
            }

        return {
            "total_cycles": self.total_cycles,
            "compute_cycles": self.compute_cycles,
            "stall_cycles": self.stall_cycles,
            "macs": sum(r.layer.macs for r in self.layers),
            "mapping_efficiency": self.mapping_efficiency,
            "compute_utilization": self.compute_utilization,
            "overall_utilization": self.overall_utilization,
            "sram_reads": summed("sram_reads"),
            "sram_writes": summed("sram_writes"),
            "dram_reads": summed("dram_reads"),
            "dram_writes": summed("dram_writes"),
            "dram_bytes": self.dram_words * self.config.word_bytes,
        }

    def to_dict(self) -> dict:
        t = self.topology
        return {
            "topology": {"name": t.name, "source": t.source, "format": t.format, "layers": len(t.layers)},
            "config": self.config.to_dict(),
            "cycle_model": self.cycle_model,
            "layers": [r.to_dict() for r in self.layers],
            **self.totals(),
        }


def evaluate(topology: Topology, config: ArrayConfig, cycle_model: str = "scalesim") -> TopologyResult:
    model.check_cycle_model(cycle_model)
    layers = tuple(evaluate_layer(layer, config, cycle_model) for layer in topology.layers)
    return TopologyResult(topology, config, cycle_model, layers)
