"""Provenance: every run records its commit, whether the tree was dirty and the environment knobs that
change kernels or timing; a file whose measured ceilings come from another physical GPU says so in the
file and in the report; where the spec database disagrees with what the device reports, the run and the
report say so. On the committed H100/H200 files and the harness's real execute() over a stand-in worker."""

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from gpubench import results
from gpubench.bench.run import runner
from gpubench.bench.run.plan import Plan, PlanItem
from gpubench.reports import provenance_view as report_prov
from gpubench.reports import report_cli
from gpubench.results import Device, EmbeddedCeilings, Run, RunInfo, Software
from gpubench.results.provenance import (
    Provenance,
    ceilings_warning,
    knobs_in,
    positive_float,
    run_warnings,
    split_commit,
)
from gpubench.roofline.specs import device_mismatches, get_spec, resolve_spec
from tests.support import realdata

FAKE = Path(__file__).parent / "support" / "fake_worker.py"
MIB = 1 << 20


def _device_json(folder: str) -> dict:
    return json.loads((realdata.REFERENCE / folder / "device.json").read_text())["gpu"]["devices"][0]


# ---------------------------------------------------------------------------------------- knobs


def test_knobs_are_the_variables_that_change_kernels_or_timing():
    env = {
        "GPUBENCH_TEST_SLOW_CONFIG": "1", "TRITON_F32_DEFAULT": "ieee", "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
        "CUDA_LAUNCH_BLOCKING": "1", "PATH": "/usr/bin", "HOME": "/root", "TRITON_CACHE_DIR": "/tmp/t",
        "GPUBENCH_COMMIT": "abc", "CUDA_VISIBLE_DEVICES": "1,0",
    }  # fmt: skip
    assert knobs_in(env) == {
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8", "CUDA_LAUNCH_BLOCKING": "1", "CUDA_VISIBLE_DEVICES": "1,0",
        "GPUBENCH_TEST_SLOW_CONFIG": "1", "TRITON_F32_DEFAULT": "ieee",
    }  # fmt: skip
    assert list(knobs_in(env)) == sorted(knobs_in(env))


def test_split_commit_and_positive_float():
    assert split_commit("4d0a612-dirty") == ("4d0a612", True)
    assert split_commit("4d0a612") == ("4d0a612", False)
    assert split_commit(None) == (None, None) and split_commit("") == (None, None)
    for text, want in (("2", 2.0), ("0.5", 0.5), ("0", None), ("-1", None), ("x", None), ("inf", None),
                       ("nan", None), ("", None)):  # fmt: skip
        assert positive_float({"S": text}, "S") == want, text
    assert positive_float({}, "S") is None


# ---------------------------------------------------------------------------------------- a run records it


def _execute(tmp_path, monkeypatch, env: dict, ceilings: EmbeddedCeilings | None = None) -> Run:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    plan = Plan([PlanItem("w", v, "torch", {"n": i}, "fp32", "cold") for i, v in enumerate("ab")])
    run = Run(Device(name="?"), Software(), RunInfo(profile="test"))
    run.ceilings = ceilings
    out = tmp_path / "r.json"
    code = runner.execute(plan, run, out, lambda p, j: [sys.executable, str(FAKE), str(p), str(j)],
                          echo=lambda line: None, work=tmp_path / "work")  # fmt: skip
    assert code == 0
    return results.read(out)


def test_a_run_records_commit_dirty_tree_and_knobs(tmp_path, monkeypatch):
    back = _execute(
        tmp_path, monkeypatch, {"GPUBENCH_COMMIT": "0123abcd-dirty", "GPUBENCH_TEST_SLOW_CONFIG": "1"}
    )
    prov = back.provenance
    assert prov.commit == "0123abcd" and prov.dirty is True
    assert prov.env["GPUBENCH_TEST_SLOW_CONFIG"] == "1" and "GPUBENCH_COMMIT" not in prov.env
    warnings = back.provenance_warnings()
    assert any("uncommitted changes" in w for w in warnings)
    assert any(w.startswith("GPUBENCH_TEST_SLOW_CONFIG=1 was set") for w in warnings)
    assert prov.spec_mismatches == []  # "Fake GPU" is no database GPU: nothing to contradict


