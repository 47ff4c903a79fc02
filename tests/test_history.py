"""The results history (reports.history, `gpubench history`) and the gate against it
(`gpubench gate --baseline-history N`), on the H100 and H200 runs measured on real GPUs and committed:
adding is idempotent, runs read back exactly, queries and trend plots per GPU model, the A/A candidate
passes and the slow config fails against the history, and one odd baseline cannot decide."""

import copy
import dataclasses
import sqlite3

import pytest

from gpubench import results
from gpubench.cli import main
from gpubench.reports.gate import gate
from gpubench.reports.gate_history import gate_history
from gpubench.reports.gate_report import SAME, SLOWER
from gpubench.reports.history import History, HistoryError, run_id
from gpubench.roofline.placement import place_run
from tests.support import realdata

BASELINES = [
    realdata.CALIBRATION / "run0-first-quick.json",
    realdata.CALIBRATION / "run1-quick.json",
    realdata.H100_RESULTS,
]
FAST = dict(resamples=500)  # the verdicts of these files do not hinge on the bootstrap's resolution


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("history") / "h.sqlite"
    with History(path) as h:
        for p in [*BASELINES, realdata.H200_RESULTS]:
            assert h.add(results.read(p))[0]
    return path


def _count(path, table):
    con = sqlite3.connect(path)
    try:
        return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_adding_the_same_run_twice_changes_nothing(tmp_path):
    path = tmp_path / "h.sqlite"
    run = results.read(realdata.CALIBRATION / "run2-aa.json")
    with History(path) as h:
        assert h.add(run) == (True, f"{len(run.records)} records")
        assert h.add(results.read(realdata.CALIBRATION / "run2-aa.json")) == (False, "already in the history")
        copy_path = results.write(run, tmp_path / "copy.json")  # the same run from another file
        assert h.add(results.read(copy_path))[0] is False
        rewritten = copy.deepcopy(run)  # the same measurement, rewritten (another annotation): its records
        rewritten.run.notes.append("re-placed")
        assert run_id(rewritten) != run_id(run)
        added, what = h.add(rewritten)
        assert not added and "already in the history" in what
    assert _count(path, "runs") == 1 and _count(path, "records") == len(run.records)


def test_a_run_reads_back_as_it_was_added(db):
    run = results.read(realdata.H100_RESULTS)
    with History(db, create=False) as h:
        back = h.run(run_id(run))
    assert results.dumps(back) == results.dumps(run)


def test_runs_and_records_are_per_gpu_model_oldest_first(db):
    with History(db, create=False) as h:
        assert h.models() == [realdata.H100, realdata.H200]
        rows = h.runs(realdata.H100)
        assert [r.created for r in rows] == sorted(r.created for r in rows) and len(rows) == 3
        assert [r.created for r in h.runs(realdata.H100, last=2)] == [r.created for r in rows[1:]]
        assert {r.commit[:7] for r in rows} == {"cb3df83", "4d0a612", "77dd11f"}
        frame = h.records("vector_add", ["triton"], realdata.H100)
        assert set(frame["variant"]) == {"triton"} and set(frame["gpu_model"]) == {realdata.H100}
        assert len(frame) == 3 * frame["shape"].str.cat(frame["dtype"]).nunique()
        ref = realdata.record(realdata.h100(), "vector_add", "triton", "fp32", n=67108864)
        row = frame[
            (frame["created"] == realdata.h100().created)
            & (frame["dtype"] == "fp32")
            & (frame["shape"] == '{"n":67108864}')
        ]
        assert row["median_s"].item() == pytest.approx(ref.median) and row["n"].item() == ref.timing.n


