"""CPU test configuration: the Triton interpreter is switched on before anything imports triton."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
