"""The HTML report (index.html, static: inline CSS, no scripts, no network) and its markdown twin.

`render(inputs, out_dir)` takes the placed runs and ceilings files (reports.load), draws the plots,
builds the tables and writes out_dir/index.html, out_dir/summary.md and out_dir/img/*.png.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from gpubench.fmt import fmt_sig, slug
from gpubench.reports import comm_report, roofs
from gpubench.reports import plots as plotmod
from gpubench.reports import provenance_view as prov
from gpubench.reports import suspects as sus
from gpubench.reports import tables as tab
from gpubench.reports import truth_tables as truth
from gpubench.reports.baseline_tables import baseline_tables
from gpubench.reports.load import Inputs
from gpubench.roofline.placement import PlacedRun

TEMPLATES = Path(__file__).parent / "templates"
SYNTHETIC_BANNER = "SYNTHETIC — generated samples, not measurements"


def _bw(gbs) -> str:
    return f"{fmt_sig(gbs)} GB/s" if gbs else "bandwidth unknown"


def _datasheet_label(placed: PlacedRun) -> str:
    spec, ceilings = placed.ceilings.spec, placed.ceilings.datasheet
    if spec is None or ceilings is None:
        return "none (no spec for this GPU)"
    origin = (
        "estimated from the device's properties (not in the spec database)"
        if spec.derived
        else "spec database"
    )
    return f"{spec.name}, {origin}; DRAM {_bw(ceilings.mem_bandwidth_gbs)}"


def _measured_label(placed: PlacedRun) -> str:
    c = placed.ceilings
    return (
        c.measured_origin
        if c.measured is None
        else f"{c.measured_origin}; DRAM {_bw(c.measured.mem_bandwidth_gbs)}"
    )


def _prepare(placed: PlacedRun, idx: int, out_dir: Path, img_dir: Path, embed: bool) -> dict[str, Any]:
    run = placed.run
    name = Path(run.path or f"run-{idx}").name
    stem = f"{idx:02d}-{slug(Path(name).stem)}"[:80]
    anchor = slug(f"r{idx}-{Path(name).stem}")
    def shown(p: plotmod.Plot) -> dict:
        if embed:
            src = "data:image/png;base64," + base64.b64encode((img_dir / p.filename).read_bytes()).decode(
                "ascii"
            )
        else:
            src = (img_dir / p.filename).relative_to(out_dir).as_posix()
        return {"src": src, "title": p.title, "omitted": p.omitted, "file": p.filename}

    plots = [shown(p) for p in plotmod.roofline_plots(placed, img_dir, stem)]
    return {
        "anchor": anchor,
        "name": name,
        "gpu": run.gpu,
        "synthetic": run.synthetic,
        "status": run.status,
        "facts": tab.header_facts(run) + prov.facts(run),
        "provenance": prov.run_lines(run),
        "datasheet_label": _datasheet_label(placed),
        "measured_label": _measured_label(placed),
        "violations": placed.violations(),
        "suspects": sus.suspects(placed),
        "plots": plots,
        "tables": tab.workload_tables(placed, anchor),
        "comm_plots": [shown(p) for p in comm_report.collective_plots(run, img_dir, stem)],
        "comm_tables": comm_report.collective_tables(run, anchor),
        "fusion": tab.fusion_tables(placed, anchor),
        "baselines": baseline_tables(placed, anchor),
        "truth": [t for t in (truth.ncu_table(placed, anchor), truth.sustained_table(placed, anchor)) if t],
        "notes": list(placed.ceilings.notes),
    }


def cross_gpu(inputs: Inputs, out_dir: Path) -> tuple[str | None, str | None]:
    """(html, note): the comparison section when two or more GPU models are present, predicting from
    the same ceilings as the rest of the page."""
    if len({p.run.gpu for p in inputs.placed}) < 2:
        return None, None
    from gpubench.reports import compare, compare_render

    try:
        report = compare.compare(inputs.placed)
        return compare_render.to_html_section(report, out_dir), None
    except compare.CompareError as exc:
        return None, f"Cross-GPU comparison not possible: {exc}"


def _markdown(prepared: list[dict], micro: list[dict], notes: list[str], cross_note: str | None) -> str:
    lines = ["# gpubench report", ""]
    lines += [f"> {n}" for n in notes] + ([""] if notes else [])
    for s in prepared:
        lines += [f"## {s['gpu']} — {s['name']}", ""]
        if s["synthetic"]:
            lines += [f"**{SYNTHETIC_BANNER}**", ""]
        lines += [f"- **{k}**: {v}" for k, v in s["facts"]]
        lines += [
            f"- **rooflines**: datasheet — {s['datasheet_label']}; measured — {s['measured_label']}",
            "",
        ]
        lines += [f"> {n}" for n in s["notes"]]
        if s["provenance"]:
            lines += ["", f"**Provenance ({len(s['provenance'])}):**", ""]
            lines += [f"- {w}" for w in s["provenance"]]
        if s["violations"]:
            lines += [
                "",
                f"**{len(s['violations'])} results above a roofline ceiling (accounting is wrong):**",
                "",
            ]
            lines += [f"- `{v}`" for v in s["violations"]]
            lines += ["", "Which is suspect:", ""] + [f"- {v}" for v in s["suspects"]]
        lines.append("")
        if s["plots"]:
            lines += [f"Roofline plots: {', '.join('img/' + p['file'] for p in s['plots'])}", ""]
        if s["comm_plots"]:
            lines += [f"Collective rooflines: {', '.join('img/' + p['file'] for p in s['comm_plots'])}", ""]
        tables = s["tables"] + s["comm_tables"] + s["baselines"] + s["fusion"] + s["truth"]
        lines += [tab.to_markdown(t) for t in tables]
    if micro:
        lines += ["## Micro-benchmarks vs datasheet", ""]
        for m in micro:
            lines += [f"_{m['source']}_", ""] + [f"> provenance: {w}" for w in m["provenance"]]
            lines += [tab.to_markdown(m["table"])] + ([tab.to_markdown(m["roofs"])] if m["roofs"] else [])
    if cross_note:
        lines += ["## Cross-GPU comparison", "", cross_note, ""]
    return "\n".join(lines).rstrip() + "\n"


def _history(history, out_dir: Path, img_dir: Path, embed: bool) -> list[dict]:
    """The history section's GPU models (reports.history_view), or none without a history."""
    if history is None:
        return []
    from gpubench.reports.history_view import html_section

    return html_section(history, img_dir, out_dir, embed)


