"""The analytical model against SCALE-Sim 3.0.0: the committed table (tests/data/scalesim_reference.json,
written by scripts/scalesim_reference.py) for every default run, and SCALE-Sim itself where it is installed.

Tolerance: 2 % relative on total cycles and mapping efficiency (and on compute utilisation and SRAM reads)
per layer and per case; the closed forms in fact reproduce the simulator's cycles exactly wherever the memory
does not stall, which is checked too. Negative tests: a model with a wrong drain or load term, or the paper's
closed forms, must fail the comparison."""

import importlib.util
from pathlib import Path

import pytest

from gpubench.systolic import model, reference
from gpubench.systolic.analysis import evaluate
from gpubench.systolic.topology import read_topology

REPO = Path(__file__).resolve().parent.parent
TABLE_PATH = REPO / "tests" / "data" / "scalesim_reference.json"
TOLERANCE = 0.02
TABLE = reference.load(TABLE_PATH)


def test_table_provenance_and_coverage():
    assert TABLE["scalesim_version"] == "3.0.0" and TABLE["generator"] == "scripts/scalesim_reference.py"
    assert TABLE["date"]
    ids = {c["id"] for c in TABLE["cases"]}
    # SCALE-Sim's own example topologies, the suite's examples, the small GEMMs and the USER-bandwidth cases
    for expected in (
        "scalesim:topologies/conv_nets/alexnet.csv",
        "scalesim:topologies/GEMM_mnk/vit_s.csv",
        "suite:tiny_cnn.csv",
        "gemms:16x8",
        "user_bound",
    ):
        assert expected in ids
    for case_id in ids:
        assert {c["dataflow"] for c in TABLE["cases"] if c["id"] == case_id} == {"os", "ws", "is"}


def test_model_agrees_with_scalesim_within_tolerance():
    failures = reference.check(TABLE, TOLERANCE)
    assert not failures, "\n".join(failures[:20])


def test_cycles_and_mapping_are_exact_where_nothing_stalls():
    compared = 0
    for c in reference.comparisons(TABLE):
        if c["bound"]:
            continue
        compared += 1
        assert c["ours"]["total_cycles"] == c["theirs"]["total_cycles"], c["layer"]
        assert c["ours"]["mapping_efficiency"] * 100 == pytest.approx(
            c["theirs"]["mapping_efficiency_percent"], rel=1e-9
        )
    assert compared > 300


def test_os_ofmap_sram_writes_differ_by_scalesims_per_fold_extra():
    # SCALE-Sim 3.0.0 adds R + C to its OS ofmap SRAM write count for every fold; the model counts M x N.
    for c in reference.comparisons(TABLE):
        if c["dataflow"] != "os":
            continue
        case = next(x for x in TABLE["cases"] if x["id"] == c["case"] and x["dataflow"] == "os")
        rows, cols = case["config"]["rows"], case["config"]["cols"]
        layer = reference.layer_of(next(r for r in case["layers"] if r["name"] == c["layer"]))
        folds = -(-layer.m // rows) * -(-layer.n // cols)
        assert c["theirs"]["sram_writes"]["ofmap"] == layer.m * layer.n + folds * (rows + cols)


def test_reading_the_suites_csv_gives_scalesims_totals():
    # The depthwise layer is one row with repeat = 64 here, 64 layers in SCALE-Sim's table.
    topology = read_topology(REPO / "systolic" / "data" / "tiny_cnn.csv")
    for case in (c for c in TABLE["cases"] if c["id"] == "suite:tiny_cnn.csv"):
        ours = evaluate(topology, reference.config_of(case)).total_cycles
        assert ours == sum(layer["scalesim"]["total_cycles"] for layer in case["layers"])


def test_a_wrong_drain_term_fails_the_comparison(monkeypatch):
    monkeypatch.setattr(model, "_drain", lambda dataflow, rows, cycle_model: rows if dataflow == "os" else 0)
    failures = reference.check(TABLE, TOLERANCE)
    assert any(" os " in f and "total cycles" in f for f in failures)
    assert not any(" ws " in f or " is " in f for f in failures)


def test_a_wrong_load_term_fails_the_comparison(monkeypatch):
    monkeypatch.setattr(model, "_load", lambda dataflow, rows: 0)  # forget to load the stationary tile
    failures = reference.check(TABLE, TOLERANCE)
    assert any(" ws " in f and "total cycles" in f for f in failures)
    assert any(" is " in f and "total cycles" in f for f in failures)


def test_the_papers_closed_forms_disagree_with_the_simulator_for_os():
    failures = reference.check(TABLE, TOLERANCE, cycle_model="paper")
    assert any(" os " in f and "total cycles" in f for f in failures)


def test_the_stall_model_reproduces_scalesims_bandwidth_bound_runs():
    bound = [c for c in reference.comparisons(TABLE) if c["bound"]]
    assert bound and all(c["theirs"]["stall_cycles"] > 0 for c in bound)
    for c in bound:
        ours, theirs = c["ours"]["total_cycles_from_their_traffic"], c["theirs"]["total_cycles"]
        assert ours == pytest.approx(theirs, rel=TOLERANCE), (c["case"], c["dataflow"])


def _scalesim_script():
    spec = importlib.util.spec_from_file_location(
        "scalesim_reference", REPO / "scripts" / "scalesim_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    importlib.util.find_spec("scalesim") is None,
    reason="scalesim is not installed here (pip install scalesim==3.0.0 'numpy<2.3' to run live)",
)
def test_live_scalesim_agrees():
    script = _scalesim_script()
    gemms = script._gemm_csv((("ragged", 40, 24, 20), ("fold", 16, 8, 64)))
    conv = "Layer name, H, W, Fh, Fw, C, N, S,\nc1, 12, 12, 3, 3, 4, 10, 2,\n"
    config = {**script.SCALE_EXAMPLE, "rows": 8, "cols": 16}
    live = {"cases": []}
    for text, gemm in ((gemms, True), (conv, False)):
        for df in script.DATAFLOWS:
            case = {
                "id": f"live-{gemm}",
                "source": "live",
                "topology_text": text,
                "config": config,
                "dataflow": df,
                "gemm": gemm,
            }
            live["cases"].append(script.run_case(case))
    failures = reference.check(live, TOLERANCE)
    assert not failures, "\n".join(failures)
