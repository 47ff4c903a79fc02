"""roofline.annotate: every ok result placed on the datasheet and the measured roofline; results above a
ceiling (wrong FLOP/byte accounting) are caught. CPU only, no torch."""

import copy
import json
from pathlib import Path

import pytest

from gpubench.bench import results, synthetic
from gpubench.roofline.annotate import ABOVE_CEILING, annotate, ceiling_violations

REFERENCE = Path(__file__).resolve().parent.parent / "reports" / "reference"
PLACEMENT_KEYS = {
    "time_s",
    "bound",
    "intensity",
    "attainable_tflops",
    "fraction_of_bound",
    "predicted_over_measured",
    "violations",
}
# Measured ceilings in the shape the micro-benchmarks write (a little under the H100 datasheet).
MEASURED = {
    "dram_copy_gbs": 3000.0,
    "l2_gbs": 9000.0,
    "smem_gbs": 30000.0,
    "launch_overhead_s": 2e-6,
    "peaks": {"fp32": 60.0, "fp16": 700.0, "bf16": 700.0},
}


def ok(doc):
    return [r for r in doc["records"] if r["status"] == "ok"]


def test_predictions_on_a_synthetic_document():
    doc = annotate(synthetic.make_document())
    assert ok(doc)
    for rec in ok(doc):
        ds = rec["roofline"]["datasheet"]
        assert PLACEMENT_KEYS <= set(ds), rec["roofline"]
        assert rec["roofline"]["measured"] is None  # the synthetic document has no measured ceilings
        assert ds["time_s"] > 0 and ds["attainable_tflops"] > 0
        assert ds["bound"] in ("memory", "compute")
        assert ds["intensity"] == pytest.approx(rec["flops"] / rec["bytes"])
        assert 0 < ds["fraction_of_bound"] <= 1.05, (rec["workload"], rec["variant"], ds)
        assert ds["predicted_over_measured"] > 0
        assert ds["violations"] == []
        assert ABOVE_CEILING not in rec["flags"]
        if rec["workload"] == "vector_add":
            assert ds["bound"] == "memory"
    assert ceiling_violations(doc) == []


def test_measured_ceilings_from_argument_document_or_ceilings_file():
    by_arg = annotate(synthetic.make_document(), MEASURED)
    embedded = synthetic.make_document()
    embedded["ceilings"] = MEASURED
    annotate(embedded)
    as_file = annotate(
        synthetic.make_document(),
        {"schema": "gpubench.ceilings", "device": {"name": "NVIDIA H100 80GB HBM3"}, "ceilings": MEASURED},
    )
    for doc in (by_arg, embedded, as_file):
        for rec in ok(doc):
            m = rec["roofline"]["measured"]
            assert PLACEMENT_KEYS <= set(m)
            if rec["workload"] == "vector_add":
                assert m["bound"] == "memory"
                # 3000 GB/s measured against 3350 on the datasheet: the measured bound is the slower one.
                assert m["time_s"] > rec["roofline"]["datasheet"]["time_s"]
    assert [r["roofline"] for r in by_arg["records"]] == [r["roofline"] for r in as_file["records"]]


def test_inflated_bytes_are_caught_by_the_ceiling_check():
    doc = synthetic.make_document()
    bad = doc["records"][0]
    assert bad["workload"] == "vector_add" and bad["status"] == "ok"
    bad["bytes"] *= 10  # the kernel did not move 10x the bytes: this result would sit 10x above DRAM
    annotate(doc)
    assert bad["roofline"]["datasheet"]["violations"]
    assert ABOVE_CEILING in bad["flags"]
    assert all(ABOVE_CEILING not in r["flags"] for r in doc["records"][1:])
    found = ceiling_violations(doc)
    assert found and all("vector_add/triton" in line for line in found)
    assert "cold" in found[0] and "datasheet" in found[0]


def test_inflated_flops_are_caught_too():
    doc = synthetic.make_document()
    bad = next(r for r in doc["records"] if r["workload"] == "window_sum" and r["shape"]["radius"] == 64)
    bad["flops"] *= 10  # window_sum at radius 64 is near the ridge: 10x the FLOPs is above the fp32 peak
    found = ceiling_violations(doc)
    assert found and all("window_sum" in line for line in found)


def test_idempotent_and_flag_follows_the_accounting():
    doc = synthetic.make_document()
    doc["records"][0]["bytes"] *= 10
    once = copy.deepcopy(annotate(doc, MEASURED))
    twice = annotate(doc, MEASURED)
    assert once == twice
    assert twice["records"][0]["flags"].count(ABOVE_CEILING) == 1
    doc["records"][0]["bytes"] //= 10  # accounting fixed: the flag goes
    annotate(doc, MEASURED)
    assert ABOVE_CEILING not in doc["records"][0]["flags"]


def test_records_that_did_not_run_get_no_placement():
    doc = synthetic.make_document()
    doc["records"][0].update(status="failed", reason="boom", timing=None, achieved=None)
    doc["records"][1].update(status="skipped", reason="no CuPy", timing=None, achieved=None)
    annotate(doc)
    assert doc["records"][0]["roofline"] is None and doc["records"][1]["roofline"] is None
    assert doc["records"][2]["roofline"]["datasheet"] is not None


def test_ceiling_violations_leaves_the_document_alone():
    doc = synthetic.make_document()
    doc["records"][0]["bytes"] *= 10
    before = json.dumps(doc)
    assert ceiling_violations(doc)
    assert json.dumps(doc) == before


def test_tensor_cores_raise_the_compute_roof():
    doc = synthetic.make_document()
    rec = doc["records"][0]
    # A GEMM-like record: 2 * 8192^3 FLOPs over 3 bf16 matrices.
    rec.update(workload="gemm", dtype="bf16", flops=2 * 8192**3, bytes=3 * 8192 * 8192 * 2)
    rec["timing"]["median"] = 5e-3
    doc["records"] = [rec, copy.deepcopy(rec)]
    doc["records"][0]["uses_tensor_cores"] = False
    doc["records"][1]["uses_tensor_cores"] = True
    annotate(doc)
    simt, tc = (r["roofline"]["datasheet"] for r in doc["records"])
    assert simt["bound"] == tc["bound"] == "compute"
    assert tc["attainable_tflops"] > 2 * simt["attainable_tflops"]


def test_written_and_read_back(tmp_path):
    doc = annotate(synthetic.make_document(), MEASURED)
    back = results.read(results.write(doc, tmp_path / "r.json"))
    assert back["records"][0]["roofline"]["measured"]["bound"] == "memory"
    assert ceiling_violations(back) == []


def _reference_results():
    if not REFERENCE.is_dir():
        return []
    out = []
    for path in sorted(REFERENCE.rglob("*.json")):
        try:
            if json.loads(path.read_text()).get("schema") == results.SCHEMA:
                out.append(path)
        except (ValueError, AttributeError):
            out.append(path)  # results.read below says what is wrong with it
    return out


@pytest.mark.parametrize("path", _reference_results(), ids=lambda p: p.name)
def test_reference_results_sit_under_their_ceilings(path):
    """Real measurements: a point above a ceiling means the workload's FLOP or byte accounting is wrong."""
    doc = results.read(path)
    assert ceiling_violations(doc) == []