def render(
    inputs: Inputs, out_dir: str | Path, *, embed_images: bool = False, title: str = "gpubench report",
    history=None,
) -> Path:
    """Write out_dir/index.html, out_dir/summary.md and out_dir/img/; returns the index.html path.
    `history`: a reports.history.History whose trends get a section of their own."""
    out_dir = Path(out_dir)
    img_dir = out_dir / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    prepared = [_prepare(p, i + 1, out_dir, img_dir, embed_images) for i, p in enumerate(inputs.placed)]
    micro = []
    for c in inputs.ceilings:
        micro.append(
            {
                "source": f"{c.file.path}; {c.use()}",
                "table": tab.micro_table(c.file, slug(Path(c.file.path or "c").stem)),
                "provenance": prov.ceilings_lines(c.file),
                "roofs": roofs.roofs_table(c.file, slug(Path(c.file.path or "c").stem)),
            }
        )
    cross_html, cross_note = cross_gpu(inputs, out_dir)
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, trim_blocks=False)
    page = env.get_template("report.html.j2").render(
        title=title,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sources=prepared,
        ceilings_files=inputs.ceilings,
        any_synthetic=any(s["synthetic"] for s in prepared),
        all_synthetic=all(s["synthetic"] for s in prepared),
        notes=inputs.notes,
        micro=micro,
        cross_gpu_html=cross_html,
        cross_gpu_note=cross_note,
        history=_history(history, out_dir, img_dir, embed_images),
    )
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    (out_dir / "summary.md").write_text(
        _markdown(prepared, micro, inputs.notes, cross_note), encoding="utf-8"
    )
    return index
