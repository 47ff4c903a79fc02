"""`gpubench merge`: one run from several, lossless (every record keeps its GPU, samples and telemetry;
each source's commit and software are kept), refusing mixed GPU models, mixed commits and duplicate
records unless asked. On the runs measured on real GPUs and committed."""

import dataclasses
import json

import pytest

from gpubench import results
from gpubench.cli import main
from gpubench.reports.merge import MergeError, merge, split_by_gpu
from tests.support import realdata


def _two_gpu_run():
    """The committed H100 run as if measured on two cards: every other record on a second H100."""
    run = realdata.h100()
    other = dataclasses.replace(run.device, uuid="GPU-00000000-second-card", index=1)
    run.gpus = [run.device, other]
    for n, rec in enumerate(run.records):
        rec.gpu_uuid = other.uuid if n % 2 else run.device.uuid
    return run


def _records_json(run):
    return sorted(json.dumps(r.to_json(), sort_keys=True) for r in run.records)


def test_per_gpu_files_merge_back_losslessly(tmp_path):
    run = _two_gpu_run()
    parts = split_by_gpu(run)
    assert [p.device.uuid for p in parts] == [d.uuid for d in run.gpus] and all(not p.gpus for p in parts)
    paths = [results.write(p, tmp_path / f"gpu{n}.json") for n, p in enumerate(parts)]
    merged = merge([results.read(p) for p in paths])
    assert _records_json(merged) == _records_json(run)  # samples, telemetry, flags, GPU: all as measured
    assert [d.to_json() for d in merged.gpus] == [d.to_json() for d in run.gpus]
    assert {r.label: merged.device_of(r).uuid for r in merged.records} == {
        r.label: run.device_of(r).uuid for r in run.records
    }
    assert merged.status == "complete" and merged.created == run.created
    assert merged.software == run.software and merged.run.items == len(run.records)
    sources = merged.run.extra["merged_from"]
    assert [s["path"] for s in sources] == [str(p) for p in paths]
    assert {s["commit"] for s in sources} == {run.software.suite_commit}
    assert sum(len(s["records"]) for s in sources) == len(run.records)
    again = results.read(results.write(merged, tmp_path / "merged.json"))  # the merged file reads back
    assert _records_json(again) == _records_json(run) and len(again.gpus) == 2


def test_a_merged_run_merges_again_without_nesting(tmp_path):
    a, b = split_by_gpu(_two_gpu_run())
    merged = merge([merge([a]), b])
    assert len(merged.run.extra["merged_from"]) == 2 and len(merged.records) == len(a.records) + len(
        b.records
    )


def test_mixed_gpu_models_are_refused_unless_asked():
    h100, h200 = realdata.h100(), realdata.h200()
    with pytest.raises(MergeError, match="different GPU models.*--allow-mixed-gpus"):
        merge([h100, h200])
    with pytest.raises(MergeError, match="in both .*H100.*H200.*--duplicates"):  # same plan: same keys
        merge([h100, h200], allow_mixed_gpus=True, allow_mixed_commits=True)
    h200.records = [r for r in h200.records if r.workload == "gemm"]
    h100.records = [r for r in h100.records if r.workload != "gemm"]
    mixed = merge([h100, h200], allow_mixed_gpus=True, allow_mixed_commits=True)
    assert {mixed.device_of(r).model for r in mixed.records} == {realdata.H100, realdata.H200}
    assert all(mixed.device_of(r).model == realdata.H200 for r in mixed.records if r.workload == "gemm")
    assert mixed.software.suite_commit is None  # two commits: merged_from says which record is whose
    assert {s["commit"] for s in mixed.run.extra["merged_from"]} == {
        realdata.h100().software.suite_commit,
        realdata.h200().software.suite_commit,
    }


