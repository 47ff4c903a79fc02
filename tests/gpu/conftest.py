"""GPU tests need compiled Triton: the CPU suite's interpreter (tests/conftest.py) would run every Triton
kernel on the host instead. `nox -s gpu` sets TRITON_INTERPRET=0 before anything imports triton."""

import os

import pytest


@pytest.fixture(scope="session")
def references():
    """The session's reference cache: the variants of one shape and dtype, checked one after another,
    share one float64 reference (bench.measure.correctness.ReferenceCache, as the harness does)."""
    from gpubench.bench.measure.correctness import ReferenceCache

    return ReferenceCache()


def pytest_collection_modifyitems(config, items):
    if os.environ.get("TRITON_INTERPRET", "0") in ("", "0"):
        return
    skip = pytest.mark.skip(
        reason="TRITON_INTERPRET is on: GPU tests run compiled Triton; use `nox -s gpu` "
        "(or TRITON_INTERPRET=0 pytest tests/gpu -m gpu)"
    )
    for item in items:
        if "tests/gpu/" in item.nodeid.replace(os.sep, "/"):
            item.add_marker(skip)
