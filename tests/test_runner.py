"""The orchestrator: a worker that dies costs only the item it was running; the rest still run, the
results file is written after every record, and progress is shown."""

import sys
from pathlib import Path

from gpubench.bench import results
from gpubench.bench.runner import orchestrate

FAKE = Path(__file__).with_name("_fake_worker.py")


def _plan(variants):
    return [
        {
            "id": f"w/{v}/n={i}/fp32/cold",
            "workload": "w",
            "variant": v,
            "backend": "torch",
            "shape": {"n": i},
            "dtype": "fp32",
            "mode": "cold",
        }
        for i, v in enumerate(variants)
    ]


def _run(tmp_path, variants):
    plan = _plan(variants)
    doc = results.new_document({"name": "?"}, {}, {"profile": "test"})
    out = tmp_path / "r.json"
    lines = []
    status, _ = orchestrate(
        plan,
        doc,
        out,
        lambda p, j: [sys.executable, str(FAKE), str(p), str(j)],
        lines.append,
        work=tmp_path / "work",
    )
    return status, doc, out, lines


def test_all_items_run(tmp_path):
    status, doc, out, lines = _run(tmp_path, ["a", "b", "c"])
    assert status == "complete"
    assert [r["variant"] for r in doc["records"]] == ["a", "b", "c"]
    assert doc["device"]["name"] == "Fake GPU"
    assert len(results.read(out)["records"]) == 3  # real writer, real reader
    assert lines[0].startswith("[1/3] w/a")


def test_aborting_worker_loses_only_its_item(tmp_path):
    status, doc, out, lines = _run(tmp_path, ["a", "abort", "b", "abort", "c"])
    assert status == "complete"
    by_variant = [(r["variant"], r["status"]) for r in doc["records"]]
    assert by_variant == [("a", "ok"), ("abort", "failed"), ("b", "ok"), ("abort", "failed"), ("c", "ok")]
    failed = [r for r in doc["records"] if r["status"] == "failed"]
    assert all("worker process died" in r["reason"] for r in failed)
    assert len(results.read(out)["records"]) == 5


def test_poisoned_context_restarts_worker(tmp_path):
    status, doc, out, lines = _run(tmp_path, ["poison", "a", "poison", "b"])
    assert [(r["variant"], r["status"]) for r in doc["records"]] == [
        ("poison", "failed"),
        ("a", "ok"),
        ("poison", "failed"),
        ("b", "ok"),
    ]
    assert "illegal memory access" in doc["records"][0]["reason"]
    assert any("restarting the worker" in line for line in lines)


def test_duplicate_ids_refused(tmp_path):
    import pytest

    plan = _plan(["a"]) * 2
    with pytest.raises(ValueError, match="duplicate"):
        orchestrate(plan, {}, tmp_path / "r.json", lambda p, j: [], print)
