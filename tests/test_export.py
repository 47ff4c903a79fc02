"""`gpubench export`: results files as one long-format CSV (or Parquet) table, on the committed runs."""

import io

import pandas as pd
import pytest

from gpubench.reports import export_cli
from tests.support import realdata

H100, H200 = str(realdata.H100_RESULTS), str(realdata.H200_RESULTS)


def test_csv_to_stdout_has_a_row_per_record_with_placement(capsys):
    assert export_cli.main([H100, "--csv"]) == 0
    df = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert len(df) == 186 and {"n", "M", "rows", "median_s", "gbs", "bound_measured", "best"} <= set(
        df.columns
    )
    row = df[(df.workload == "vector_add") & (df.variant == "triton") & (df.n == 1 << 26)].iloc[0]
    rec = realdata.record(realdata.h100(), "vector_add", "triton", n=1 << 26)
    assert row.median_s == pytest.approx(rec.median, rel=1e-12) and row.bound_measured == "memory"


def test_two_files_and_samples_to_a_file(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert export_cli.main([H100, H200, "--csv", "--samples", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().err
    df = pd.read_csv(out)
    n = sum(r.timing.n for run in (realdata.h100(), realdata.h200()) for r in run.ok_records())
    assert len(df) == n and set(df.gpu) == {realdata.H100, realdata.H200}


def test_parquet_needs_a_file_and_pyarrow(tmp_path, capsys, monkeypatch):
    assert export_cli.main([H100, "--parquet"]) == 2
    assert "--out" in capsys.readouterr().err
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    assert export_cli.main([H100, "--parquet", "--out", str(tmp_path / "x.parquet")]) == 2
    assert "pip install pyarrow" in capsys.readouterr().err


def test_bad_input_exits_2(tmp_path, capsys):
    assert export_cli.main([str(tmp_path / "missing.json"), "--csv"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert export_cli.main([H100]) == 2  # neither --csv nor --parquet
    assert "one of the arguments --csv --parquet is required" in capsys.readouterr().err
