"""A stand-in for gpubench.bench.comm.worker without torch: each rank notes its progress and rank 0
journals one record per item, as the real worker does (a results record with placeholder samples for
collective items, the item itself otherwise), so the launcher's watching, naming and stopping and the
Slurm job's plumbing are tested in seconds. FAKE_COMM_FAULT="die:RANK:ITEM" makes that rank exit 3 before
that item; "hang:RANK:ITEM" makes it sleep there."""

import json
import os
import sys
import time
from pathlib import Path

from gpubench.bench.comm import record
from gpubench.bench.comm.plan import CommItem
from gpubench.bench.measure.sampling import Measurement


def _entry(item: dict, config: dict, world: int) -> dict:
    if "collective" not in item:
        return item
    m = Measurement([1e-5, 2e-5, 3e-5], "stand-in (no measurement)", "max_samples", 0.0, 0)
    rec = record.build(CommItem.from_json(item), config, world, int(os.environ.get("GPUBENCH_COMM_NODES", 1)),
                       0, 1, m, [{"rank": r} for r in range(world)], None)  # fmt: skip
    return rec.to_json()


def _journaled(path: str, count: int, timeout_s: float = 60.0) -> None:
    """Wait until rank 0 has journaled `count` records: ranks of a real collective run in step, so a rank
    cannot die at item k before rank 0 finished the items before it (on a loaded machine the processes
    start seconds apart)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if Path(path).exists() and len(Path(path).read_text().splitlines()) >= count:
            return
        time.sleep(0.02)


def main() -> int:
    config = json.loads(Path(sys.argv[1]).read_text())
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    kind, who, at = (os.environ.get("FAKE_COMM_FAULT", "none:-1:-1").split(":") + ["-1", "-1"])[:3]
    folder = config.get("progress_dir")
    for i, item in enumerate(config["items"]):
        if int(who) == rank and int(at) == i:
            if kind == "die":
                _journaled(config["journal"], i)
                print(f"rank {rank}: dying on purpose", file=sys.stderr)
                return 3
            time.sleep(600)
        if folder:
            (Path(folder) / f"rank{rank}").write_text(f"{i + 1} done item {i}\n")
        time.sleep(0.05)
        if rank == 0:
            with open(config["journal"], "a") as f:
                f.write(json.dumps({"kind": "record", "record": _entry(item, config, world)}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
