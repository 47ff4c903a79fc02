"""reports.baseline_tables: every variant against its workload's baselines, on the committed H100 run
(real measurements); the quantised formats' baselines and error column on records of that run renamed
(the table logic only: no quantised matmul has been measured on a GPU here yet)."""

import dataclasses

import pytest

from gpubench.reports.baseline_tables import baseline_tables, speedups
from gpubench.reports.table_model import to_markdown
from gpubench.roofline.placement import place_run
from tests.support import realdata


@pytest.fixture(scope="module")
def h100():
    return place_run(realdata.h100())


def test_speedups_are_the_baselines_median_over_the_variants(h100):
    run = h100.run
    ratios = speedups(run.records)
    tri = realdata.record(run, "gemm", "triton", "bf16", M=8192, N=8192, K=8192)
    torch_ = realdata.record(run, "gemm", "torch", "bf16", M=8192, N=8192, K=8192)
    assert ratios[tri.key] == {"torch": pytest.approx(torch_.median / tri.median)}
    assert torch_.key not in ratios  # a baseline is not compared with itself
    bwd = next(r for r in run.ok_records() if r.workload == "layernorm_bwd" and r.variant == "triton_bwd")
    assert set(ratios[bwd.key]) == {"torch_bwd"}
    # every ok non-baseline record of a case its baseline measured has a ratio, and only those
    for rec in run.ok_records():
        case = (rec.workload, rec.shape, rec.dtype, rec.mode)
        same = [r for r in run.ok_records() if (r.workload, r.shape, r.dtype, r.mode) == case]
        base = [r for r in same if r.role == "baseline"]
        assert (rec.key in ratios) == (bool(base) and rec.role != "baseline")


def test_failed_baselines_give_no_ratio(h100):
    run = h100.run
    tri = realdata.record(run, "gemm", "triton", "bf16", M=8192, N=8192, K=8192)
    def fail(r):
        return dataclasses.replace(r, status="failed", timing=None, reason="wrong")

    records = [fail(r) if (r.workload, r.variant) == ("gemm", "torch") else r for r in run.records]
    assert tri.key not in speedups(records)


def test_one_table_per_workload_with_the_speedup_and_the_roof(h100):
    tables = {t.title: t for t in baseline_tables(h100, "r0")}
    assert "gemm against torch" in tables and "layernorm_bwd against torch_bwd" in tables
    gemm = tables["gemm against torch"]
    names = [c.name for c in gemm.columns]
    assert names[-1] == "vs torch" and "error" not in names  # no quantised records: no error column
    tri = realdata.record(h100.run, "gemm", "triton", "bf16", M=8192, N=8192, K=8192)
    torch_ = realdata.record(h100.run, "gemm", "torch", "bf16", M=8192, N=8192, K=8192)
    (row,) = [r for r in gemm.rows if r.key == tri.label]
    assert row.cells[-1].text == f"{torch_.median / tri.median:.2f}×"
    assert not any(r.key == torch_.label for r in gemm.rows)
    roof = names.index("% of roof")
    assert all(r.cells[roof].text.endswith("%") for r in gemm.rows)
    md = to_markdown(gemm)
    assert "vs torch" in md and row.cells[-1].text in md


def test_quantised_formats_are_held_against_dense_and_their_torch_kernel(h100):
    run = h100.run
    base = realdata.record(run, "gemm", "torch", "bf16", M=8192, N=8192, K=8192)
    fast = realdata.record(run, "gemm", "triton", "bf16", M=8192, N=8192, K=8192)
    err = {"quant_error": {"rel_fro": 0.02, "sqnr_db": 33.98}}
    records = [
        dataclasses.replace(base, workload="qmatmul_int8", variant="torch_dense"),
        dataclasses.replace(base, workload="qmatmul_int8", variant="torch_int_mm", details=err),
        dataclasses.replace(fast, workload="qmatmul_int8", variant="triton", details=err),
    ]
    run2 = dataclasses.replace(run, records=records)
    (table,) = baseline_tables(place_run(run2))
    assert table.title == "qmatmul_int8 against torch_dense, torch_int_mm"
    assert [c.name for c in table.columns][-3:] == ["vs torch_dense", "vs torch_int_mm", "error"]
    (row,) = table.rows  # torch_int_mm is a baseline: it gets no row of its own
    assert row.cells[-1].text == "34.0"
    assert row.cells[-2].text == row.cells[-3].text == f"{base.median / fast.median:.2f}×"
