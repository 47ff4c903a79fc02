"""kernels.rowcompare, the row-wise output check of softmax and the norms: the rule its docstring states,
on small hand-made rows."""

import pytest
import torch

from gpubench.kernels.rowcompare import assert_rows_close, assert_rows_sum_to_one


def test_row_relative_atol_scales_with_the_rows_largest_value():
    expected = torch.tensor([[1e-6, 2e-6, 4e-6], [0.5, 0.25, 0.25]])
    close = expected * (1 + 1e-7)
    assert_rows_close(close, expected, 1e-3, 0.0, row_relative=True)
    off = expected.clone()
    off[0, 0] = 2e-6  # 1e-6 off, where the row's largest value allows 4e-9
    with pytest.raises(AssertionError, match="row 0, col 0"):
        assert_rows_close(off, expected, 1e-3, 0.0, row_relative=True)


def test_an_infinity_in_the_row_does_not_widen_its_tolerance():
    expected = torch.tensor([[float("inf"), 1.0, 2.0]])
    out = torch.tensor([[float("inf"), 1.0, 7.0]])  # 5 off: a row-relative scale of inf would pass it
    with pytest.raises(AssertionError, match="col 2"):
        assert_rows_close(out, expected, 1e-3, 1e-3, row_relative=True)


def test_nan_and_infinities_must_match_exactly():
    expected = torch.tensor([[float("nan"), float("inf"), 1.0]])
    assert_rows_close(expected.clone(), expected, 0.0, 0.0)
    with pytest.raises(AssertionError, match="NaN pattern differs"):
        assert_rows_close(torch.tensor([[0.0, float("inf"), 1.0]]), expected, 1.0, 1.0)
    with pytest.raises(AssertionError, match="exceed"):
        assert_rows_close(torch.tensor([[float("nan"), -float("inf"), 1.0]]), expected, 1.0, 1.0)


def test_rows_must_sum_to_one_where_the_expected_row_is_finite():
    expected = torch.tensor([[0.5, 0.5], [float("nan"), float("nan")]])
    assert_rows_sum_to_one(torch.tensor([[0.5, 0.5], [3.0, 3.0]]), expected, 1e-6)  # the NaN row is not held
    with pytest.raises(AssertionError, match="row 0 sums to"):
        assert_rows_sum_to_one(torch.tensor([[0.5, 0.6], [0.5, 0.5]]), expected, 1e-6)
