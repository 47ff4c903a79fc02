"""The HTML report (index.html, static: inline CSS, no scripts, no network) and its markdown twin.

`render(sources, out_dir)` takes loaded results files (each with the measured ceilings matched to it),
places every record on its rooflines (roofline.annotate, on a copy), draws the plots, builds the tables,
and writes out_dir/index.html, out_dir/summary.md and out_dir/img/*.png.
"""

from __future__ import annotations

import base64
import copy
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from gpubench.reports import plots as plotmod
from gpubench.reports import tables as tab

TEMPLATES = Path(__file__).parent / "templates"
SYNTHETIC_BANNER = "SYNTHETIC — generated samples, not measurements"


@dataclass
class Source:
    """One results file to report, with the ceilings file matched to its GPU (if any)."""

    path: Path
    doc: dict
    ceilings_file: dict | None = None  # a whole "gpubench.ceilings" document
    ceilings_path: Path | None = None
    prefer_file: bool = False  # True: the ceilings file overrides the ceilings embedded in the results


@dataclass
class CeilingsFile:
    path: Path
    doc: dict
    used_by: list[str] = field(default_factory=list)


def _measured_for(src: Source) -> tuple[dict | None, str]:
    embedded = src.doc.get("ceilings")
    from_file = (src.ceilings_file or {}).get("ceilings") if src.ceilings_file else None
    if from_file and (src.prefer_file or not embedded):
        return from_file, f"ceilings file {src.ceilings_path.name if src.ceilings_path else ''}".strip()
    if embedded:
        return embedded, "measured ceilings embedded in the results file"
    return None, "none measured for this GPU (run `gpubench micro` on it)"


def _prepare(src: Source, idx: int, out_dir: Path, img_dir: Path, embed: bool) -> dict[str, Any]:
    from gpubench.roofline.annotate import annotate, ceiling_violations, ceilings_for, spec_for

    notes: list[str] = []
    doc = copy.deepcopy(src.doc)
    measured, measured_origin = _measured_for(src)
    if measured:
        doc["ceilings"] = copy.deepcopy(measured)  # what every consumer of this copy should use
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            annotate(doc, measured)
            datasheet, measured_c = ceilings_for(doc, measured)
        except ValueError as exc:
            notes.append(f"measured ceilings ignored: {exc}")
            doc.pop("ceilings", None)
            annotate(doc, {})
            datasheet, measured_c = ceilings_for(doc, {})
            measured_origin = "unusable (see note)"
        spec = spec_for(doc)
    notes += sorted({str(w.message) for w in caught})
    gpu = str((doc.get("device") or {}).get("name") or "unknown GPU")
    anchor = tab.slug(f"r{idx}-{src.path.stem}")
    stem = f"{idx:02d}-{tab.slug(src.path.stem)}"[:80]
    plots = []
    for p in plotmod.roofline_plots(doc, img_dir, stem, datasheet, measured_c):
        if embed:
            data = base64.b64encode((img_dir / p.filename).read_bytes()).decode("ascii")
            src_attr = f"data:image/png;base64,{data}"
        else:
            src_attr = (img_dir / p.filename).relative_to(out_dir).as_posix()
        plots.append({"src": src_attr, "title": p.title, "omitted": p.omitted, "file": p.filename})
    if src.ceilings_file is not None and src.ceilings_path is not None:
        notes.append(f"ceilings file matched by device name: {src.ceilings_path}")
    return {
        "anchor": anchor,
        "name": src.path.name,
        "path": str(src.path),
        "gpu": gpu,
        "synthetic": bool(doc.get("synthetic")),
        "status": str(doc.get("status") or "unknown"),
        "facts": tab.header_facts(doc, str(src.path)),
        "datasheet_label": _datasheet_label(spec, datasheet),
        "measured_label": _measured_label(measured_c, measured_origin),
        "violations": ceiling_violations(doc),
        "plots": plots,
        "tables": tab.workload_tables(doc, anchor),
        "fusion": tab.fusion_tables(doc, anchor),
        "notes": notes,
        "doc": doc,
    }


def _bw(gbs) -> str:
    return f"{tab.fmt_sig(gbs)} GB/s" if gbs else "bandwidth unknown"


