"""The accelerator: array shape, dataflow, SRAM sizes, word size, DRAM bandwidth and clock.

Read from SCALE-Sim's .cfg (an INI file with [architecture_presets] and [run_presets]) or the suite's TOML
or JSON (flat keys, see data/default.toml). SRAM sizes are in KiB (1024 bytes) as in SCALE-Sim; a word is
`word_bytes` bytes (SCALE-Sim: 1). Bandwidth is in words per cycle for each SRAM's DRAM port; None is
SCALE-Sim's CALC mode, in which the memory never stalls the array and the bandwidth needed is reported.
"""

from __future__ import annotations

import configparser
import dataclasses
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import SystolicInputError

DATAFLOWS = ("os", "ws", "is")
DATAFLOW_NAMES = {"os": "output stationary", "ws": "weight stationary", "is": "input stationary"}
OPERANDS = ("ifmap", "filter", "ofmap")
DEFAULT_CONFIG = Path(__file__).parent / "data" / "default.toml"


@dataclass(frozen=True)
class ArrayConfig:
    rows: int = 32
    cols: int = 32
    dataflow: str = "ws"
    ifmap_kb: float = 64
    filter_kb: float = 64
    ofmap_kb: float = 64
    word_bytes: int = 1
    bandwidth: tuple[float, float, float] | None = None  # words/cycle per port (ifmap, filter, ofmap)
    clock_mhz: float = 1000.0
    name: str = "default"
    source: str = ""

    def __post_init__(self):
        validate(self)
        object.__setattr__(self, "dataflow", self.dataflow.strip().lower())

    def sram_words(self, operand: str) -> int:
        return math.floor(getattr(self, f"{operand}_kb") * 1024 / self.word_bytes)

    def half_words(self, operand: str) -> int:
        """Words in one half of a double-buffered SRAM: what the array works from while the other fills."""
        return self.sram_words(operand) // 2

    @property
    def sram_kb(self) -> float:
        return self.ifmap_kb + self.filter_kb + self.ofmap_kb

    def replace(self, **changes) -> ArrayConfig:
        return dataclasses.replace(self, **changes)

    def label(self) -> str:
        sram = "/".join(f"{getattr(self, f'{o}_kb'):g}" for o in OPERANDS)
        return f"{self.rows}x{self.cols} {self.dataflow} {sram} KB"

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["bandwidth"] = None if self.bandwidth is None else dict(zip(OPERANDS, self.bandwidth))
        return out


def check_dataflow(value, where: str = "dataflow") -> str:
    text = str(value).strip().lower()
    if text not in DATAFLOWS:
        raise SystolicInputError(f"{where}: unknown dataflow {value!r}; choose os, ws or is")
    return text


def validate(c: ArrayConfig) -> None:
    where = f"config {c.source}" if c.source else "config"
    for name in ("rows", "cols", "word_bytes"):
        value = getattr(c, name)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise SystolicInputError(f"{where}: {name} must be a positive integer, got {value!r}")
    if not isinstance(c.dataflow, str):
        raise SystolicInputError(f"{where}: dataflow must be os, ws or is, got {c.dataflow!r}")
    check_dataflow(c.dataflow, f"{where}: dataflow")
    for operand in OPERANDS:
        value = getattr(c, f"{operand}_kb")
        if not _positive_number(value):
            raise SystolicInputError(f"{where}: {operand} SRAM size must be > 0 KB, got {value!r}")
    if c.bandwidth is not None:
        for operand, value in zip(OPERANDS, c.bandwidth):
            if not _positive_number(value):
                raise SystolicInputError(
                    f"{where}: {operand} DRAM bandwidth must be > 0 words/cycle, got {value!r}"
                )
    if not _positive_number(c.clock_mhz):
        raise SystolicInputError(f"{where}: clock_mhz must be > 0, got {c.clock_mhz!r}")


def _positive_number(value) -> bool:
    return (
        not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value) and value > 0
    )


# ----------------------------------------------------------------------------------------- SCALE-Sim .cfg


def _cfg_get(cp: configparser.ConfigParser, section: str, key: str, where: str, default=None) -> str:
    if cp.has_option(section, key):
        return cp.get(section, key).strip()
    if default is None:
        raise SystolicInputError(f"{where}: [{section}] {key} is missing")
    return default


def _cfg_number(cp, section: str, key: str, where: str, default=None, kind=int):
    text = _cfg_get(cp, section, key, where, default)
    try:
        return kind(text)
    except ValueError:
        raise SystolicInputError(f"{where}: [{section}] {key} must be a number, got {text!r}") from None


def _cfg_bandwidth(cp, where: str) -> tuple[float, float, float] | None:
    mode = _cfg_get(cp, "run_presets", "InterfaceBandwidth", where, "CALC").upper()
    if mode == "CALC":
        return None
    if mode != "USER":
        raise SystolicInputError(
            f"{where}: [run_presets] InterfaceBandwidth must be CALC or USER, got {mode!r}"
        )
    text = _cfg_get(cp, "architecture_presets", "Bandwidth", where)
    try:
        ofmap = float(text.split(",")[0])
    except ValueError:
        raise SystolicInputError(
            f"{where}: [architecture_presets] Bandwidth must be a number, got {text!r}"
        ) from None
    # SCALE-Sim 3.0.0 feeds the ifmap and filter SRAMs at the [layout] bank bandwidths (10 by default)
    # and drains the ofmap SRAM at Bandwidth.
    ifmap = _cfg_number(cp, "layout", "IfmapSRAMBankBandwidth", where, str(ofmap), float)
    filt = _cfg_number(cp, "layout", "FilterSRAMBankBandwidth", where, str(ofmap), float)
    return (ifmap, filt, ofmap)


