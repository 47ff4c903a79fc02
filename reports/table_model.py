"""A report table as data: cells (text, CSS class, hover title, badges), columns and rows, rendered to HTML
by the template and to markdown by `to_markdown`, so the page and summary.md show the same numbers."""

from __future__ import annotations

from dataclasses import dataclass, field

from gpubench.fmt import md_cell

__all__ = ["Cell", "Column", "Row", "Table", "to_markdown"]


@dataclass
class Cell:
    text: str = ""
    cls: str = ""  # CSS classes: num, best, muted, warn, bad, status-failed, ...
    title: str = ""  # hover text with the details
    colspan: int = 1
    badges: list[tuple[str, str]] = field(default_factory=list)  # (text, css class), e.g. flags

    def plain(self) -> str:
        return ", ".join(([self.text] if self.text else []) + [b for b, _ in self.badges])


@dataclass
class Column:
    name: str
    sub: str = ""  # second header line, smaller
    num: bool = False
    title: str = ""


@dataclass
class Row:
    cells: list[Cell]
    status: str = "ok"
    key: str = ""  # the record's identity (workload/variant[shape|dtype|mode])


@dataclass
class Table:
    title: str
    anchor: str
    columns: list[Column]
    rows: list[Row]
    note: str = ""
    row_class: str = "rec"  # "rec" marks rows that are results records (one per record)


def to_markdown(table: Table) -> str:
    """A GitHub-flavoured markdown table; spanned cells are filled so every row has every column."""
    heads = [c.name + (f" ({c.sub})" if c.sub else "") for c in table.columns]
    lines = [f"### {table.title}", ""]
    if table.note:
        lines += [f"_{table.note}_", ""]
    lines.append("| " + " | ".join(md_cell(h) for h in heads) + " |")
    lines.append("|" + "|".join("---:" if c.num else "---" for c in table.columns) + "|")
    for row in table.rows:
        texts = []
        for cell in row.cells:
            texts += [md_cell(cell.plain())] + [""] * (cell.colspan - 1)
        texts += [""] * (len(heads) - len(texts))
        lines.append("| " + " | ".join(texts) + " |")
    return "\n".join(lines) + "\n"
