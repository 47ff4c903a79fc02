"""The report's data as pandas DataFrames: a run's records with their roofline placement, which variant
is best, the table order, and fused against unfused. The tables (reports.tables) only format these.
"""

from __future__ import annotations

import pandas as pd

from gpubench.results import CeilingsFile, Record
from gpubench.roles import UNFUSED
from gpubench.roofline.placement import PlacedRun

__all__ = ["fusion_frame", "micro_frame", "placed_frame", "table_order"]

_SIDES = ("datasheet", "measured")


def _placement_columns(placed: PlacedRun, rec: Record) -> dict:
    p = placed.of(rec)
    row: dict = {"above_ceiling": bool(p and p.above_ceiling)}
    for side in _SIDES:
        s = p.side(side) if p is not None else None
        row[f"bound_{side}"] = s.bound if s else None
        row[f"fraction_{side}"] = s.fraction_of_bound if s else None
        row[f"predicted_{side}_s"] = s.time_s if s else None
        row[f"predicted_over_measured_{side}"] = s.predicted_over_measured if s else None
        row[f"lower_bound_{side}_s"] = s.lower_bound_s if s else None
    either = (p.datasheet or p.measured) if p is not None else None
    row["l2_resident"] = bool(either and either.l2_resident)
    row["limit"] = p.limit[0] if p is not None else None  # measured ceilings first (roofline.perfmodel)
    return row


def placed_frame(placed: PlacedRun) -> pd.DataFrame:
    """One row per record, in file order (`pos` indexes `placed.run.records`), with its placement and
    whether it is the best variant of its (workload, shape, dtype, mode, work)."""
    df = placed.run.to_frame()
    extra = pd.DataFrame([_placement_columns(placed, rec) for rec in placed.run.records], index=df.index)
    df = pd.concat([df, extra], axis=1)
    df["pos"] = range(len(df))
    df["label"] = [rec.label for rec in placed.run.records]
    df["best"] = False
    ok = df[(df["status"] == "ok") & df["median_s"].notna()]
    # Same work only: a causal variant of the same shape does fewer FLOPs, so it is not comparable.
    groups = ok.groupby(["workload", "shape", "dtype", "mode", "flops"], dropna=False, sort=False)["median_s"]
    sizes = groups.transform("size")
    fastest = groups.idxmin()
    df.loc[[i for i in fastest if sizes[i] > 1], "best"] = True
    return df


def table_order(df: pd.DataFrame) -> pd.DataFrame:
    """Variants of one (shape, dtype, mode) next to each other, each in the order the run first met it."""
    keys = {c: pd.factorize(df[c])[0] for c in ("shape", "dtype", "mode", "variant")}
    return df.assign(**{f"_{c}": v for c, v in keys.items()}).sort_values(
        ["_shape", "_dtype", "_mode", "_variant", "pos"], kind="stable"
    )


def fusion_frame(placed: PlacedRun) -> pd.DataFrame:
    """Per workload with a variant of role `unfused`: each other ok variant against it at the same shape,
    dtype and mode, with the measured speed-up and the byte ratio the harness recorded."""
    df = placed_frame(placed).assign(role=[rec.role for rec in placed.run.records])
    df = pd.concat([table_order(part) for _, part in df.groupby("workload", sort=False)])
    df = df[df["status"] == "ok"]
    df = df.assign(_rank=range(len(df)))
    on = ["workload", "shape", "dtype", "mode"]
    is_unfused = df["role"] == UNFUSED
    unfused = df[is_unfused][[*on, "median_s", "pos"]]
    fused = df[~is_unfused]
    pairs = fused.merge(unfused, on=on, suffixes=("", "_unfused")).sort_values("_rank", kind="stable")
    if pairs.empty:
        return pairs
    pairs["speedup"] = pairs["median_s_unfused"] / pairs["median_s"]
    info = [_fusion_info(placed, int(a), int(b)) for a, b in zip(pairs["pos"], pairs["pos_unfused"])]
    pairs["fused_bytes"] = [i.get("fused_bytes") for i in info]
    pairs["unfused_bytes"] = [i.get("unfused_bytes") for i in info]
    pairs["ratio"] = [i.get("ratio") for i in info]
    missing = pairs["ratio"].isna() & pairs["fused_bytes"].notna() & pairs["unfused_bytes"].notna()
    pairs.loc[missing, "ratio"] = pairs["unfused_bytes"] / pairs["fused_bytes"]
    pairs["ops"] = [i.get("ops") for i in info]
    pairs["of_ratio"] = pairs["speedup"] / pairs["ratio"]
    return pairs


def _fusion_info(placed: PlacedRun, *positions: int) -> dict:
    for pos in positions:
        info = placed.run.records[pos].details.get("fusion")
        if isinstance(info, dict):
            return info
    return {}


def micro_frame(ceilings: CeilingsFile) -> pd.DataFrame:
    """The micro-benchmark figures of a ceilings file, with the percentage of the datasheet."""
    rows = []
    for m in ceilings.micro:
        pct = m.percent_of_datasheet
        if pct is None and m.value is not None and m.datasheet:
            pct = 100 * m.value / m.datasheet
        rows.append({"name": m.name, "value": m.value, "unit": m.unit, "datasheet": m.datasheet, "pct": pct})
    return pd.DataFrame(rows, columns=["name", "value", "unit", "datasheet", "pct"])
