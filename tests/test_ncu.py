"""`gpubench ncu` on the CPU: the ncu CSV parser, the grouping of kernels into records and calls, the
choice of records, the command line, and the whole command over a stand-in ncu executable.

The CSV inputs (tests/data/ncu/*.csv) follow the layout the Nsight Compute CLI documentation gives for
`--csv` with `--page raw` and with the default details page; raw-page-2025.csv follows what Nsight
Compute 2025 writes on the raw page (its header names where that layout comes from), text columns
included. Their numbers are written by hand and are not a measurement. An output captured from a real
ncu run is owed from the GPU (the `truth` pack, docs/gpu-runs.md, keeps ncu's own CSV beside the results),
and this parser is to be checked against it there.
"""

import stat
import sys
from pathlib import Path

import pytest

from gpubench import results
from gpubench.bench.commands import ncu_cli
from gpubench.bench.ncu import records as ncu
from gpubench.bench.ncu.csvfile import NcuCsvError, errors, parse, to_base
from gpubench.reports import report_cli
from tests.support import realdata

DATA = Path(__file__).parent / "data" / "ncu"
FAKE = Path(__file__).parent / "support" / "fake_ncu.py"


def test_raw_page_rows_and_units():
    rows = parse((DATA / "raw-page.csv").read_text())
    assert [r.id for r in rows] == list(range(9))
    first = rows[0]
    assert (
        first.kernel == "gpubench:0:0"
        and first.fields["CC"] == "9.0"
        and first.fields["Grid Size"] == "(8448, 1, 1)"
    )
    assert first.metrics[ncu.TIME] == pytest.approx(200e-6)  # "200,000" nsecond
    assert first.metrics[ncu.DRAM_READ] == 536_870_912 and first.units[ncu.DRAM_READ] == "byte"
    assert first.metrics[ncu.SM_HZ] == 1.98e9 and first.metrics[ncu.SM_PCT] == 20.5


def test_details_page_rows_and_units():
    rows = parse((DATA / "details-page.csv").read_text())
    assert [r.kernel for r in rows] == [
        "void at::native::vectorized_elementwise_kernel<4>",
        "triton_poi_fused_add_0",
    ]
    assert rows[0].metrics[ncu.TIME] == pytest.approx(190.5e-6) and rows[0].metrics[
        ncu.DRAM_READ
    ] == pytest.approx(536.87e6)
    assert rows[0].metrics[ncu.SM_HZ] == pytest.approx(1.98e9)
    assert rows[1].metrics[ncu.DRAM_READ] == pytest.approx(1.024e6) and rows[1].metrics[
        ncu.TIME
    ] == pytest.approx(1.5e-3)
    assert rows[1].metrics[ncu.SM_HZ] is None  # "n/a"


def test_raw_page_as_ncu_2025_writes_it_with_text_columns():
    rows = parse((DATA / "raw-page-2025.csv").read_text())
    assert [r.id for r in rows] == list(range(6)) and rows[0].kernel == "gpubench:0:0"
    first = rows[0]
    # text cells stay text, never a number and never an error
    assert first.text["device__attribute_confidential_computing_mode"] == "No-CC"
    assert first.text["launch__func_cache_config"] == "CachePreferNone"
    assert first.text["c2clink__enabled_mask"] == "0x0"
    assert first.text["device__attribute_display_name"] == "NVIDIA H100 80GB HBM3"
    assert not set(first.text) & set(first.metrics)
    assert first.metrics[ncu.TIME] == pytest.approx(270_336e-9)  # "270,336" ns
    assert first.metrics["launch__registers_per_thread"] == 16 and first.units[ncu.SM_HZ] == "hz"
    assert first.metrics[ncu.TENSOR_METRICS[1]] is None  # "n/a"
    assert first.fields["Grid Size"] == "(65536, 1, 1)" and "launch__grid_size" not in first.fields
    grouped = ncu.split_by_range(rows)
    one, two = (ncu.profile_of(grouped[i], 2) for i in (0, 1))
    assert one.time_s == pytest.approx((270_336 + 271_360) / 2 * 1e-9) and one.sm_clock_mhz == 1755
    calls = (1_200_128 + 10_240, 1_210_368 + 10_240)  # two kernels a call, ns
    assert two.time_s == pytest.approx(sum(calls) / 2 * 1e-9)  # the median of two calls
    assert two.dram_read_bytes == 100_663_296 + 1_048_576 and two.dram_write_bytes is None  # one n/a
    line = ncu.missing_metrics([one, two])
    assert line.count("\n") == 0 and "dram__bytes_write.sum in 1 of 2" in line
    assert ncu.missing_metrics([one]) is None


def test_text_and_stray_rows_never_stop_the_parse():
    text = (DATA / "details-page.csv").read_text()
    stray = '"x","777","python3","h","k","t","1","7","s","m","u","1"\n'
    odd = text.replace('"Mbyte","536.87"', '"","Enabled"') + stray
    rows = parse(odd)
    assert [r.id for r in rows] == [0, 1] and rows[0].text["dram__bytes_read.sum"] == "Enabled"
    assert "dram__bytes_read.sum" not in rows[0].metrics
    assert to_base("No-CC", "") is None and to_base("0x3", "") is None