def test_a_file_that_is_not_a_history_or_of_another_version_is_refused(tmp_path):
    bad = tmp_path / "x.sqlite"
    bad.write_text("not a database at all, just text" * 20)
    with pytest.raises(HistoryError, match="not a gpubench history"):
        History(bad)
    path = tmp_path / "v.sqlite"
    History(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(HistoryError, match="schema version 99"):
        History(path)
    with pytest.raises(HistoryError, match="no such history"):
        History(tmp_path / "none.sqlite", create=False)


def _damaged(db, tmp_path, start: float):
    """A copy of `db` with every 97th byte from `start` (a fraction of the file) on overwritten: its
    header intact, so the damage shows only when a query reaches the pages it hit."""
    data = bytearray(db.read_bytes())
    for i in range(int(len(data) * start), len(data), 97):
        data[i] = (data[i] * 31 + 7) % 256
    path = tmp_path / f"damaged-{start}.sqlite"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("start", [0.01, 0.5])
@pytest.mark.parametrize(
    "argv",
    [
        ["history", "show", "--db", "{bad}", "--workload", "gemm"],
        ["history", "add", str(realdata.CALIBRATION / "run2-aa.json"), "--db", "{bad}"],
        ["gate", "--baseline-history", "2", "--history", "{bad}", str(realdata.CALIBRATION / "run2-aa.json")],
        ["report", str(realdata.H100_RESULTS), "--history", "{bad}", "--out", "{tmp}/rep"],
    ],
)
def test_a_damaged_history_is_exit_2_naming_the_file_and_the_way_out(db, tmp_path, capsys, start, argv):
    bad = _damaged(db, tmp_path, start)
    code, _, err = _cli(capsys, *[a.format(bad=bad, tmp=tmp_path) for a in argv])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert str(bad) in err and "restore it from a backup" in err


def test_a_read_never_writes_and_a_foreign_sqlite_file_is_refused(tmp_path, capsys):
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    code, _, err = _cli(capsys, "history", "show", "--db", empty, "--workload", "gemm")
    assert code == 2 and "holds no history" in err and empty.stat().st_size == 0
    foreign = tmp_path / "other.sqlite"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE notes (text TEXT)")
    con.commit()
    con.close()
    before = foreign.read_bytes()
    for argv in (
        ["show", "--db", foreign, "--workload", "gemm"],
        ["add", realdata.H100_RESULTS, "--db", foreign],
    ):
        code, _, err = _cli(capsys, "history", *argv)
        assert code == 2 and "an SQLite file of another program (tables notes)" in err, err
    assert foreign.read_bytes() == before


# ----------------------------------------------------------------------------------------- the gate


def _gate(db, candidate, last=3, **kw):
    with History(db, create=False) as h:
        return gate_history(h, place_run(candidate), last, **{**FAST, **kw})


def test_the_aa_candidate_passes_against_the_history(db):
    report = _gate(db, realdata.calibration("run2-aa"))
    assert report.exit_code == 0 and report.counts[SLOWER] == 0
    assert report.counts[SAME] == len(report.records) == 70
    assert all(r.note.startswith("history: ") for r in report.records)
    # against one of the three runs (another card, another day) six records come out FASTER: outvoted
    assert sum("FASTER 1, SAME 2 of 3 runs" in r.note for r in report.records) == 6
    assert report.baseline.gpu == realdata.H100 and "last 3 runs" in report.baseline.path


def test_the_slow_config_fails_against_the_history(db):
    report = _gate(db, realdata.calibration("run3-slow-config"))
    slower = {r.key.variant for r in report.by_verdict(SLOWER)}
    assert report.exit_code == 1 and len(report.by_verdict(SLOWER)) == 12
    assert slower == {"triton", "cuda_vec", "cuda_simple"}  # the suite's own kernels; torch's stays SAME
    assert {r.key.variant for r in report.by_verdict(SAME)} == {"torch"}


def test_an_injected_slowdown_is_caught_against_the_history(db):
    candidate = realdata.calibration("run2-aa")
    slowed = [r for r in candidate.records if r.median >= 100e-6][::5]
    for rec in slowed:
        realdata.scaled(rec, 1.10)
    report = _gate(db, candidate)
    assert {r.label for r in report.by_verdict(SLOWER)} == {r.label for r in slowed}


def test_one_odd_baseline_cannot_decide(tmp_path):
    """A baseline run whose record came out 20 % fast makes the candidate SLOWER against it alone; against
    the history's three runs it is SAME (two of three say so)."""
    odd = realdata.calibration("run1-quick")
    odd.created = "2026-11-22T14:59:00+00:00"  # another run, just before the candidate
    rec = realdata.record(odd, "softmax", "triton", "fp32", rows=32768)
    realdata.scaled(rec, 0.8)
    path = tmp_path / "h.sqlite"
    with History(path) as h:
        for p in BASELINES[1:]:
            h.add(results.read(p))
        h.add(odd)
    candidate = realdata.calibration("run2-aa")
    alone = gate(place_run(odd), place_run(candidate), **FAST)
    assert next(r for r in alone.records if r.key == rec.key).verdict == SLOWER
    report = _gate(path, candidate)
    mine = next(r for r in report.records if r.key == rec.key)
    assert mine.verdict == SAME and "SLOWER 1" in mine.note and "SAME 2 of 3 runs" in mine.note
    assert report.exit_code == 0


def test_a_kernel_that_broke_against_the_history_is_a_regression(db):
    candidate = realdata.calibration("run2-aa")
    rec = candidate.records[0]
    rec.status, rec.timing, rec.reason = "failed", None, "incorrect: max abs err 3.2"
    report = _gate(db, candidate)
    assert report.exit_code == 1 and [b["label"] for b in report.broken] == [rec.label]


def test_the_candidate_is_never_its_own_baseline(tmp_path):
    path = tmp_path / "h.sqlite"
    candidate = realdata.calibration("run2-aa")
    with History(path) as h:
        h.add(candidate)
    with pytest.raises(Exception, match="holds no other run of NVIDIA H100"):
        _gate(path, candidate)


# ----------------------------------------------------------------------------------------- the CLI


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_history_add_and_show_with_a_trend_plot_per_gpu_model(tmp_path, capsys):
    path = tmp_path / "h.sqlite"
    code, out, _ = _cli(capsys, "history", "add", *BASELINES, realdata.H200_RESULTS, "--db", path)
    assert code == 0 and out.count("added:") == 4
    code, out, _ = _cli(capsys, "history", "add", BASELINES[0], "--db", path)
    assert code == 0 and "unchanged" in out and "already in the history" in out
    code, out, _ = _cli(
        capsys,
        "history",
        "show",
        "--db",
        path,
        "--workload",
        "vector_add",
        "--variant",
        "triton",
        "--plot",
        tmp_path / "plots",
    )
    assert code == 0
    assert f"== {realdata.H100}: vector_add, 12 records in 3 run(s)" in out
    assert f"== {realdata.H200}: vector_add, 4 records in 1 run(s)" in out
    pngs = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert pngs == ["history-vector-add-nvidia-h100-80gb-hbm3.png", "history-vector-add-nvidia-h200.png"]
    assert (tmp_path / "plots" / pngs[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = _cli(capsys, "history", "show", "--db", path, "--workload", "gemm", "--gpu", realdata.H200)
    assert code == 0 and f"== {realdata.H200}: gemm" in out and realdata.H100 not in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["add", "{tmp}/missing.json"], "missing.json: no such file"),
        (["add", "{partial}"], "not complete (use --allow-partial"),
        (["add", "{synthetic}"], "synthetic"),
        (["add", "{h100}", "{tmp}/missing.json"], "missing.json"),
        (["show", "--db", "{tmp}/none.sqlite", "--workload", "gemm"], "no such history"),
        (["show", "--db", "{db}", "--workload", "nope"], "no workload 'nope'"),
        (["show", "--db", "{db}", "--workload", "gemm", "--variant", "nope"], "gemm has no variant nope"),
        (["show", "--db", "{db}", "--workload", "gemm", "--gpu", "TPU"], "no GPU model 'TPU'"),
    ],
)
def test_bad_history_input_exits_2_naming_the_problem(argv, message, tmp_path, capsys, db):
    partial = realdata.h100()
    partial.status = "interrupted"
    synthetic = dataclasses.replace(realdata.h100(), synthetic=True)
    names = {
        "tmp": tmp_path,
        "db": db,
        "h100": realdata.H100_RESULTS,
        "partial": results.write(partial, tmp_path / "partial.json"),
        "synthetic": results.write(synthetic, tmp_path / "synthetic.json"),
    }
    fresh = tmp_path / "fresh.sqlite"
    argv = [a.format(**names) for a in argv] + (["--db", fresh] if argv[0] == "add" else [])
    code, _, err = _cli(capsys, "history", *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    if argv[0] == "add":  # every file is checked before the history changes
        assert not fresh.exists() or _count(fresh, "runs") == 0


def test_gate_baseline_history_on_the_command_line(db, capsys):
    code, out, _ = _cli(
        capsys,
        "gate",
        "--baseline-history",
        "3",
        "--history",
        db,
        realdata.CALIBRATION / "run3-slow-config.json",
        "--markdown",
        "--resamples",
        "500",
    )
    assert code == 1 and "12 of 16 records SLOWER" in out and "history: SLOWER 3 of 3 runs" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--baseline-history", "3", "--history", "{db}", "{h100}", "{aa}"], "give the CANDIDATE alone"),
        (["--baseline-history", "3", "--history", "{tmp}/none.sqlite", "{aa}"], "no such history"),
        (["--baseline-history", "0", "--history", "{db}", "{aa}"], "at least 1 run"),
        (["--history", "{db}", "{h100}", "{aa}"], "--history only applies with --baseline-history"),
        (["{aa}"], "give BASELINE and CANDIDATE"),
        (["--baseline-history", "2", "--history", "{db}", "--cross-hardware", "{aa}"], "--cross-hardware"),
        (["--baseline-history", "2", "--history", "{only_h100}", "{h200}"], "no other run of NVIDIA H200"),
    ],
)
def test_bad_history_gates_exit_2_naming_the_problem(argv, message, tmp_path, capsys, db):
    only_h100 = tmp_path / "h100.sqlite"
    with History(only_h100) as h:
        h.add(results.read(realdata.H100_RESULTS))
    names = {
        "db": db,
        "tmp": tmp_path,
        "h100": realdata.H100_RESULTS,
        "h200": realdata.H200_RESULTS,
        "aa": realdata.CALIBRATION / "run2-aa.json",
        "only_h100": only_h100,
    }
    code, _, err = _cli(capsys, "gate", *[a.format(**names) for a in argv])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_the_report_has_a_history_section(db, tmp_path, capsys):
    code, _, _ = _cli(capsys, "report", realdata.H100_RESULTS, "--history", db, "--out", tmp_path / "rep")
    page = (tmp_path / "rep" / "index.html").read_text()
    assert code == 0 and '<section id="history">' in page and 'href="#history"' in page
    with History(db, create=False) as h:
        pairs = {(m, w) for w in h.workloads() for m in h.records(w).query("status == 'ok'")["gpu_model"]}
    assert page.count('alt="history: ') == len(pairs) > len({w for _, w in pairs})  # a plot per model
    assert (tmp_path / "rep" / "img" / "history-vector-add-nvidia-h200.png").is_file()
    code, _, err = _cli(
        capsys,
        "report",
        realdata.H100_RESULTS,
        "--history",
        tmp_path / "x.sqlite",
        "--out",
        tmp_path / "rep2",
    )
    assert code == 2 and "no such history" in err
