"""A stand-in for `gpubench run --items FILE --gpus all --out OUT ...` inside a cluster job: the real
multi-GPU execution (bench.fleet.multigpu) of the file's items on two stand-in GPUs with the stand-in worker
(tests/support/fake_worker.py, pinned). The shard named by $FAKE_FAIL_SHARD exits 3 without writing
anything, the first time only ($FAKE_FAIL_FLAG marks it done): a job that crashes, then succeeds on
--resume."""

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

from gpubench.bench.fleet.gpus import Gpu
from gpubench.bench.fleet.multigpu import run_on_gpus
from gpubench.bench.run.plan import PROFILES, Plan, PlanItem

p = argparse.ArgumentParser()
for name in ("--items", "--out", "--gpus", "--profile", "--storage", "--ceilings"):
    p.add_argument(name)
args = p.parse_args()
flag = os.environ.get("FAKE_FAIL_FLAG")
if Path(args.items).stem == os.environ.get("FAKE_FAIL_SHARD") and flag and not os.path.exists(flag):
    open(flag, "w").close()
    sys.exit(3)
plan = Plan([PlanItem.from_json(i) for i in json.loads(Path(args.items).read_text())])
gpus = [Gpu(i, f"GPU-fake-{i}", "Fake GPU") for i in range(2)]
worker = Path(__file__).with_name("fake_worker.py")
code = run_on_gpus(
    PROFILES[args.profile],
    plan,
    gpus,
    args.out,
    args.storage,
    None,
    worker_cmd=lambda g: (
        lambda plan_file, journal: [sys.executable, str(worker), str(plan_file), str(journal), "--pinned"]
    ),
    registry=defaultdict(lambda: None),
)
sys.exit(code)