def test_units_and_refusals():
    assert to_base("1,234.5", "nsecond") == pytest.approx(1234.5e-9)
    assert to_base("2", "Gbyte") == 2e9 and to_base("1", "Kibyte") == 1024
    assert to_base("3", "cycle/nsecond") == 3e9
    assert to_base("n/a", "byte") is None and to_base("", "%") is None and to_base("7", "inst") == 7
    with pytest.raises(NcuCsvError):
        parse("==PROF== Connected to process 1\n==ERROR== The application returned an error code (1).\n")
    text = "==ERROR== ERR_NVGPUCTRPERM - The user does not have permission to access NVIDIA GPU Performance "
    assert errors(text)[0].startswith("ERR_NVGPUCTRPERM")
    assert "NVreg_RestrictProfilingToAdminUsers" in ncu.counters_problem(text)
    assert ncu.counters_problem("==PROF== all fine") is None


def test_kernels_are_grouped_by_record_and_call():
    rows = parse((DATA / "raw-page.csv").read_text())
    grouped = ncu.split_by_range(rows)
    assert sorted(grouped) == [0, 1] and [len(grouped[1][c]) for c in range(3)] == [2, 2, 2]
    one = ncu.profile_of(grouped[0], 3)
    assert one.time_s == pytest.approx(200e-6) and one.kernels_per_call == 1 and one.kernels == []
    assert one.dram_bytes == 536_870_912 + 268_435_456 and one.accounted_over_dram(
        805_306_368
    ) == pytest.approx(1.0)
    assert one.event_over_ncu(202e-6) == pytest.approx(1.01) and one.sm_clock_mhz == pytest.approx(1980.0)
    two = ncu.profile_of(grouped[1], 3)
    assert two.time_s == pytest.approx(400e-6)  # per call 300 + 100 us; the median of 390, 400, 410 us
    assert two.dram_read_bytes == 1e6 and two.dram_write_bytes == 3e6 and two.l2_bytes == 5e6
    assert two.sm_throughput_pct == pytest.approx(
        (300 * 80 + 100 * 40) / 400
    )  # weighted by each kernel's time
    assert two.tensor_pct == pytest.approx(300 * 60 / 400) and two.kernels_per_call == 2
    assert ncu.split_by_range([r for r in rows] + [type(rows[0])(99, "sm90_xmma_gemm")]) is None


def test_rows_without_ranges_split_in_order():
    rows = parse((DATA / "raw-page.csv").read_text())[3:]  # one record's six kernels, three calls
    split, note = ncu.split_in_order(rows, 3)
    assert note is None and [len(v) for v in split.values()] == [2, 2, 2]
    odd, note = ncu.split_in_order(rows[:5], 3)
    assert note and list(odd) == [0]
    prof = ncu.profile_of(odd, 3, note)
    assert (
        prof.time_s == pytest.approx((300 + 100 + 310 + 100 + 290) * 1e-6 / 3)
        and prof.kernels_per_call is None
    )
    assert not ncu.profile_of({}, 3).available


def test_the_records_chosen():
    run = realdata.h200()
    largest = ncu.choose(run, ["vector_add", "softmax", "gemm"], largest=True)
    groups = {(r.workload, r.variant, r.dtype, r.mode) for r in largest}
    assert len(groups) == len(largest)  # one record per group
    for rec in largest:
        same = [
            r
            for r in run.ok_records()
            if (r.workload, r.variant, r.dtype, r.mode) == (rec.workload, rec.variant, rec.dtype, rec.mode)
        ]
        assert rec.median == max(r.median for r in same)
    assert (
        all(r.median >= 1e-3 for r in ncu.choose(run, min_median_s=1e-3))
        and len(ncu.choose(run, limit=5)) == 5
    )
    assert ncu.choose(run, ["vector_add"], ["torch"]) and all(
        r.variant == "torch" for r in ncu.choose(run, variants=["torch"])
    )


def test_the_command_line():
    cmd = ncu.command("ncu", ncu.CORE_METRICS, Path("/tmp/log.csv"), ["python", "-m", "t"], ["--set", "full"])
    assert cmd[:3] == ["ncu", "--csv", "--page"] and cmd[-3:] == ["python", "-m", "t"]
    joined = " ".join(cmd)
    assert (
        "--clock-control none" in joined
        and "--cache-control none" in joined
        and "--profile-from-start off" in joined
    )
    assert "--print-nvtx-rename kernel" in joined and cmd.index("--set") > cmd.index(
        "--metrics"
    )  # the user's last
    assert "--print-nvtx-rename" not in ncu.command("ncu", ncu.CORE_METRICS, Path("l"), ["t"], rename=False)


# ---- the command ------------------------------------------------------------------------------------


