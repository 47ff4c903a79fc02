#!/usr/bin/env python3
"""The GPU work in packs, one command each (docs/gpu-runs.md): `python scripts/gpu_pack.py --plan`,
`python scripts/gpu_pack.py PACK OUT`, `python scripts/gpu_pack.py --commit ARCHIVE`. Runs from a plain
checkout (the GPU machines have no install of the suite): the repository goes on the import path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gpubench.bench.packs.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
