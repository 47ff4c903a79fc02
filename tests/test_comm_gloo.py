"""gloo over loopback with 2 and 4 real processes: every collective correct (#wrong 0), busbw = algbw x
nccl-tests' factor exactly, the records read back through gpubench.results, and a report draws them
beside the model's curve. Small sizes and a short stop rule keep it to a few seconds past torch's import."""

import json

import pytest

from gpubench import results
from gpubench.bench.comm.plan import build
from gpubench.bench.comm.sweep import SweepOptions, sweep
from gpubench.bench.measure.stopping import StoppingRule
from gpubench.roofline.comm import COLLECTIVES

pytestmark = pytest.mark.slow
RULE = StoppingRule(min_samples=3, max_samples=4, min_time_s=0.0, rel_noise=0.5, timeout_s=0.5)
# nccl-tests' factors, written out here rather than imported: the test checks the suite's one owner
FACTOR = {
    "all_reduce": lambda n: 2 * (n - 1) / n,
    "all_gather": lambda n: (n - 1) / n,
    "reduce_scatter": lambda n: (n - 1) / n,
    "all_to_all": lambda n: (n - 1) / n,
    "broadcast": lambda n: 1.0,
    "reduce": lambda n: 1.0,
    "send_recv": lambda n: 1.0,
}


@pytest.fixture(scope="module", params=[2, 4])
def swept(request, tmp_path_factory):
    ranks = request.param
    out = tmp_path_factory.mktemp(f"gloo{ranks}") / "comm.json"
    # 1 KiB: whole fp32 chunks per rank at 2 and 4 ranks; bf16 too, whose sums the check keeps exact
    items = build(list(COLLECTIVES), 1024, 1024, 2, ["fp32"], None, ranks)
    items += build(["all_reduce"], 256, 256, 2, ["bf16"], None, ranks)
    run, failure, _ = sweep(SweepOptions(items, "gloo", ranks, rule=RULE, hang_s=120), out)
    return ranks, items, run, failure, out


def test_every_collective_is_correct_and_timed(swept):
    ranks, items, run, failure, _ = swept
    assert failure is None
    assert len(run.records) == len(items)
    for rec in run.records:
        assert rec.ok and rec.collective.wrong == 0 and rec.collective.checked_elements > 0, rec.label
        assert rec.collective.ranks == ranks and rec.collective.clock == "host"
        assert "barrier-aligned batch (gloo)" in rec.timing.method and rec.timing.n >= RULE.min_samples


def test_busbw_is_algbw_times_the_nccl_tests_factor(swept):
    ranks, _, run, _, _ = swept
    for rec in run.records:
        c = rec.collective
        assert rec.algbw_gbps == pytest.approx(c.nbytes / rec.median / 1e9, rel=1e-15)
        assert rec.busbw_gbps == pytest.approx(rec.algbw_gbps * FACTOR[c.name](ranks), rel=1e-15)


def test_records_read_back_with_their_placement(swept):
    _, _, run, _, out = swept
    back = results.read(out)
    assert back.status == "complete" and [r.key for r in back.records] == [r.key for r in run.records]
    raw = json.loads(out.read_text())["records"][0]
    assert raw["achieved"]["busbw_GBps"] == pytest.approx(back.records[0].busbw_gbps)
    placed = raw["roofline"]["collective"]
    assert placed["topology"] == "loopback" and placed["limit"] in ("latency", "intra-node link")
    assert any("gloo over loopback" in n for n in back.run.notes)


def test_a_report_draws_the_collective_roofline(swept, tmp_path):
    from gpubench.reports.report_cli import main

    _, _, run, _, out = swept
    assert main([str(out), "--out", str(tmp_path)]) == 0
    names = {p.name for p in (tmp_path / "img").iterdir()}
    for c in COLLECTIVES:
        assert any(f"-comm-{c.replace('_', '-')}-" in n for n in names), c
    assert not any("roofline-" in n for n in names)  # no kernel roofline for collectives
    page = (tmp_path / "index.html").read_text()
    assert "Collectives" in page and "ring (default)" in page


def test_gate_compare_and_export_take_collective_records_unchanged(swept, tmp_path, capsys):
    from gpubench.reports import compare_cli, export_cli, gate_cli

    _, _, run, _, out = swept
    assert gate_cli.main([str(out), str(out)]) == 0  # the same file: no regression
    assert compare_cli.main([str(out), str(out)]) == 0
    csv = tmp_path / "comm.csv"
    assert export_cli.main([str(out), "--csv", "--out", str(csv)]) == 0
    df = run.to_frame()
    assert list(df["busbw_GBps"]) == [r.busbw_gbps for r in run.records] and (df["wrong"] == 0).all()
    assert "busbw_GBps" in csv.read_text().splitlines()[0]