def test_a_clean_tree_and_no_knobs_give_no_warning(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    back = _execute(tmp_path, monkeypatch, {"GPUBENCH_COMMIT": "0123abcd"})
    assert back.provenance.dirty is False and back.provenance_warnings() == []


def test_ceilings_from_another_gpu_are_stored_in_the_file(tmp_path, monkeypatch):
    other = EmbeddedCeilings(
        results.MeasuredCeilings(dram_gbs=3000.0), "Fake GPU", "GPU-another", "2026-01-01"
    )
    back = _execute(tmp_path, monkeypatch, {"GPUBENCH_COMMIT": "0123abcd"}, other)
    stored = back.provenance.warnings
    assert any("another physical GPU" in w and "GPU-another" in w and "GPU-fake" in w for w in stored)
    same = dataclasses.replace(other, device_uuid="GPU-fake")
    assert ceilings_warning(same, {"GPU-fake"}) is None
    assert "do not record which physical GPU" in ceilings_warning(
        dataclasses.replace(other, device_uuid=None), set()
    )


# ---------------------------------------------------------------------------------------- committed files


def test_the_h100_reference_says_its_ceilings_came_from_another_card():
    run = realdata.h100()
    lines = run_warnings(run)
    other = [w for w in lines if "another physical GPU" in w]
    assert len(other) == 1
    assert run.ceilings.device_uuid in other[0] and run.device.uuid in other[0]
    assert any("no provenance section" in w for w in lines)  # written before the section existed


def test_the_h200_reference_ceilings_are_its_own():
    assert not [w for w in run_warnings(realdata.h200()) if "another physical GPU" in w]


def test_old_files_still_read_and_round_trip_with_a_provenance(tmp_path):
    run = realdata.h200()
    assert run.provenance is None and run.schema_version == 2
    run.provenance = Provenance(commit="abc", dirty=False, env={"TRITON_F32_DEFAULT": "ieee"})
    back = results.read(results.write(run, tmp_path / "r.json"))
    assert back.provenance == run.provenance and results.dumps(back) == results.dumps(run)


# ---------------------------------------------------------------------------------------- spec vs device


def test_the_h200_l2_is_what_the_device_reports():
    dev = _device_json("NVIDIA-H200")
    spec = resolve_spec(dev)
    assert spec.key == "h200_sxm" and spec.l2_bytes == dev["l2_bytes"] == 60 * MIB
    assert {d.kind for d in spec.sources["l2_bytes"]} == {"device", "third-party"}


def test_spec_mismatches_on_the_committed_devices():
    h100 = _device_json("NVIDIA-H100-80GB-HBM3")
    assert device_mismatches(resolve_spec(h100), h100) == []
    h200 = _device_json("NVIDIA-H200")
    found = device_mismatches(resolve_spec(h200), h200)
    # The bus width is press coverage's 6144 bits; NVML reports 6016. The corrected L2 agrees now.
    assert [(m.field, m.spec, m.device) for m in found] == [("mem_bus_width_bits", 6144, 6016)]
    assert "geektopia" in found[0].describe()
    # The table before its correction: the check finds the L2 the device contradicts.
    old = dataclasses.replace(resolve_spec(h200), l2_bytes=50 * MIB)
    assert ("l2_bytes", 50 * MIB, 60 * MIB) in [
        (m.field, m.spec, m.device) for m in device_mismatches(old, h200)
    ]


def test_spec_mismatches_catch_another_part_and_trust_a_derived_spec():
    spec = get_spec("h100_sxm5")
    pcie_like = {**_device_json("NVIDIA-H100-80GB-HBM3"), "sm_count": 114, "memory_bytes": 2 * spec.mem_bytes,
                 "sm_clock_max_mhz": 1755, "mem_clock_max_mhz": 1593}  # fmt: skip
    fields = {m.field for m in device_mismatches(spec, pcie_like)}
    assert fields == {"sm_count", "mem_bytes", "boost_clock_mhz", "mem_bandwidth_gbs"}
    with pytest.warns(UserWarning):
        derived = resolve_spec({"name": "Unknown GPU", "sm_count": 10, "compute_capability": "9.0"})
    assert device_mismatches(derived, {"sm_count": 99}) == []


def test_the_run_and_the_report_show_spec_mismatches(tmp_path):
    run = realdata.h200()
    run.records = [r for r in run.records if r.workload == "vector_add"]
    runner.annotate(run)
    assert [m.field for m in run.provenance.spec_mismatches] == ["mem_bus_width_bits"]
    path = results.write(run, tmp_path / "h200.json")
    assert results.read(path).provenance.spec_mismatches[0].device == 6016
    assert report_cli.main([str(path), "--out", str(tmp_path / "out")]) == 0
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "Provenance" in page and "mem_bus_width_bits = 6144, the device reports 6016" in page
    md = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert "**Provenance" in md and "environment knobs" in md


def test_the_report_warns_of_the_h100_ceilings_card(tmp_path):
    run = realdata.h100()
    run.records = [r for r in run.records if r.workload == "vector_add"]
    path = results.write(run, tmp_path / "h100.json")
    assert report_cli.main([str(path), "--out", str(tmp_path / "out")]) == 0
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "the measured ceilings come from another physical GPU" in page
    assert dict(report_prov.facts(run))["tree"] == "clean"  # no -dirty suffix on its commit
