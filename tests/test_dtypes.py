"""The one dtype vocabulary (gpubench.dtypes): every spelling to one name, and each name's torch dtype,
item size and CUDA C kernel suffix, the same wherever the suite translates a dtype."""

import pytest
import torch

from gpubench import dtypes
from gpubench.kernels.workload import torch_dtype, torch_dtypes


@pytest.mark.parametrize(
    "spelling, name",
    [(torch.float16, "fp16"), ("torch.bfloat16", "bf16"), ("half", "fp16"), ("FP32", "fp32"),
     ("float8_e5m2", "fp8"), ("tensorfloat32", "tf32"), ("nvfp4", "fp4"), ("int4", "int4"),
     ("something_new", "something_new")],
)  # fmt: skip
def test_every_spelling_normalises_to_one_name(spelling, name):
    assert dtypes.normalise(spelling) == name


def test_names_and_torch_dtypes_translate_both_ways():
    for name in ("fp64", "fp32", "fp16", "bf16", "fp8", "int8", "int32"):
        t = torch_dtype(name)
        assert dtypes.name_of(t) == name
        assert t.itemsize == dtypes.itemsize(name)
    assert torch_dtype("tf32") is torch.float32  # fp32 data, TF32 dots
    assert torch_dtypes("fp32", "bf16") == (torch.float32, torch.bfloat16)
    assert dtypes.itemsize("int4") == 0.5


def test_kernel_suffixes_are_the_cuda_sources_names():
    assert [dtypes.kernel_suffix(t) for t in (torch.float32, torch.float16, torch.bfloat16, torch.int32)] == [
        "fp32", "fp16", "bf16", "i32"]  # fmt: skip
    with pytest.raises(ValueError, match="no CUDA C kernel"):
        dtypes.kernel_suffix(torch.float8_e4m3fn)


def test_unknown_names_are_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown dtype 'fp12'.*bf16"):
        torch_dtype("fp12")
    with pytest.raises(ValueError, match="no torch dtype"):
        torch_dtype("int4")
    with pytest.raises(ValueError, match="unknown torch dtype"):
        dtypes.name_of(torch.complex64)