def _fake_ncu(tmp_path) -> str:
    path = tmp_path / "ncu"
    path.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _profiled(tmp_path, monkeypatch, mode):
    monkeypatch.setenv("FAKE_NCU_MODE", mode)
    run = realdata.h200()
    recs = ncu.choose(run, ["vector_add"], ["triton", "torch"], largest=True)
    out = tmp_path / "profiled.json"
    code = ncu_cli.profile_into(run, recs, _fake_ncu(tmp_path), 3, [], out, 60, echo=lambda line: None)
    return code, recs, results.read(out), out


def test_profiles_are_stored_with_their_records(tmp_path, monkeypatch):
    code, recs, back, out = _profiled(tmp_path, monkeypatch, "ok")
    assert code == 0 and len(recs) == 4
    for i, rec in enumerate(recs):
        prof = back.index()[rec.key].ncu
        assert prof.available and prof.time_s == pytest.approx(100e-6 * (i + 1)) and prof.calls == 3
        assert (
            prof.dram_bytes == 3e6 and prof.ncu_version == "2026.1.0.0" and "--clock-control" in prof.command
        )
        assert prof.tensor_pct == 50.0  # the one tensor metric the stand-in's --query-metrics listed
    assert sum(r.ncu is not None for r in back.records) == 4
    assert (tmp_path / "profiled-ncu-all.csv").is_file()  # ncu's own CSV kept beside the results
    assert report_cli.main([str(out), "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert "Nsight Compute 2026.1.0.0" in page and "event / ncu" in page


def test_without_renamed_kernels_each_record_gets_its_own_process(tmp_path, monkeypatch):
    code, recs, back, _ = _profiled(tmp_path, monkeypatch, "norename")
    assert code == 0 and all(back.index()[r.key].ncu.available for r in recs)
    assert len(list(tmp_path.glob("profiled-ncu-r*.csv"))) == len(recs)


def test_a_metric_ncu_left_empty_is_named_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_NCU_MODE", "na_write")
    run = realdata.h200()
    recs = ncu.choose(run, ["vector_add"], ["triton"], largest=True)
    lines = []
    out = tmp_path / "p.json"
    code = ncu_cli.profile_into(run, recs, _fake_ncu(tmp_path), 3, [], out, 60, echo=lines.append)
    said = [line for line in lines if "no number for" in line]
    assert code == 0 and len(said) == 1 and f"dram__bytes_write.sum in {len(recs)} of {len(recs)}" in said[0]
    back = results.read(out).index()[recs[0].key].ncu
    assert back.available and back.dram_write_bytes is None and back.dram_read_bytes == 1e6


def test_unreadable_counters_and_skipped_records_say_so(tmp_path, monkeypatch):
    code, recs, back, _ = _profiled(tmp_path, monkeypatch, "denied")
    assert code == 1 and all("ERR_NVGPUCTRPERM" in back.index()[r.key].ncu.reason for r in recs)
    code, recs, back, _ = _profiled(tmp_path, monkeypatch, "skip1")
    profs = [back.index()[r.key].ncu for r in recs]
    assert code == 1 and [p.available for p in profs] == [True, False, True, True]
    assert "skipped this record: no GPU of its kind" in profs[1].reason


def test_the_command_checks_its_arguments(tmp_path, capsys):
    from gpubench.cli import main

    ref = str(realdata.H200_RESULTS)
    assert main(["ncu", ref, "--largest", "--workload", "vector_add", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "vector_add/torch[n=67108864|fp32|cold]" in out and "--clock-control none" in out
    for bad, words in (
        ([str(tmp_path / "nope.json")], "no such file"), ([ref, "--calls", "0"], "--calls: 0 calls is out"),
        ([ref, "--workload", "nothing"], "no ok record matches"),
        ([ref, "--ncu-args", "'open"], "--ncu-args"),
        ([ref, "--min-time", "nan"], "'nan' is not a finite number (us)"),
        ([ref, "--timeout", "inf"], "'inf' is not a finite number (s)"),
        ([ref, "--calls", "21"], "at most 20"),
        ([ref, "--limit", "0"], "--limit: 0 records is out of range"),
    ):  # fmt: skip
        assert main(["ncu", *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("gpubench ncu: error:") and words in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the behaviour without a GPU")
def test_without_a_gpu_nothing_is_profiled(tmp_path, capsys):
    from gpubench.cli import main

    assert main(["ncu", str(realdata.H200_RESULTS), "--largest", "--out", str(tmp_path / "o.json")]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err and not (tmp_path / "o.json").exists()


def test_a_raw_page_without_its_units_row_reads_durations_as_nanoseconds():
    lines = (DATA / "raw-page.csv").read_text().splitlines()
    no_units = "\n".join(line for line in lines if not line.startswith('"",'))
    rows = parse(no_units)
    assert len(rows) == 9 and rows[0].metrics[ncu.TIME] == pytest.approx(200e-6)
    assert rows[0].metrics[ncu.DRAM_READ] == 536_870_912
