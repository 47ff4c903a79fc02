"""A variant's role (gpubench.roles) from its declaration to the report: each built-in workload's baselines
and unfused form say so, the record carries the role, a file written before roles gets the role the
reports gave it by name, and the reports read the role, never the variant's name."""

import dataclasses
import json

import pytest

from gpubench import results
from gpubench.kernels import REGISTRY, Variant, compiled
from gpubench.reports.baseline_tables import baseline_tables, speedups
from gpubench.reports.frames import fusion_frame
from gpubench.results.migrate import legacy_role
from gpubench.roles import BASELINE, KERNEL, UNFUSED
from gpubench.roofline.placement import place_run
from tests.support import realdata


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_the_declared_roles_are_the_ones_the_reports_used_by_name(name):
    """Every workload's roles are what the reports held by name before records carried them. The
    torch.compile baselines joined after records carried roles, so no file ever needed the name rule for
    them: they declare themselves baselines."""
    w = REGISTRY[name]
    older = [v for v in w.variants.values() if v.name != compiled.NAME]
    assert {v.name: v.role for v in older} == {v.name: legacy_role(name, v.name) for v in older}
    assert any(v.role == BASELINE for v in w.variants.values())
    if compiled.NAME in w.variants:
        assert w.variants[compiled.NAME].role == BASELINE


def test_a_role_outside_the_vocabulary_is_refused():
    with pytest.raises(ValueError, match="variant 'x': role must be one of kernel, baseline, unfused"):
        Variant("x", "torch", lambda: None, role="reference")
    doc = json.loads(results.dumps(realdata.h100()))
    doc["records"] = [{**doc["records"][0], "role": "best"}]
    with pytest.raises(results.ResultsError, match="role: 'best' is not one of"):
        results.parse_run(doc)


def test_a_file_without_roles_reads_with_the_old_names_rule_and_writes_them(tmp_path):
    raw = json.loads(realdata.H100_RESULTS.read_text())
    assert not any("role" in r for r in raw["records"])
    run = results.read(realdata.H100_RESULTS)
    roles = {(r.workload, r.variant): r.role for r in run.records}
    assert roles[("gemm", "torch")] == roles[("layernorm_bwd", "torch_bwd")] == BASELINE
    assert roles[("softmax", "unfused")] == UNFUSED and roles[("gemm", "triton")] == KERNEL
    back = json.loads(results.dumps(results.read(results.write(run, tmp_path / "r.json"))))
    assert [r["role"] for r in back["records"]] == [r.role for r in run.records]


def test_a_stored_role_wins_over_the_name(tmp_path):
    doc = json.loads(realdata.H100_RESULTS.read_text())
    for r in doc["records"]:
        r["role"] = KERNEL  # nothing is a baseline, whatever its name
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    run = results.read(path)
    assert {r.role for r in run.records} == {KERNEL}
    assert speedups(run.records) == {} and baseline_tables(place_run(run)) == []
    assert fusion_frame(place_run(run)).empty


def test_the_reports_follow_the_role_not_the_name():
    run = realdata.h100()
    renamed = {"torch": "cublas_or_aten", "unfused": "separate_ops"}
    run.records = [dataclasses.replace(r, variant=renamed.get(r.variant, r.variant)) for r in run.records]
    titles = [t.title for t in baseline_tables(place_run(run))]
    assert "gemm against cublas_or_aten" in titles and "layernorm_bwd against torch_bwd" in titles
    fused = fusion_frame(place_run(run))
    assert set(fused["variant"]) == {"triton", "cuda", "cublas_or_aten"}
    assert len(fused) == len(fusion_frame(place_run(realdata.h100())))


def test_the_worker_writes_each_variants_role_and_the_workloads_details():
    """run_item on the CPU (tests/test_measure.py's stand-in timer): the record carries the variant's role
    and what Workload.details says of the shape, through the journal as the orchestrator reads it."""
    import torch

    from gpubench.bench.run import worker as worker_mod
    from gpubench.bench.run.plan import PlanItem
    from tests.test_measure import RULE, STEADY, FakeTelemetry, FakeTimer, Journal

    ctx = worker_mod.WorkerContext(Journal(), RULE, torch.device("cpu"), telemetry=FakeTelemetry(),
                                   timer_factory=lambda device, mode: FakeTimer(STEADY, mode))  # fmt: skip
    shape = {"rows": 3, "cols": 7}
    for variant, role in (("torch", BASELINE), ("unfused", UNFUSED)):
        rec = worker_mod.run_item(PlanItem("softmax", variant, "torch", shape, "fp32", "cold"), ctx)
        assert rec.ok and rec.role == role
        assert rec.details == REGISTRY["softmax"].details(shape, "fp32")
        journalled = results.Record.from_json(ctx.journal.events[-1]["record"])
        assert journalled.role == role and journalled.details == json.loads(json.dumps(rec.details))
