"""gpubench.results: the typed results format. Reading validates (every error names the file and the
record), derived figures come from the samples, version 1 files still read, writing is atomic and
lossless, and `to_frame` gives the long-format DataFrame. Real runs, broken on purpose where needed."""

import dataclasses
import json
import math
import os

import pytest

from gpubench import results
from gpubench.results import Record, RecordKey, Timing
from tests.support import realdata


def _doc(path=realdata.H100_RESULTS) -> dict:
    return json.loads(path.read_text())


def _write(tmp_path, doc, name="r.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def _first_ok(doc: dict) -> dict:
    return next(r for r in doc["records"] if r["status"] == "ok")


def test_committed_runs_read_as_typed_records():
    run = realdata.h100()
    assert run.schema_version == results.SCHEMA_VERSION and run.status == "complete"
    assert run.gpu == realdata.H100 and run.device.sm_count == 132 and run.device.l2_bytes == 50 << 20
    rec = realdata.record(run, "vector_add", "triton", n=1 << 26)
    assert rec.key == RecordKey("vector_add", "triton", (("n", 1 << 26),), "fp32", "cold")
    assert rec.key.label == "vector_add/triton[n=67108864|fp32|cold]"
    assert rec.timing.n == len(rec.timing.samples) > 10
    assert rec.achieved_gbs == pytest.approx(rec.bytes / rec.median / 1e9)
    assert rec.telemetry.available and rec.telemetry.sm_clock_mhz.max == 1980
    assert rec.gpu_uuid == run.device.uuid and rec.correctness.passed is True


def test_the_median_is_the_samples_median_and_a_disagreeing_file_is_refused(tmp_path):
    doc = _doc()
    rec = _first_ok(doc)
    xs = sorted(rec["timing"]["samples"])
    assert results.read(realdata.H100_RESULTS).records[0].median == rec["timing"]["median"]
    rec["timing"]["median"] = xs[0]  # a file whose samples and median disagree gets no answer at all
    with pytest.raises(
        results.ResultsError, match=r"record 0 \(vector_add/triton.*stored median .* disagrees"
    ):
        results.read(_write(tmp_path, doc))


@pytest.mark.parametrize(
    "sample, what",
    [
        (None, "expected a number, got null"),
        (float("nan"), "not a positive finite"),
        (-1e-3, "not a positive finite"),
        (0.0, "not a positive finite"),
        ("1e-3", "expected a number"),
        (True, "expected a number"),
    ],
)
def test_samples_must_be_positive_finite_times(tmp_path, sample, what):
    doc = _doc()
    rec = _first_ok(doc)
    rec["timing"]["samples"][3] = sample
    rec["timing"].pop("median")
    text = json.dumps(doc)  # json writes nan as NaN, which Python reads back as nan
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(results.ResultsError) as exc:
        results.read(path)
    msg = str(exc.value)
    assert str(path) in msg and "record 0 (vector_add/triton" in msg and "samples[3]" in msg and what in msg


@pytest.mark.parametrize(
    "field, value, what",
    [
        ("status", "maybe", "'maybe' is not one of ok, failed, skipped"),
        ("mode", "lukewarm", "lukewarm"),
        ("flops", -5, "flops"),
        ("bytes", "many", "expected a whole number"),
        ("shape", {"n": 2.5}, "shape.n"),
        ("flags", "throttled", "expected a list"),
        ("dtype", "fp128", "dtype: 'fp128' is not one of fp64, fp32"),
        ("compute_dtype", "float8", "compute_dtype: 'float8' is not one of"),
    ],
)
def test_record_fields_are_checked(tmp_path, field, value, what):
    doc = _doc()
    _first_ok(doc)[field] = value
    with pytest.raises(results.ResultsError, match="record 0") as exc:
        results.read(_write(tmp_path, doc))
    assert what in str(exc.value)


def test_an_ok_record_without_samples_is_refused(tmp_path):
    doc = _doc()
    _first_ok(doc)["timing"] = None
    with pytest.raises(results.ResultsError, match="an ok record needs its samples"):
        results.read(_write(tmp_path, doc))


def test_duplicate_records_are_refused_or_left_out(tmp_path):
    doc = _doc()
    doc["records"].append(json.loads(json.dumps(doc["records"][5])))
    path = _write(tmp_path, doc)
    with pytest.raises(results.ResultsError, match=r"record 186 \(.*\) duplicates record 5"):
        results.read(path)
    lenient = results.read(path, strict=False)
    assert len(lenient.records) == 186 and "duplicates record 5" in lenient.problems[0]


def test_lenient_reading_names_and_leaves_out_a_malformed_record(tmp_path):
    doc = _doc()
    doc["records"][2]["timing"]["samples"][0] = "fast"
    run = results.read(_write(tmp_path, doc), strict=False)
    assert len(run.records) == len(doc["records"]) - 1
    assert len(run.problems) == 1 and "record 2" in run.problems[0] and "left out" in run.problems[0]


@pytest.mark.parametrize(
    "change, what",
    [
        (lambda d: d.update(status="done"), "'done' is not one of complete"),
        (lambda d: d.update(schema_version=99), "schema version 99"),
        (lambda d: d.update(schema="something.else"), "not a gpubench results file"),
        (lambda d: d.update(records={}), "'records' must be a list"),
        (lambda d: d.update(device=[]), "device: expected an object"),
        (lambda d: d.update(device={}), "device.name: missing or empty: the file does not say which GPU"),
        (lambda d: d["device"].update(name=" "), "device.name: missing or empty"),
        (lambda d: d.update(gpus=[d["device"], {"uuid": "GPU-x"}]), r"gpus\[1\].name: missing"),
    ],
)
def test_file_level_problems(tmp_path, change, what):
    doc = _doc()
    change(doc)
    path = _write(tmp_path, doc)
    for strict in (True, False):
        with pytest.raises(results.ResultsError, match=what) as exc:
            results.read(path, strict=strict)
        assert str(path) in str(exc.value)


def test_missing_truncated_and_foreign_files(tmp_path):
    with pytest.raises(results.ResultsError, match="no such file"):
        results.read(tmp_path / "nope.json")
    with pytest.raises(results.ResultsError, match="is a directory"):
        results.read(tmp_path)
    text = realdata.H100_RESULTS.read_text()
    (tmp_path / "t.json").write_text(text[: len(text) // 2])
    with pytest.raises(results.ResultsError, match="truncated"):
        results.read(tmp_path / "t.json")
    (tmp_path / "b.json").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(results.ResultsError, match="not a text file"):
        results.read(tmp_path / "b.json")


def test_version_1_files_read_and_upgrade_losslessly():
    raw = json.loads(realdata.V1_SUBSET.read_text())
    assert raw["schema_version"] == 1
    run = results.read(realdata.V1_SUBSET)
    assert run.schema_version == 2 and len(run.records) == len(raw["records"])
    back = json.loads(results.dumps(run))
    for old, new in zip(raw["records"], back["records"]):
        assert new["gpu_uuid"] == raw["device"]["uuid"]
        if old["timing"]:
            assert new["timing"]["samples"] == old["timing"]["samples"]
            assert {k: new["timing"][k] for k in old["timing"]} == old["timing"]
        assert (
            new["telemetry"] == old["telemetry"]
            or {k: new["telemetry"][k] for k in old["telemetry"]} == old["telemetry"]
        )
        assert (new["flops"], new["bytes"], new["extra"] or None) == (
            old["flops"],
            old["bytes"],
            old.get("extra"),
        )
    assert run.ceilings is not None and run.ceilings.device_uuid is None  # version 1 did not record it
    assert run.ceilings.ceilings.dram_gbs == raw["ceilings"]["dram_gbs"]


def test_write_read_round_trip_is_exact(tmp_path):
    run = realdata.h200()
    back = results.read(results.write(run, tmp_path / "r.json"))
    assert back == run  # dataclass equality: every field of every record
    assert results.dumps(back) == results.dumps(run)


def test_nan_in_a_derived_figure_is_written_as_null(tmp_path):
    run = realdata.h100()
    rec = run.records[0]
    rec.timing = dataclasses.replace(rec.timing, samples=rec.timing.samples[:1])  # stdev undefined: cv 0
    rec.stored_roofline = {"x": float("nan")}
    text = results.dumps(run)
    assert "NaN" not in text and json.loads(text)["records"][0]["roofline"] == {"x": None}


def test_write_is_atomic_and_keeps_the_file_readable(tmp_path, monkeypatch):
    path = results.write(realdata.h100(), tmp_path / "r.json")
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    before = path.read_text()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        results.write(realdata.h200(), path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary left behind


def test_run_add_refuses_a_second_record_of_the_same_key():
    run = realdata.h100()
    with pytest.raises(ValueError, match="already in this run"):
        run.add(dataclasses.replace(run.records[0]))


def test_timing_checks_its_samples_and_stop_reason():
    with pytest.raises(ValueError, match="no samples"):
        Timing(samples=(), method="events", stop_reason="converged")
    with pytest.raises(ValueError, match="stop_reason"):
        Timing(samples=(1e-3,), method="events", stop_reason="bored")
    t = Timing(samples=(3e-3, 1e-3, 2e-3), method="events", stop_reason="converged")
    assert (t.median, t.min, t.max, t.n) == (2e-3, 1e-3, 3e-3, 3)


def test_record_of_a_skip_needs_no_timing():
    rec = Record("w", "v", "torch", {"n": 1}, "fp32", "cold", status="skipped", reason="no GPU")
    assert not rec.ok and rec.median is None and rec.achieved_gbs is None


def test_to_frame_is_long_format_with_shape_axes_as_columns():
    run = realdata.h100()
    df = run.to_frame()
    assert len(df) == len(run.records)
    for axis in ("n", "radius", "M", "N", "K", "rows", "cols"):
        assert axis in df.columns
    row = df[(df.workload == "vector_add") & (df.variant == "triton") & (df.n == 1 << 26)].iloc[0]
    rec = realdata.record(run, "vector_add", "triton", n=1 << 26)
    assert row.median_s == rec.median and row.gbs == pytest.approx(rec.achieved_gbs)
    assert math.isnan(row.M) and row.gpu == realdata.H100
    samples = run.to_frame(samples=True)
    assert len(samples) == sum(r.timing.n for r in run.ok_records())
    assert set(samples.columns) >= {"workload", "variant", "sample", "time_s", "n"}


def test_ceilings_files_read_typed():
    cf = results.read_ceilings(realdata.H100_CEILINGS)
    assert cf.gpu == realdata.H100 and cf.ceilings.dram_gbs > 2000 and cf.ceilings.peaks["bf16"] > 700
    assert {m.name for m in cf.micro} >= {"dram_read", "cublas_bf16", "latency_dram"}
    with pytest.raises(results.ResultsError, match="not a gpubench ceilings file"):
        results.read_ceilings(realdata.H100_RESULTS)


def test_read_any_tells_results_from_ceilings(tmp_path):
    assert isinstance(results.read_any(realdata.H100_CEILINGS), results.CeilingsFile)
    assert isinstance(results.read_any(realdata.H100_RESULTS), results.Run)
    (tmp_path / "x.json").write_text('{"benchmarks": []}')
    with pytest.raises(results.ResultsError, match="not a gpubench results or ceilings file"):
        results.read_any(tmp_path / "x.json")


def test_the_frame_carries_sustained_and_ncu_figures():
    from gpubench.results import NcuProfile, Sustained

    run = realdata.h100()
    rec = realdata.record(run, "vector_add", "torch", "fp32", n=1 << 26)
    slower = tuple(1.1 * x for x in rec.timing.samples)  # stand-ins for the arithmetic, not measurements
    rec.sustained = Sustained(2.0, dataclasses.replace(rec.timing, samples=slower))
    third = rec.bytes / 3
    rec.ncu = NcuProfile(True, time_s=rec.median / 1.01, dram_read_bytes=2 * third, dram_write_bytes=third)
    df = run.to_frame()
    row = df[(df.variant == "torch") & (df.n == 1 << 26) & (df.dtype == "fp32")].iloc[0]
    assert row.sustained_median_s == pytest.approx(1.1 * rec.median)
    assert row.event_over_ncu == pytest.approx(1.01) and row.accounted_over_dram == pytest.approx(1.0)
    assert df.ncu_time_s.notna().sum() == 1
