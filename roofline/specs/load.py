"""Reading GPU specs: the database (roofline/data/gpus.toml) and users' spec files in the same format.

A spec file holds [gpus.<key>] tables like the database's; `base = "<database key>"` starts from that GPU
and overrides what the file gives (`extends` does the same within one file). Figures a spec file gives
without a [documents] source are cited as the file itself. Every problem is a SpecFileError naming the
file, the line and the field: "my.toml:7: gpus.mine.sm_count: must be an integer > 0, got 'many'".
"""

from __future__ import annotations

import functools
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from .model import ARCHES, PEAK_KEYS, RATE_TO_PEAK, Document, GPUSpec, frozen

__all__ = ["DATABASE", "SpecFileError", "load_spec_file", "load_specs"]

DATABASE = "roofline/data/gpus.toml"
_INTS = ("sm_count", "mem_bus_width_bits", "l2_bytes", "smem_per_sm_bytes")
_NUMBERS = ("base_clock_mhz", "boost_clock_mhz", "peak_clock_mhz", "mem_data_rate_gbps", "mem_bandwidth_gbs",
            "mem_gb", "tdp_w", "sparsity_factor")  # fmt: skip
_STRINGS = ("name", "arch", "compute_capability", "mem_type", "extends", "base")
_STRING_LISTS = ("match", "sparse_keys", "notes", "unset")
_RATE_TABLES = {"flops_per_clk_per_sm": RATE_TO_PEAK, "published_dense_tflops": PEAK_KEYS,
                "published_sparse_tflops": PEAK_KEYS}  # fmt: skip
_TABLE_KEYS = {*_INTS, *_NUMBERS, *_STRINGS, *_STRING_LISTS, *_RATE_TABLES, "peak_clock_overrides_mhz",
               "published_discrepancies", "sources"}  # fmt: skip
_NOT_FIGURES = {"base", "extends", "sources", "notes", "unset", "name", "match"}
_REQUIRED = ("name", "match", "arch", "compute_capability", "sm_count", "mem_bandwidth_gbs")


class SpecFileError(ValueError):
    """A spec file or database table that cannot be used; the message names file, line and field."""


class _Source:
    """One TOML file's text, for error messages that name the line of a field."""

    def __init__(self, label: str, text: str):
        self.label, self.lines = label, text.splitlines()

    def line_of(self, key: str, fld: str | None = None) -> int | None:
        parts = (fld or "").split(".")
        header = re.compile(r"\s*\[\s*gpus\." + re.escape(".".join([key, *parts[:-1]])) + r"\s*\]")
        start = next((i for i, line in enumerate(self.lines) if header.match(line)), None)
        if start is None and len(parts) > 1:  # a dotted key under the GPU's own table
            return self.line_of(key, parts[0])
        if start is None or fld is None:
            return None if start is None else start + 1
        name = re.compile(r'\s*"?' + re.escape(parts[-1]) + r'"?\s*=')
        for i in range(start + 1, len(self.lines)):
            if self.lines[i].lstrip().startswith("["):
                break
            if name.match(self.lines[i]):
                return i + 1
        return start + 1

    def error(self, key: str, fld: str | None, problem: str) -> SpecFileError:
        line = self.line_of(key, fld)
        where = f"{self.label}:{line}" if line else self.label
        return SpecFileError(f"{where}: gpus.{key}{'.' + fld if fld else ''}: {problem}")


def _parse(label: str, text: str) -> tuple[dict[str, Any], _Source]:
    try:
        return tomllib.loads(text), _Source(label, text)
    except tomllib.TOMLDecodeError as exc:  # its message says "(at line N, column M)"
        raise SpecFileError(f"{label}: not valid TOML: {exc}") from None


def _check_value(src: _Source, key: str, fld: str, value: Any) -> None:
    def bad(what: str) -> SpecFileError:
        return src.error(key, fld, f"must be {what}, got {value!r}")

    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if fld in _INTS and not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        raise bad("an integer > 0")
    if fld in _NUMBERS and not (number and value > 0):
        raise bad("a number > 0")
    if fld in _STRINGS and not isinstance(value, str):
        raise bad("a string")
    if fld in _STRING_LISTS and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise bad("a list of strings")
    if fld in (*_RATE_TABLES, "peak_clock_overrides_mhz"):
        if not isinstance(value, dict):
            raise bad("a table of numbers")
        for k, v in value.items():
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0):
                raise src.error(key, f"{fld}.{k}", f"must be a number > 0, got {v!r}")