def parse_scalesim_cfg(text: str, source: str = "<cfg>") -> ArrayConfig:
    cp = configparser.ConfigParser(interpolation=None)
    try:
        cp.read_string(text, source)
    except configparser.Error as exc:
        raise SystolicInputError(
            f"{source}: not a valid SCALE-Sim config: {exc.message.splitlines()[0]}"
        ) from None
    where, arch = source, "architecture_presets"
    if not cp.has_section(arch):
        raise SystolicInputError(f"{where}: no [architecture_presets] section")
    if _cfg_get(cp, "sparsity", "SparsitySupport", where, "false").lower() == "true":
        raise SystolicInputError(f"{where}: [sparsity] SparsitySupport is not modelled (dense layers only)")
    values = {
        "rows": _cfg_number(cp, arch, "ArrayHeight", where),
        "cols": _cfg_number(cp, arch, "ArrayWidth", where),
        "ifmap_kb": _cfg_number(cp, arch, "IfmapSramSzkB", where, kind=float),
        "filter_kb": _cfg_number(cp, arch, "FilterSramSzkB", where, kind=float),
        "ofmap_kb": _cfg_number(cp, arch, "OfmapSramSzkB", where, kind=float),
    }
    dataflow = check_dataflow(_cfg_get(cp, arch, "Dataflow", where), f"{where}: [{arch}] Dataflow")
    name = _cfg_get(cp, "general", "run_name", where, Path(source).stem)
    return ArrayConfig(
        dataflow=dataflow, bandwidth=_cfg_bandwidth(cp, where), name=name, source=source, **values
    )


# ---------------------------------------------------------------------------------------- suite TOML/JSON

_SUITE_KEYS = {
    "name",
    "rows",
    "cols",
    "dataflow",
    "ifmap_sram_kb",
    "filter_sram_kb",
    "ofmap_sram_kb",
    "sram_kb",
    "word_bytes",
    "bandwidth",
    "dram_gbs",
    "clock_mhz",
}


def _suite_bandwidth(data: dict, where: str, clock_mhz, word_bytes) -> tuple[float, float, float] | None:
    if "bandwidth" in data and "dram_gbs" in data:
        raise SystolicInputError(f"{where}: give either bandwidth (words/cycle) or dram_gbs, not both")
    if "dram_gbs" in data:
        gbs = data["dram_gbs"]
        if not _positive_number(gbs) or not _positive_number(clock_mhz) or not _positive_number(word_bytes):
            raise SystolicInputError(f"{where}: dram_gbs must be > 0 (with clock_mhz and word_bytes > 0)")
        words = gbs * 1e9 / (clock_mhz * 1e6 * word_bytes)
        return (words, words, words)
    value = data.get("bandwidth", "estimate")
    if value == "estimate":
        return None
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(OPERANDS))
        if unknown or len(value) != 3:
            raise SystolicInputError(f"{where}: bandwidth table needs exactly ifmap, filter and ofmap")
        return tuple(value[o] for o in OPERANDS)
    return (value, value, value)


def parse_suite_config(data: dict, source: str = "<config>") -> ArrayConfig:
    where = source
    if not isinstance(data, dict):
        raise SystolicInputError(f"{where}: expected a table of settings")
    unknown = sorted(set(data) - _SUITE_KEYS)
    if unknown:
        raise SystolicInputError(
            f"{where}: unknown field {unknown[0]!r}; known: {', '.join(sorted(_SUITE_KEYS))}"
        )
    base = ArrayConfig()
    sram = data.get("sram_kb")
    values = {
        "rows": data.get("rows", base.rows),
        "cols": data.get("cols", base.cols),
        "dataflow": check_dataflow(data.get("dataflow", base.dataflow), f"{where}: dataflow"),
        "word_bytes": data.get("word_bytes", base.word_bytes),
        "clock_mhz": data.get("clock_mhz", base.clock_mhz),
    }
    for operand in OPERANDS:
        default = getattr(base, f"{operand}_kb") if sram is None else sram
        values[f"{operand}_kb"] = data.get(f"{operand}_sram_kb", default)
    bandwidth = _suite_bandwidth(data, where, values["clock_mhz"], values["word_bytes"])
    return ArrayConfig(
        bandwidth=bandwidth, name=str(data.get("name", Path(source).stem)), source=source, **values
    )


def read_config(path: str | Path | None = None) -> ArrayConfig:
    """A config file: .toml/.json in the suite's format, anything else (.cfg) SCALE-Sim's; None: default."""
    path = DEFAULT_CONFIG if path is None else Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SystolicInputError(f"cannot read config {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SystolicInputError(f"config {str(path)!r} is not a text file") from None
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        return parse_scalesim_cfg(text, str(path))
    try:
        data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SystolicInputError(f"{path}: not valid {suffix[1:].upper()}: {exc}") from None
    return parse_suite_config(data, str(path))
