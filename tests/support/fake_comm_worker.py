"""A stand-in for gpubench.bench.comm.worker without torch: each rank notes its progress and rank 0
journals one placeholder record per item, as the real worker does, so the launcher's watching, naming and
stopping are tested in a fraction of a second. FAKE_COMM_FAULT="die:RANK:ITEM" makes that rank exit 3
before that item; "hang:RANK:ITEM" makes it sleep there."""

import json
import os
import sys
import time
from pathlib import Path


def main() -> int:
    config = json.loads(Path(sys.argv[1]).read_text())
    rank = int(os.environ["RANK"])
    kind, who, at = (os.environ.get("FAKE_COMM_FAULT", "none:-1:-1").split(":") + ["-1", "-1"])[:3]
    progress = Path(config["progress_dir"]) / f"rank{rank}"
    for i, item in enumerate(config["items"]):
        if int(who) == rank and int(at) == i:
            if kind == "die":
                print(f"rank {rank}: dying on purpose", file=sys.stderr)
                return 3
            time.sleep(600)
        progress.write_text(f"{i + 1} done item {i}\n")
        time.sleep(0.05)
        if rank == 0:
            with open(config["journal"], "a") as f:
                f.write(json.dumps({"kind": "record", "record": {"item": item}}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