def test_duplicates_are_refused_or_resolved_by_the_rule_asked_for():
    a, b = realdata.calibration("run1-quick"), realdata.calibration("run2-aa")
    with pytest.raises(MergeError, match=r"vector_add.* is in both .*run1-quick.json and .*run2-aa.json"):
        merge([a, b])
    first = merge([a, b], duplicates="first")
    last = merge([a, b], duplicates="last")
    key = next(r.key for r in b.records)
    assert first.index()[key].timing == a.index()[key].timing
    assert last.index()[key].timing == b.index()[key].timing
    assert len(first.records) == len(a.records)  # run2-aa's records are a subset of run1-quick's
    assert any("dropped (duplicate of" in n for n in first.run.notes)
    with pytest.raises(MergeError, match="duplicates must be one of"):
        merge([a], duplicates="newest")


def test_records_without_a_gpu_get_their_files_device_and_partial_inputs_give_a_partial_run():
    a, b = split_by_gpu(_two_gpu_run())
    for rec in b.records:
        rec.gpu_uuid = None
    b.status = "interrupted"
    merged = merge([a, b])
    assert {r.gpu_uuid for r in merged.records} == {a.device.uuid, b.device.uuid}
    assert merged.status == "partial"


def test_mixed_commits_are_refused_unless_asked():
    a, b = realdata.calibration("run1-quick"), realdata.h100()
    with pytest.raises(MergeError, match="different commits.*--allow-mixed-commits"):
        merge([a, b], duplicates="first")


# ----------------------------------------------------------------------------------------- the CLI


def _gpubench(capsys, *argv):
    code = main(["merge", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_merge_cli_writes_one_run(tmp_path, capsys):
    parts = split_by_gpu(_two_gpu_run())
    paths = [results.write(p, tmp_path / "in" / f"gpu{n}.json") for n, p in enumerate(parts)]
    code, out, _ = _gpubench(capsys, *paths, "--out", tmp_path / "all.json")
    assert code == 0 and "records from 2 file(s)" in out
    assert len(results.read(tmp_path / "all.json").gpus) == 2
    code, _, _ = _gpubench(capsys, tmp_path / "in", "--out", tmp_path / "dir.json")  # a folder of them
    assert code == 0 and len(results.read(tmp_path / "dir.json").records) == sum(
        len(p.records) for p in parts
    )


def test_a_file_without_records_is_refused_when_named_and_left_out_when_found(tmp_path, capsys):
    empty = realdata.h100()
    empty.records = []
    results.write(empty, tmp_path / "in" / "empty.json")
    code, _, err = _gpubench(capsys, tmp_path / "in" / "empty.json", "--out", tmp_path / "o.json")
    assert code == 2 and "empty.json: holds no records: nothing to merge" in err
    results.write(realdata.h100(), tmp_path / "in" / "full.json")
    code, _, err = _gpubench(capsys, tmp_path / "in", "--out", tmp_path / "o.json")
    assert code == 0 and "note: skipped" in err and "empty.json: holds no records" in err
    assert len(results.read(tmp_path / "o.json").records) == len(realdata.h100().records)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["{h100}"], "--out FILE is required"),
        (["{tmp}/missing.json", "--out", "{tmp}/o.json"], "missing.json: no such file"),
        (["{h100}", "--out", "{tmp}"], "is a directory"),
        (["{h100}", "{h200}", "--out", "{tmp}/o.json"], "--allow-mixed-gpus"),
        (["{h100}", "{h100}", "--out", "{tmp}/o.json"], "is in both"),
        (["{tmp}/empty", "--out", "{tmp}/o.json"], "a folder with no results files"),
        (["{ceilings}", "--out", "{tmp}/o.json"], "not a gpubench results file"),
    ],
)
def test_bad_merges_exit_2_naming_the_problem(argv, message, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    names = {
        "h100": realdata.H100_RESULTS,
        "h200": realdata.H200_RESULTS,
        "tmp": tmp_path,
        "ceilings": realdata.H100_CEILINGS,
    }
    code, _, err = _gpubench(capsys, *[a.format(**names) for a in argv])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.json").exists()
