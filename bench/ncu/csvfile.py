"""Nsight Compute's CSV output (`ncu --csv`), read into one row per profiled kernel with its metrics in
base units (seconds, bytes, Hz, percent). Standard library only.

Two layouts, as the Nsight Compute CLI documentation describes `--csv` with `--page`:
    raw      a header of identification columns ("ID", "Process ID", "Process Name", "Host Name",
             "Kernel Name", ... "Device", "CC") then one column per metric; a second row gives the units
             (its identification cells empty); then one row per kernel
    details  the same identification columns, then "Section Name", "Metric Name", "Metric Unit",
             "Metric Value": one row per metric of a kernel, the kernels told apart by "ID"
Every cell is quoted; numbers may carry thousands separators ("1,234.5"). Lines that are not CSV rows
(ncu's ==PROF== / ==WARNING== / ==ERROR== lines, the program's own output) are skipped.

The raw page also carries columns the CLI adds whatever --metrics asks for (device__attribute_*, launch__*),
some of them text ("No-CC", "CachePreferNone", a hex mask "0x3", the GPU's name): a cell that is not a
number is kept as text (KernelRow.text), an empty or "n/a" cell reads None, and neither stops the parse.
A row whose ID is not a number (a stray line) is skipped.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

__all__ = ["KernelRow", "NcuCsvError", "errors", "parse", "to_base"]

IDENTIFICATION = (
    "ID", "Process ID", "Process Name", "Host Name", "Kernel Name", "Kernel Time", "Context", "Stream",
    "Block Size", "Grid Size", "Device", "CC", "Section Name",
)  # fmt: skip
_SCALE = {
    # time -> seconds
    "nsecond": 1e-9, "ns": 1e-9, "usecond": 1e-6, "us": 1e-6, "msecond": 1e-3, "ms": 1e-3, "second": 1.0,
    "s": 1.0,
    # bytes (decimal prefixes, as ncu prints them; binary ones where it writes Ki/Mi/Gi)
    "byte": 1.0, "kbyte": 1e3, "mbyte": 1e6, "gbyte": 1e9, "tbyte": 1e12, "kibyte": 2.0**10,
    "mibyte": 2.0**20, "gibyte": 2.0**30,
    # frequency -> Hz
    "hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9, "cycle/second": 1.0, "cycle/usecond": 1e6,
    "cycle/nsecond": 1e9,
    "%": 1.0,
}  # fmt: skip


class NcuCsvError(ValueError):
    """Text that holds no ncu CSV table."""


@dataclass
class KernelRow:
    id: int
    kernel: str
    metrics: dict[str, float | None] = field(default_factory=dict)  # base units; None: empty or n/a
    units: dict[str, str] = field(default_factory=dict)  # as printed
    fields: dict[str, str] = field(default_factory=dict)  # the identification columns
    text: dict[str, str] = field(default_factory=dict)  # metric cells that are not numbers, as printed

    def put(self, name: str, value: str, unit: str) -> None:
        """Store one metric cell: a number in base units, else its text."""
        number = to_base(value, unit)
        if number is None and not _empty(value):
            self.text[name] = value.strip()
        else:
            self.metrics[name] = number


def _empty(value: str) -> bool:
    return value.strip().lower() in ("", "n/a", "nan", "-")


def to_base(value: str, unit: str) -> float | None:
    """A printed value in base units; None for an empty or "n/a" cell and for text that is no number.
    Unknown units pass unscaled."""
    if _empty(value):
        return None
    try:
        number = float(value.strip().replace(",", ""))
    except ValueError:
        return None
    return number * _SCALE.get(unit.strip().lower(), 1.0)


def _id(cell: str) -> int | None:
    try:
        return int(cell.strip())
    except ValueError:
        return None


def _unit_of(name: str, printed: str) -> str:
    """The unit of a metric's column: as printed, else ncu's base unit (durations are in nanoseconds;
    bytes, percentages and per-second rates are already base units)."""
    if printed:
        return printed
    return "nsecond" if "time_duration" in name else ""


def _rows(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith('"')]
    return list(csv.reader(io.StringIO("\n".join(lines))))


def _raw(header: list[str], body: list[list[str]]) -> list[KernelRow]:
    ident = [i for i, h in enumerate(header) if h in IDENTIFICATION]
    metric_cols = [i for i in range(len(header)) if i not in ident]
    units = {}
    if body and not body[0][header.index("ID")].strip():
        units = {header[i]: body[0][i] for i in metric_cols if i < len(body[0])}
        body = body[1:]
    out = []
    for row in body:
        kid = _id(row[header.index("ID")]) if len(row) == len(header) else None
        if kid is None:
            continue  # a line cut short, or not a kernel's row
        kernel = KernelRow(kid, row[header.index("Kernel Name")], units=dict(units))
        kernel.fields = {header[i]: row[i] for i in ident}
        for i in metric_cols:
            kernel.put(header[i], row[i], _unit_of(header[i], units.get(header[i], "")))
        out.append(kernel)
    return out


def _details(header: list[str], body: list[list[str]]) -> list[KernelRow]:
    by_id: dict[int, KernelRow] = {}
    for row in body:
        cells = dict(zip(header, row))
        kid = _id(cells["ID"]) if len(row) == len(header) else None
        if kid is None:
            continue
        kernel = by_id.setdefault(kid, KernelRow(kid, cells["Kernel Name"]))
        kernel.fields = {h: cells[h] for h in header if h in IDENTIFICATION and h != "Section Name"}
        name, unit = cells["Metric Name"], cells.get("Metric Unit", "")
        kernel.units[name] = unit
        kernel.put(name, cells["Metric Value"], unit)
    return [by_id[k] for k in sorted(by_id)]


def parse(text: str) -> list[KernelRow]:
    """The kernels of an `ncu --csv` output (raw or details page), in ID order; NcuCsvError when the
    text holds no table (ncu failed before profiling, or profiled nothing: see `errors`)."""
    rows = _rows(text)
    at = next((i for i, r in enumerate(rows) if r and r[0] == "ID" and "Kernel Name" in r), None)
    if at is None:
        raise NcuCsvError('no ncu CSV table (no header row starting with "ID")')
    header, body = rows[at], rows[at + 1 :]
    kernels = _details(header, body) if "Metric Name" in header else _raw(header, body)
    return sorted(kernels, key=lambda k: k.id)


def errors(text: str) -> list[str]:
    """ncu's ==ERROR== lines, without the prefix."""
    return [line.split("==ERROR==", 1)[1].strip() for line in text.splitlines() if "==ERROR==" in line]
