"""Layers and the files that describe them: SCALE-Sim's conv and GEMM topology CSVs and the suite's TOML/JSON.

Every layer is a GEMM of an M x K input by a K x N filter matrix. A convolution is lowered as SCALE-Sim lowers
it (im2col): M = output pixels (one image), N = filters, K = filter height x width x channels. A layer whose
name contains "DP" in a SCALE-Sim conv CSV is depthwise, run as one single-channel layer per channel
(`repeat` = channels), as SCALE-Sim does.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .conv import ConvShape
from .errors import SystolicInputError

CONV_FIELDS = (
    "IFMAP Height",
    "IFMAP Width",
    "Filter Height",
    "Filter Width",
    "Channels",
    "Num Filter",
    "Strides",
)
GEMM_FIELDS = ("M", "N", "K")


@dataclass(frozen=True)
class Layer:
    """One GEMM (M x K times K x N), run `repeat` times. `conv` holds the shape it was lowered from."""

    name: str
    m: int
    n: int
    k: int
    repeat: int = 1
    conv: ConvShape | None = None

    @property
    def kind(self) -> str:
        return "gemm" if self.conv is None else "conv"

    @property
    def macs(self) -> int:
        return self.m * self.n * self.k * self.repeat

    @property
    def ifmap_words(self) -> int:
        """Distinct input words of one instance (a conv reads each input pixel once, not its im2col copy)."""
        return self.m * self.k if self.conv is None else self.conv.input_words()

    def window_words(self, start: int, count: int) -> int:
        """Distinct input words that columns [start, start + count) of the M x K input matrix read."""
        return self.m * count if self.conv is None else self.conv.window_words(start, count)

    def to_dict(self) -> dict:
        out = {
            "name": self.name,
            "kind": self.kind,
            "m": self.m,
            "n": self.n,
            "k": self.k,
            "repeat": self.repeat,
        }
        if self.conv is not None:
            out["conv"] = {f: getattr(self.conv, f) for f in ConvShape.__dataclass_fields__}
        return out


@dataclass(frozen=True)
class Topology:
    name: str
    layers: tuple[Layer, ...]
    source: str = ""
    format: str = ""  # "scalesim-conv", "scalesim-gemm" or "suite"
    notes: tuple[str, ...] = field(default_factory=tuple)


def gemm_layer(name: str, m: int, n: int, k: int, repeat: int = 1) -> Layer:
    return Layer(name, m, n, k, repeat)


def conv_layer(
    name: str,
    ifmap_h: int,
    ifmap_w: int,
    filter_h: int,
    filter_w: int,
    channels: int,
    filters: int,
    stride_h: int = 1,
    stride_w: int | None = None,
    depthwise: bool = False,
    repeat: int = 1,
) -> Layer:
    """A convolution lowered to GEMM as SCALE-Sim lowers it; depthwise: one 1-channel layer per channel."""
    where = f"layer {name!r}"
    if filter_h > ifmap_h:
        raise SystolicInputError(f"{where}: filter height {filter_h} exceeds IFMAP height {ifmap_h}")
    if filter_w > ifmap_w:
        raise SystolicInputError(f"{where}: filter width {filter_w} exceeds IFMAP width {ifmap_w}")
    shape = ConvShape(
        ifmap_h,
        ifmap_w,
        filter_h,
        filter_w,
        1 if depthwise else channels,
        filters,
        stride_h,
        stride_h if stride_w is None else stride_w,
    )
    m = shape.ofmap_h * shape.ofmap_w
    k = filter_h * filter_w * shape.channels
    return Layer(name, m, filters, k, repeat * (channels if depthwise else 1), shape)


# ------------------------------------------------------------------------------------------ SCALE-Sim CSV


def _rows(text: str):
    """(line number, fields) of each non-blank line; fields stripped, trailing empty fields dropped."""
    for number, line in enumerate(text.splitlines(), start=1):
        fields = [f.strip() for f in line.split(",")]
        while fields and fields[-1] == "":
            fields.pop()
        if fields:
            yield number, fields


def _positive(value: str, where: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SystolicInputError(f"{where}: {name} must be a positive integer, got {value!r}") from None
    if number <= 0:
        raise SystolicInputError(f"{where}: {name} must be a positive integer, got {number}")
    return number


def _check_sparsity(fields: list[str], count: int, where: str) -> None:
    if len(fields) == count + 2 and fields[-1].replace(" ", "") not in ("1:1", ""):
        raise SystolicInputError(
            f"{where}: sparsity ratio {fields[-1]!r} is not modelled (dense layers only)"
        )
    if len(fields) < count + 1 or len(fields) > count + 2:
        names = ", ".join(("Layer name",) + (CONV_FIELDS if count == 7 else GEMM_FIELDS))
        raise SystolicInputError(
            f"{where}: expected {count + 1} fields ({names}[, sparsity]), got {len(fields)}"
        )


def _csv_layer(fields: list[str], where: str, gemm: bool) -> Layer:
    names = GEMM_FIELDS if gemm else CONV_FIELDS
    _check_sparsity(fields, len(names), where)
    name = fields[0] or f"layer{where.rsplit(' ', 1)[-1]}"
    where = f"{where} (layer {name!r})"
    values = [_positive(v, where, n) for v, n in zip(fields[1:], names)]
    if gemm:
        return gemm_layer(name, *values)
    h, w, fh, fw, c, nf, stride = values
    try:
        return conv_layer(name, h, w, fh, fw, c, nf, stride, depthwise="DP" in name)
    except SystolicInputError as exc:
        raise SystolicInputError(f"{where}: {str(exc).split(': ', 1)[1]}") from None


def parse_csv(text: str, source: str = "<csv>") -> Topology:
    """A SCALE-Sim topology CSV: conv (Layer name, IFMAP Height, ..., Strides) or GEMM, recognised by its
    `M, N, K` header. Unlike SCALE-Sim, a row without the trailing comma keeps its last field."""
    rows = list(_rows(text))
    if not rows:
        raise SystolicInputError(f"{source}: empty topology file")
    number, header = rows[0]
    if len(header) > 1 and header[1].lstrip("-").isdigit():
        raise SystolicInputError(
            f"{source} line {number}: looks like a data row; a SCALE-Sim topology starts with a header line"
        )
    gemm = [h.lower() for h in header[1:4]] == ["m", "n", "k"]
    layers = tuple(_csv_layer(fields, f"{source} line {n}", gemm) for n, fields in rows[1:])
    if not layers:
        raise SystolicInputError(f"{source}: no layers after the header line")
    return Topology(Path(source).stem, layers, source, "scalesim-gemm" if gemm else "scalesim-conv")


# ------------------------------------------------------------------------------------- the suite's format

_GEMM_KEYS = {"name", "m", "n", "k", "repeat", "type"}
_CONV_KEYS = {
    "name",
    "ifmap_h",
    "ifmap_w",
    "filter_h",
    "filter_w",
    "channels",
    "filters",
    "stride",
    "stride_h",
    "stride_w",
    "depthwise",
    "repeat",
    "type",
}


def _int_field(table: dict, key: str, where: str, default: int | None = None) -> int:
    value = table.get(key, default)
    if value is None:
        raise SystolicInputError(f"{where}: missing field {key!r}")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SystolicInputError(f"{where}: field {key!r} must be a positive integer, got {value!r}")
    return value


def _suite_conv(t: dict, name: str, where: str) -> Layer:
    stride = t.get("stride", 1)
    if isinstance(stride, list) and len(stride) == 2:
        t = {**t, "stride_h": t.get("stride_h", stride[0]), "stride_w": t.get("stride_w", stride[1])}
        stride = 1
    sh = _int_field(t, "stride_h", where, stride if isinstance(stride, int) else None)
    sw = _int_field(t, "stride_w", where, sh)
    dims = [
        _int_field(t, key, where)
        for key in ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "filters")
    ]
    depthwise = t.get("depthwise", False)
    if not isinstance(depthwise, bool):
        raise SystolicInputError(f"{where}: field 'depthwise' must be true or false, got {depthwise!r}")
    try:
        return conv_layer(name, *dims, sh, sw, depthwise, _int_field(t, "repeat", where, 1))
    except SystolicInputError as exc:
        raise SystolicInputError(f"{where}: {str(exc).split(': ', 1)[1]}") from None


def _suite_layer(t, index: int, source: str) -> Layer:
    where = f"{source} layer {index}"
    if not isinstance(t, dict):
        raise SystolicInputError(f"{where}: expected a table of fields, got {type(t).__name__}")
    name = str(t.get("name", f"layer{index}"))
    where = f"{where} ({name!r})"
    kind = t.get("type", "gemm" if "m" in t else "conv")
    if kind not in ("gemm", "conv"):
        raise SystolicInputError(f"{where}: field 'type' must be 'gemm' or 'conv', got {kind!r}")
    allowed = _GEMM_KEYS if kind == "gemm" else _CONV_KEYS
    unknown = sorted(set(t) - allowed)
    if unknown:
        raise SystolicInputError(
            f"{where}: unknown field {unknown[0]!r}; a {kind} layer takes "
            f"{', '.join(sorted(allowed - {'type'}))}"
        )
    if kind == "conv":
        return _suite_conv(t, name, where)
    values = [_int_field(t, key, where) for key in ("m", "n", "k")]
    return gemm_layer(name, *values, repeat=_int_field(t, "repeat", where, 1))


def parse_suite(data: dict, source: str = "<topology>") -> Topology:
    """The suite's topology: `name` and a list `layer` of tables (TOML `[[layer]]`; JSON "layer" or
    "layers"), each a GEMM (m, n, k) or a conv (ifmap_h, ifmap_w, filter_h, filter_w, channels, filters,
    stride or stride_h/stride_w, depthwise), with an optional `repeat`."""
    if not isinstance(data, dict):
        raise SystolicInputError(f"{source}: expected a table with a 'layer' list")
    tables = data.get("layer", data.get("layers"))
    if not isinstance(tables, list) or not tables:
        raise SystolicInputError(f"{source}: no layers (give a [[layer]] table per layer)")
    unknown = sorted(set(data) - {"name", "layer", "layers", "notes"})
    if unknown:
        raise SystolicInputError(f"{source}: unknown top-level field {unknown[0]!r}")
    layers = tuple(_suite_layer(t, i, source) for i, t in enumerate(tables, start=1))
    return Topology(str(data.get("name", Path(source).stem)), layers, source, "suite")


def read_topology(path: str | Path) -> Topology:
    """A topology file: .toml or .json in the suite's format, anything else a SCALE-Sim CSV."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SystolicInputError(f"cannot read topology {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SystolicInputError(f"topology {str(path)!r} is not a text file") from None
    suffix = path.suffix.lower()
    if suffix in (".toml", ".json"):
        try:
            data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise SystolicInputError(f"{path}: not valid {suffix[1:].upper()}: {exc}") from None
        return parse_suite(data, str(path))
    return parse_csv(text, str(path))
