"""Results files: schema, atomic writing, clear errors for foreign, truncated or other-version files."""

import json

import pytest

from gpubench.bench import results, synthetic


def test_round_trip(tmp_path):
    doc = synthetic.make_document()
    path = results.write(doc, tmp_path / "r.json")
    back = results.read(path)
    assert back["schema"] == results.SCHEMA and back["schema_version"] == results.SCHEMA_VERSION
    assert back["synthetic"] is True and all("synthetic" in r["flags"] for r in back["records"])
    assert len(back["records"]) == len(doc["records"])
    assert back["records"][0]["timing"]["samples"] == doc["records"][0]["timing"]["samples"]


def test_nan_is_stored_as_null(tmp_path):
    doc = synthetic.make_document()
    doc["records"][0]["timing"]["cv"] = float("nan")
    back = results.read(results.write(doc, tmp_path / "r.json"))
    assert back["records"][0]["timing"]["cv"] is None


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    results.write(synthetic.make_document(), path)
    before = path.read_text()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(results.os, "replace", boom)
    with pytest.raises(OSError):
        results.write(synthetic.make_document(seed=5), path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary left behind


def test_missing_file(tmp_path):
    with pytest.raises(results.ResultsError, match="no such results file"):
        results.read(tmp_path / "nope.json")


def test_truncated_file(tmp_path):
    path = results.write(synthetic.make_document(), tmp_path / "r.json")
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(results.ResultsError, match="truncated"):
        results.read(path)


def test_foreign_file(tmp_path):
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"benchmarks": []}))
    with pytest.raises(results.ResultsError, match="not a gpubench results file"):
        results.read(path)


def test_other_schema_version(tmp_path):
    doc = synthetic.make_document()
    doc["schema_version"] = 999
    path = tmp_path / "v.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(results.ResultsError, match="schema version 999"):
        results.read(path)


def test_ok_record_without_samples_is_rejected(tmp_path):
    doc = synthetic.make_document()
    doc["records"][0]["timing"]["samples"] = []
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(results.ResultsError, match="no samples"):
        results.read(path)


def test_record_validation():
    with pytest.raises(ValueError, match="mode"):
        results.new_record("w", "v", "torch", {"n": 1}, "fp32", "lukewarm")
    rec = results.new_record("w", "v", "torch", {"n": 1, "m": 2}, "fp32", "cold")
    assert results.record_key(rec) == ("w", "v", (("m", 2), ("n", 1)), "fp32", "cold")
    assert results.key_label(results.record_key(rec)) == "w/v[m=2,n=1|fp32|cold]"