def _check_keys(src: _Source, key: str, fld: str | None, got, allowed, what: str) -> None:
    bad = sorted(set(got) - set(allowed))
    if bad:
        where = bad[0] if fld is None else f"{fld}.{bad[0]}"
        raise src.error(key, where, f"unknown {what} {bad[0]!r}; allowed: {', '.join(sorted(allowed))}")


def _check_table(src: _Source, key: str, t: dict[str, Any]) -> None:
    _check_keys(src, key, None, t, _TABLE_KEYS, "field")
    for fld, value in t.items():
        _check_value(src, key, fld, value)
    if "arch" in t and t["arch"] not in ARCHES:
        raise src.error(key, "arch", f"{t['arch']!r} is not one of {', '.join(ARCHES)}")
    if "compute_capability" in t and not re.fullmatch(r"\d+\.\d+", t["compute_capability"]):
        raise src.error(key, "compute_capability", f"must look like '9.0', got {t['compute_capability']!r}")
    for table, allowed in _RATE_TABLES.items():
        _check_keys(src, key, table, t.get(table, {}), allowed, "key")
    _check_keys(src, key, "published_discrepancies", t.get("published_discrepancies", {}), PEAK_KEYS, "key")
    for pattern in t.get("match", ()):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise src.error(key, "match", f"bad pattern {pattern!r}: {exc}") from None


def _inherit(tables: dict[str, dict], key: str, seen: tuple[str, ...] = ()) -> dict:
    """The table of `key` with its parent's figures under it (`extends`, or `base` across files)."""
    table, src = dict(tables[key][0]), tables[key][1]
    parent = table.pop("extends", None) or table.pop("base", None)
    if parent is None:
        if "unset" in table:
            raise src.error(key, "unset", "only makes sense with 'extends' or 'base'")
        return table
    if parent not in tables or parent in seen:
        fld = "base" if "base" in tables[key][0] else "extends"
        raise src.error(key, fld, f"unknown or circular parent {parent!r}")
    merged = _inherit(tables, parent, seen + (key,))
    sources = {**merged.get("sources", {}), **table.get("sources", {})}
    for name in table.pop("unset", ()):  # parent figures that do not hold for this GPU
        merged.pop(name, None)
        sources.pop(name, None)
    merged.update(table)
    merged["sources"] = sources
    return merged


def _build(key: str, t: dict[str, Any], docs: dict[str, Document], src: _Source, origin: str) -> GPUSpec:
    for required in _REQUIRED:
        if required not in t:
            raise src.error(key, None, f"missing {required!r}")
    rates = t.get("flops_per_clk_per_sm", {})
    _check_keys(src, key, "peak_clock_overrides_mhz", t.get("peak_clock_overrides_mhz", {}), rates, "key")
    _check_keys(src, key, "sparse_keys", t.get("sparse_keys", []), PEAK_KEYS, "peak")
    if rates and not t.get("peak_clock_mhz"):
        raise src.error(key, "flops_per_clk_per_sm", "per-SM rates need peak_clock_mhz")
    sources = {}
    for fld, ids in t.get("sources", {}).items():
        unknown = [i for i in ids if i not in docs]
        if unknown:
            raise src.error(key, f"sources.{fld}", f"names unknown documents {unknown}")
        sources["mem_bytes" if fld == "mem_gb" else fld] = tuple(docs[i] for i in ids)
    mem_gb = t.get("mem_gb")
    plain = ("base_clock_mhz", "boost_clock_mhz", "peak_clock_mhz", "mem_type", "mem_bus_width_bits",
             "mem_data_rate_gbps", "l2_bytes", "smem_per_sm_bytes", "tdp_w")  # fmt: skip
    return GPUSpec(
        key=key, name=t["name"], arch=t["arch"], compute_capability=t["compute_capability"],
        sm_count=t["sm_count"], mem_bandwidth_gbs=float(t["mem_bandwidth_gbs"]), match=tuple(t["match"]),
        **{f: t.get(f) for f in plain},
        peak_clock_overrides_mhz=frozen(t.get("peak_clock_overrides_mhz")),
        mem_bytes=int(mem_gb * 2**30) if mem_gb else None,
        flops_per_clk_per_sm=frozen(rates),
        sparsity_factor=float(t.get("sparsity_factor", 2.0)),
        sparse_keys=tuple(t.get("sparse_keys", ())),
        published_dense_tflops=frozen(t.get("published_dense_tflops")),
        published_sparse_tflops=frozen(t.get("published_sparse_tflops")),
        published_discrepancies=frozen(t.get("published_discrepancies")),
        sources=frozen(sources), notes=tuple(t.get("notes", ())), origin=origin,
    )  # fmt: skip


