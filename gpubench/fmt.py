"""How numbers are shown, everywhere: progress lines, tables, the HTML page, the gate and the comparison.

Standard library only. Every formatter takes anything (None, NaN, a string) and shows "—" for what is
not a finite number, so a malformed value never breaks a page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "DASH",
    "finite",
    "fmt_bytes",
    "fmt_dim",
    "fmt_err",
    "fmt_pct",
    "fmt_ratio",
    "fmt_shape",
    "shape_label",
    "fmt_sig",
    "fmt_time",
    "md_cell",
    "oneline",
    "slug",
]

DASH = "—"


def finite(x: Any) -> float | None:
    """`x` as a float when it is a finite number (not a bool), else None."""
    if isinstance(x, bool) or x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt_sig(x: Any, digits: int = 3) -> str:
    """A number with `digits` significant digits, thousands separated, no exponent for everyday sizes."""
    x = finite(x)
    if x is None:
        return DASH
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    if mag >= 9 or mag < -4:
        return f"{x:.{digits - 1}e}"
    decimals = max(0, digits - 1 - mag)
    return f"{x:,.{decimals}f}"


def fmt_time(seconds: Any, digits: int = 3) -> str:
    """Human time: 812 ns, 41.2 µs, 3.07 ms, 1.20 s."""
    s = finite(seconds)
    if s is None:
        return DASH
    a = abs(s)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if a >= scale:
            return f"{fmt_sig(s / scale, digits)} {unit}"
    return f"{fmt_sig(s / 1e-9, digits)} ns"


def fmt_pct(fraction: Any, digits: int = 1) -> str:
    f = finite(fraction)
    return DASH if f is None else f"{100 * f:.{digits}f}%"


def fmt_ratio(x: Any) -> str:
    f = finite(x)
    return DASH if f is None else f"{f:.3f}"


def fmt_err(x: Any) -> str:
    """A relative error as a signed percentage: +3.2%."""
    f = finite(x)
    return DASH if f is None else f"{f:+.1%}"


def fmt_bytes(n: Any) -> str:
    x = finite(n)
    if x is None:
        return DASH
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(x) >= scale:
            return f"{fmt_sig(x / scale)} {unit}"
    return f"{int(x)} B"


def fmt_dim(v: Any) -> str:
    """Shape values: large powers of two as 2^k, other large numbers with separators."""
    if isinstance(v, bool) or not isinstance(v, int):
        return str(v)
    if v >= 1 << 16 and v & (v - 1) == 0:
        return f"2^{v.bit_length() - 1}"
    return f"{v:,}" if v >= 100_000 else str(v)


def fmt_shape(shape: Any) -> str:
    if not isinstance(shape, dict) or not shape:
        return DASH
    return " ".join(f"{k}={fmt_dim(v)}" for k, v in shape.items())


def shape_label(shape: Mapping[str, Any] | Iterable[tuple[str, Any]], sep: str = ",") -> str:
    """A shape's axes and sizes as given, 'M=64,N=64,K=32' (a mapping or (axis, size) pairs): the form of
    record labels, plan ids and test ids. Display only, never parsed; fmt_shape is the page's form."""
    items = shape.items() if isinstance(shape, Mapping) else shape
    return sep.join(f"{k}={v}" for k, v in items)


def oneline(text: Any) -> str:
    return " ".join(str(text).split())


def md_cell(text: Any) -> str:
    """Text for a markdown table cell (pipes escaped; GitHub honours the escape inside code spans too)."""
    return oneline(text).replace("|", "\\|")


def file_slug(text: Any) -> str:
    """A file or folder name from free text, case kept (results/NVIDIA-H100-80GB-HBM3-...json)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", str(text)).strip("-") or "unknown"


def slug(text: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"
