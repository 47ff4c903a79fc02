"""The planner against published training steps it was not fitted to (docs/training.md, "Validation"):
Korthikanti et al. 2022 table 5 (seconds per iteration on A100s) and Llama 3 405B table 4 (TFLOP/s per
H100). The table is printed; the bounds asserted are the ones the model's inputs can defend."""

import pytest

from gpubench.roofline.specs import get_spec
from gpubench.transformer.training import flash
from gpubench.transformer.training.efficiency import roofs_for
from gpubench.transformer.training.validation import KORTHIKANTI, LLAMA3, validate

# The A100's roofs are carried from the H100's measured sustained ratio (efficiency.py). How much of its
# datasheet a GPU holds depends on its power limit and how long the load lasts: the H100's own spread, its
# largest bf16 cuBLAS record in a short window (776 TFLOP/s) over its sustained roof (703), is 10.4 %, so a
# rate carried to another GPU is uncertain by about that. A row may miss by that and about 5 points more for
# what the plan leaves out (stragglers, host time, kernels' own shortfall at their shapes): 15 % per row;
# errors of independent rows partly cancel, so their mean by half that.
ROOF_SPREAD = flash.gemm_reference() / roofs_for(get_spec("h100_sxm5")).peak_tflops("bf16") - 1
ROW_BOUND = 0.15
MEAN_BOUND = 0.075


@pytest.fixture(scope="module")
def rows():
    return validate(KORTHIKANTI + LLAMA3)


def _table(rows) -> str:
    lines = [f"{'row':30s} {'published':>10s} {'predicted':>10s} {'error':>8s}  layout"]
    for v in rows:
        pub = v.row.step_time_s or v.row.tflops_per_gpu
        got = v.prediction.step_time_s if v.row.step_time_s else v.prediction.tflops_per_gpu
        unit = "s" if v.row.step_time_s else "TFLOP/s"
        lines.append(f"{v.row.label:30s} {pub:>8.2f} {unit:<2s}{got:>9.2f}  {v.error:+8.1%}  "
                     f"{v.prediction.layout.describe()}")  # fmt: skip
    return "\n".join(lines)


def test_print_the_validation_table(rows, capsys):
    with capsys.disabled():
        print("\n" + _table(rows))
    assert len(rows) == 11


def test_korthikanti_table_5_step_times(rows):
    errors = [abs(v.error) for v in rows if v.row in KORTHIKANTI]
    assert len(errors) == 8
    assert max(errors) < ROW_BOUND, _table(rows)
    assert sum(errors) / len(errors) < MEAN_BOUND, _table(rows)


def test_llama_3_throughput_is_bounded_above_by_the_prediction(rows):
    """What the plan leaves out only slows a step, so the predicted TFLOP/s per GPU may not fall below the
    published ones by more than the roof's own uncertainty; and fewer sequences per DP rank (16 against
    32, the same tokens per batch on twice the GPUs) must cost throughput, as it did for Llama 3 (43 % ->
    41 %)."""
    llama = [v for v in rows if v.row in LLAMA3]
    for v in llama:
        assert v.error > -ROOF_SPREAD, _table(rows)
    assert llama[0].prediction.tflops_per_gpu > llama[1].prediction.tflops_per_gpu


def test_the_unpublished_knobs_were_chosen_by_the_search_within_the_published_layout(rows):
    for v in rows:
        if v.row in LLAMA3:
            lay = v.prediction.layout
            assert {k: getattr(lay, k) for k in v.row.fixed} == v.row.fixed
            assert v.prediction.memory.fits