def _datasheet_label(spec, ceilings) -> str:
    if spec is None or ceilings is None:
        return "none (no spec for this GPU)"
    origin = (
        "estimated from the device's properties (not in the spec database)"
        if spec.derived
        else "spec database"
    )
    return f"{spec.name}, {origin}; DRAM {_bw(ceilings.mem_bandwidth_gbs)}"


def _measured_label(ceilings, origin: str) -> str:
    if ceilings is None:
        return origin
    return f"{origin}; DRAM {_bw(ceilings.mem_bandwidth_gbs)}"


def cross_gpu(prepared: list[dict], out_dir: Path) -> tuple[str | None, str | None]:
    """(html, note): the comparison section from reports.compare when 2+ GPU models are present.

    The documents passed on carry the measured ceilings this report used (a matched ceilings file
    included), so the comparison predicts from the same ceilings as the rest of the page.
    """
    models = {p["gpu"] for p in prepared}
    if len(models) < 2:
        return None, None
    try:
        from gpubench.reports import compare
    except ImportError as exc:
        return None, f"Cross-GPU comparison skipped: reports.compare is not available ({exc})."
    try:
        report = compare.compare([p["doc"] for p in prepared], [p["path"] for p in prepared])
        return str(compare.to_html_section(report, out_dir)), None
    except Exception as exc:  # someone else's module: say what went wrong, never lose the page
        return None, f"Cross-GPU comparison failed: {type(exc).__name__}: {exc}"


def _markdown(prepared: list[dict], micro: list[dict], notes: list[str], cross_note: str | None) -> str:
    lines = ["# gpubench report", ""]
    for n in notes:
        lines.append(f"> {n}")
    if notes:
        lines.append("")
    for s in prepared:
        lines += [f"## {s['gpu']} — {s['name']}", ""]
        if s["synthetic"]:
            lines += [f"**{SYNTHETIC_BANNER}**", ""]
        for k, v in s["facts"]:
            lines.append(f"- **{k}**: {v}")
        lines += [
            f"- **rooflines**: datasheet — {s['datasheet_label']}; measured — {s['measured_label']}",
            "",
        ]
        for n in s["notes"]:
            lines.append(f"> {n}")
        if s["violations"]:
            lines += [
                "",
                f"**{len(s['violations'])} results above a roofline ceiling (accounting is wrong):**",
                "",
            ]
            lines += [f"- `{v}`" for v in s["violations"]]
        lines.append("")
        if s["plots"]:
            lines += [f"Roofline plots: {', '.join('img/' + p['file'] for p in s['plots'])}", ""]
        for t in s["tables"] + s["fusion"]:
            lines.append(tab.to_markdown(t))
    if micro:
        lines += ["## Micro-benchmarks vs datasheet", ""]
        for m in micro:
            lines += [f"_{m['source']}_", "", tab.to_markdown(m["table"])]
    if cross_note:
        lines += ["## Cross-GPU comparison", "", cross_note, ""]
    return "\n".join(lines).rstrip() + "\n"


def render(
    sources: list[Source],
    out_dir: str | Path,
    *,
    ceilings_files: list[CeilingsFile] | None = None,
    notes: list[str] | None = None,
    embed_images: bool = False,
    title: str = "gpubench report",
) -> Path:
    """Write out_dir/index.html, out_dir/summary.md and out_dir/img/; returns the index.html path."""
    out_dir = Path(out_dir)
    img_dir = out_dir / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    notes = list(notes or [])
    prepared = [_prepare(s, i + 1, out_dir, img_dir, embed_images) for i, s in enumerate(sources)]
    micro = []
    for cf in ceilings_files or []:
        used = f"; used for {', '.join(cf.used_by)}" if cf.used_by else "; matched to no results file given"
        micro.append({"source": f"{cf.path}{used}", "table": tab.micro_table(cf.doc, tab.slug(cf.path.stem))})
    cross_html, cross_note = cross_gpu(prepared, out_dir)
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, trim_blocks=False)
    page = env.get_template("report.html.j2").render(
        title=title,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sources=prepared,
        ceilings_files=ceilings_files or [],
        any_synthetic=any(s["synthetic"] for s in prepared),
        all_synthetic=all(s["synthetic"] for s in prepared),
        notes=notes,
        micro=micro,
        cross_gpu_html=cross_html,
        cross_gpu_note=cross_note,
    )
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    (out_dir / "summary.md").write_text(_markdown(prepared, micro, notes, cross_note), encoding="utf-8")
    return index
