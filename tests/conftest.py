"""CPU test configuration: the Triton interpreter is switched on before anything imports triton, and every
test of a file that imports Triton, the workloads, the CPU checks or the ahead-of-time helper is marked
`triton` (the newest-Triton session, `nox -s tests_latest`, runs those; the rest is pure Python whose
behaviour no Triton release changes)."""

import ast
import functools
import os

import pytest

os.environ.setdefault("TRITON_INTERPRET", "1")

_TRITON_SIDE = ("triton", "gpubench.kernels", "gpubench.bench.cpucheck", "tests.support.aot")


@functools.cache
def _imports_triton_side(path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        if any(n == p or n.startswith(p + ".") for n in names for p in _TRITON_SIDE):
            return True
    return False


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.suffix == ".py" and _imports_triton_side(item.path):
            item.add_marker(pytest.mark.triton)


@pytest.fixture(scope="session")
def inductor_cache(tmp_path_factory):
    """One inductor cache for the session's torch.compile tests (TORCHINDUCTOR_CACHE_DIR): the first
    compile on a fresh cache builds inductor's C++ prelude (about 10 s on the 2-core CPU, no GPU), the
    later ones reuse it. pytest-xdist's workers share their parent's folder."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "inductor-cache"
    folder.mkdir(exist_ok=True)
    old = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
    else:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = old
