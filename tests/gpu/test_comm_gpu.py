"""The NCCL path on a GPU machine: on one GPU, world size 1 (plumbing only: the check, the events behind a
spin, the record); with two or more GPUs, every collective correct on two ranks, busbw beside the model
over this GPU's system. Multi-GPU figures belong to a multi-GPU machine (docs/collectives.md)."""

import pytest
import torch

from gpubench.bench.comm.plan import build
from gpubench.bench.comm.sweep import SweepOptions, sweep
from gpubench.bench.measure.stopping import StoppingRule
from gpubench.roofline.comm import COLLECTIVES

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.skipif(not torch.distributed.is_nccl_available(), reason="this torch has no NCCL"),
]
RULE = StoppingRule(min_samples=5, max_samples=20, min_time_s=0.0, rel_noise=0.05, timeout_s=2.0)


def _sweep(tmp_path, ranks: int, collectives):
    items = build(list(collectives), 1 << 20, 1 << 24, 16, ["fp32", "bf16"], None, ranks)
    return sweep(SweepOptions(items, "nccl", ranks, rule=RULE, hang_s=120), tmp_path / "comm.json")


def test_world_size_one_runs_the_nccl_plumbing(tmp_path):
    run, failure, _ = _sweep(tmp_path, 1, ["all_reduce", "all_gather", "broadcast"])
    assert failure is None and run.records
    for rec in run.records:
        assert rec.ok and rec.collective.wrong == 0 and rec.collective.clock == "device", rec.label
        assert "events" in rec.timing.method and rec.collective.ranks_info[0]["device"]["name"]


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_two_ranks_every_collective_correct_and_predicted(tmp_path):
    run, failure, _ = _sweep(tmp_path, 2, COLLECTIVES)
    assert failure is None
    for rec in run.records:
        assert rec.ok and rec.collective.wrong == 0, rec.label
        assert rec.busbw_gbps > 0 and rec.telemetry is not None
