"""The workload registry behaves as a read-only mapping in every method, from the first use on."""

import subprocess
import sys
from collections.abc import Mapping

import pytest

from gpubench import kernels


@pytest.mark.slow
def test_get_works_before_anything_else_touched_the_registry():
    code = (
        "from gpubench import kernels\n"
        "w = kernels.REGISTRY.get('vector_add')\n"
        "assert w is not None and w.name == 'vector_add', w\n"
        "assert kernels.REGISTRY.get('nope') is None and kernels.REGISTRY.get('nope', 1) == 1\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr


def test_every_mapping_method():
    reg = kernels.REGISTRY
    assert isinstance(reg, Mapping)
    names = list(reg)
    assert names[:3] == ["vector_add", "window_sum", "gemm"] and len(reg) == len(names)
    assert "softmax" in reg and "nope" not in reg
    assert list(reg.keys()) == names and [w.name for w in reg.values()] == names
    assert dict(reg.items())["gemm"] is reg["gemm"] and reg.get("gemm") is reg["gemm"]
    assert kernels.names() == names and kernels.get("rmsnorm") is reg["rmsnorm"]


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="unknown workload 'vectoradd'; known: vector_add, window_sum"):
        kernels.REGISTRY["vectoradd"]


def test_it_is_read_only():
    with pytest.raises(TypeError):
        kernels.REGISTRY["x"] = None