def _documents(raw: dict[str, Any], label: str) -> dict[str, Document]:
    docs = {}
    for i, d in raw.get("documents", {}).items():
        if not isinstance(d, dict) or not isinstance(d.get("title"), str):
            raise SpecFileError(f"{label}: documents.{i}: needs a title (and a url)")
        unknown = sorted(set(d) - {"title", "url", "kind"})
        if unknown:
            allowed = "kind, title, url"
            raise SpecFileError(f"{label}: documents.{i}: unknown field {unknown[0]!r}; allowed: {allowed}")
        docs[i] = Document(id=i, **{"url": "", **d})
    return docs


def _tables(raw: dict[str, Any], src: _Source) -> dict[str, tuple[dict, _Source]]:
    unknown = sorted(set(raw) - {"gpus", "documents"})
    if unknown:
        raise SpecFileError(f"{src.label}: unknown top-level table {unknown[0]!r}; allowed: gpus, documents")
    out = {}
    for key, t in raw.get("gpus", {}).items():
        if not isinstance(t, dict):
            raise src.error(key, None, "must be a table")
        _check_table(src, key, t)
        out[key] = (t, src)
    return out


@functools.lru_cache(maxsize=8)
def _database(path: str | None) -> tuple[dict[str, tuple[dict, _Source]], dict[str, Document]]:
    if path is None:
        text, label = resources.files("gpubench.roofline").joinpath("data/gpus.toml").read_text(), DATABASE
    else:
        text, label = Path(path).read_text(), path
    raw, src = _parse(label, text)
    return _tables(raw, src), _documents(raw, label)


@functools.lru_cache(maxsize=8)
def _load(path: str | None) -> tuple[GPUSpec, ...]:
    tables, docs = _database(path)
    for key, (t, src) in tables.items():
        if "base" in t:
            raise src.error(key, "base", "names a GPU of another file: use 'extends' inside the database")
        for required in ("name", "match") if "extends" in t else ():
            if required not in t:
                raise src.error(key, None, f"a table that extends another must give its own {required!r}")
    return tuple(_build(k, _inherit(tables, k), docs, tables[k][1], "database") for k in tables)


def load_specs(path: str | Path | None = None) -> list[GPUSpec]:
    """Every GPU in the database (parsed once and cached); `path` reads another file in its format."""
    return list(_load(str(path) if path is not None else None))


def _read_user_file(path: str | Path) -> tuple[dict[str, Any], _Source]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise SpecFileError(f"{path}: cannot read the spec file: {why}") from None
    return _parse(str(path), text)


def _check_parent(src: _Source, key: str, t: dict, db_tables: dict, own: dict) -> str:
    """The name of the GPU `key` is built on; SpecFileError where it names none or an unknown one."""
    if key in db_tables:
        raise src.error(key, None, f"is a database GPU's key: name yours, with base = {key!r}")
    if "base" in t:
        if t["base"] not in db_tables:
            raise src.error(key, "base", f"{t['base']!r} is not a database GPU (gpubench specs lists them)")
        return db_tables[t["base"]][0].get("name", t["base"])
    if "extends" in t and t["extends"] in own:
        return own[t["extends"]][0].get("name", t["extends"])
    raise src.error(key, None, 'needs base = "<database key>" (`gpubench specs` lists the keys)')


def load_spec_file(path: str | Path) -> list[GPUSpec]:
    """The GPUs of a user's spec file, each built on its `base` (a database GPU) or `extends` (one of
    the file's own); SpecFileError names the file, line and field of any problem."""
    raw, src = _read_user_file(path)
    own = _tables(raw, src)
    if not own:
        raise SpecFileError(f'{src.label}: no [gpus.<key>] table: give one, with base = "<database key>"')
    db_tables, db_docs = _database(None)
    file_doc = Document("spec-file", f"spec file {src.label}", "", "user")
    docs = {**db_docs, **_documents(raw, src.label), "spec-file": file_doc}
    out = []
    for key, (t, _) in own.items():
        parent = _check_parent(src, key, t, db_tables, own)
        given = sorted(set(t) - _NOT_FIGURES)
        cited = {f: ["spec-file"] for f in given if f not in t.get("sources", {})}
        table = {"name": f"{parent} ({key})", **t, "sources": {**t.get("sources", {}), **cited}}
        merged = _inherit({**db_tables, **own, key: (table, src)}, key)
        note = f"From spec file {src.label}, built on {parent}"
        note += f": {', '.join(given)} given there" if given else ""
        merged["notes"] = [*merged.get("notes", ()), note]
        out.append(_build(key, merged, docs, src, src.label))
    return out
