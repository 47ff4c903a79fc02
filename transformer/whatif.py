"""What-ifs: the same run with another weight format, without fusion, or with tiled GEMM traffic, set
against the baseline (weights in the dtype, fused, compulsory GEMM bytes), operator by operator."""

from __future__ import annotations

from dataclasses import dataclass

from gpubench.transformer.predict import ModelPrediction, Row

__all__ = ["WhatIf", "changes"]


@dataclass(frozen=True)
class WhatIf:
    label: str
    base: ModelPrediction
    alt: ModelPrediction

    def ratio(self, what: str, side: str = "datasheet") -> float | None:
        """alt / base of "flops", "bytes" or "time"."""
        if what == "time":
            a, b = self.alt.predicted_s(side), self.base.predicted_s(side)
        else:
            a, b = getattr(self.alt, f"total_{what}"), getattr(self.base, f"total_{what}")
        return a / b if a is not None and b else None

    def to_json(self) -> dict:
        def totals(p: ModelPrediction) -> dict:
            return {
                "total_flops": p.total_flops,
                "total_bytes": p.total_bytes,
                "predicted": {s: p.predicted_s(s) for s in p.sides},
                "tokens_per_s": {s: p.tokens_per_s(s) for s in p.sides},
            }

        return {
            "label": self.label,
            "baseline": totals(self.base),
            "whatif": totals(self.alt),
            "operators": [_change_json(name, b, a, self.alt.sides) for name, b, a in changes(self)],
        }


def _key(row: Row) -> str:
    return row.op.name


def changes(w: WhatIf) -> list[tuple[str, Row | None, Row | None]]:
    """(operator, baseline row, what-if row) for every operator whose counts or bound differ; an operator
    that exists on one side only (the materialised attention's three kernels) has None on the other."""
    base = {_key(r): r for r in w.base.rows}
    alt = {_key(r): r for r in w.alt.rows}
    names = list(base) + [n for n in alt if n not in base]
    out = []
    for name in names:
        b, a = base.get(name), alt.get(name)
        if b is not None and a is not None:
            same_bound = all(b.times[s].bound == a.times[s].bound for s in b.times if s in a.times)
            if (b.op.flops, b.op.bytes, b.op.dtype) == (a.op.flops, a.op.bytes, a.op.dtype) and same_bound:
                continue
        out.append((name, b, a))
    return out


def _change_json(name: str, b: Row | None, a: Row | None, sides) -> dict:
    def side(r: Row | None, s: str):
        t = r.times.get(s) if r is not None else None
        return None if t is None else {"bound": t.bound, "predicted_s": t.time_s, "limit": t.limit}

    def count(r: Row | None, attr: str):
        return getattr(r.op, attr) if r is not None else None

    return {
        "name": name,
        "baseline": {
            "flops": count(b, "flops"),
            "bytes": count(b, "bytes"),
            "dtype": count(b, "dtype"),
            **{s: side(b, s) for s in sides},
        },
        "whatif": {
            "flops": count(a, "flops"),
            "bytes": count(a, "bytes"),
            "dtype": count(a, "dtype"),
            **{s: side(a, s) for s in sides},
        },
    }
