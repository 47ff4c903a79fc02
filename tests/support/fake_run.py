"""`gpubench run`'s execution (bench.run.runner.execute) over the stand-in worker, for the stop tests:
python tests/support/fake_run.py OUT WORK VARIANT...
"""

import sys
from pathlib import Path

from gpubench.bench.run.plan import Plan, PlanItem
from gpubench.bench.run.runner import execute
from gpubench.results import Device, Run, RunInfo, Software

out, work, variants = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
FAKE = Path(__file__).with_name("fake_worker.py")
plan = Plan([PlanItem("w", v, "torch", {"n": i}, "fp32", "cold") for i, v in enumerate(variants)])
run = Run(Device(name="?"), Software(), RunInfo(profile="test"))
code = execute(plan, run, out, lambda p, j: [sys.executable, str(FAKE), str(p), str(j)], work=work,
               echo=lambda line: print(line, flush=True))  # fmt: skip
sys.exit(code)
