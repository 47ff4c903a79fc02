"""The GEMM tiling model (roofline.tiling) against small cases worked by hand, and `gpubench tiling`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gpubench.roofline import tiling
from gpubench.roofline.specs import get_spec

REPO = Path(__file__).resolve().parents[1]


def _t(*args, **kw):
    return tiling.tile_traffic(*args, **kw)


def test_square_4_with_2x2x2_tiles_by_hand():
    # M = N = K = 4, tiles 2x2x2, 2-byte elements: mt = nt = kt = 2; 16 elements per matrix.
    # output_stationary: A read nt=2 times: 2*16*2 = 64; B read mt=2 times: 64; C written once: 16*2 = 32.
    os_ = _t(4, 4, 4, 2, 2, 2, 2, "output_stationary")
    assert (os_.a_bytes, os_.b_bytes, os_.c_bytes, os_.bytes) == (64, 64, 32, 160)
    assert os_.flops == 128 and os_.intensity == pytest.approx(128 / 160)
    # a_stationary: A once: 32; B mt=2 times: 64; C: kt-1 = 1 fp32 round trip (2*4 bytes) + final 2 bytes
    # per element: 16 * (8 + 2) = 160; total 256.
    a_st = _t(4, 4, 4, 2, 2, 2, 2, "a_stationary")
    assert (a_st.a_bytes, a_st.b_bytes, a_st.c_bytes, a_st.bytes) == (32, 64, 160, 256)
    assert (a_st.c_reads, a_st.c_writes) == (1, 2)
    # b_stationary: A nt=2 times: 64; B once: 32; C as above: 160.
    b_st = _t(4, 4, 4, 2, 2, 2, 2, "b_stationary")
    assert (b_st.a_bytes, b_st.b_bytes, b_st.c_bytes, b_st.bytes) == (64, 32, 160, 256)
    assert b_st.intensity == pytest.approx(0.5)


def test_ragged_sizes_by_hand():
    # M=5, N=3, K=7, tiles 2x2x4, 4-byte elements: mt = ceil(5/2) = 3, nt = ceil(3/2) = 2, kt = ceil(7/4) = 2.
    # A has 35 elements, B 21, C 15; edge tiles move only their real elements.
    os_ = _t(5, 3, 7, 2, 2, 4, 4, "output_stationary")
    assert (os_.a_bytes, os_.b_bytes, os_.c_bytes) == (2 * 35 * 4, 3 * 21 * 4, 15 * 4)  # 280, 252, 60
    assert os_.bytes == 592 and os_.flops == 210
    a_st = _t(5, 3, 7, 2, 2, 4, 4, "a_stationary")
    # A once 140; B 3 times 252; C: 15 * (1 round trip * 2 * 4 + 4) = 180
    assert (a_st.a_bytes, a_st.b_bytes, a_st.c_bytes, a_st.bytes) == (140, 252, 180, 572)
    b_st = _t(5, 3, 7, 2, 2, 4, 4, "b_stationary")
    # A twice 280; B once 84; C 180
    assert (b_st.a_bytes, b_st.b_bytes, b_st.c_bytes, b_st.bytes) == (280, 84, 180, 544)


def test_k_within_one_tile_has_no_partial_sums():
    # M=N=2, K=3 <= tk=8: kt = 1, so a_stationary writes C once, like output_stationary.
    # tiles 1x1: mt = nt = 2. a_stationary: A once 6*2 = 12; B twice 2*6*2 = 24; C 4*2 = 8.
    a_st = _t(2, 2, 3, 1, 1, 8, 2, "a_stationary")
    assert (a_st.a_bytes, a_st.b_bytes, a_st.c_bytes, a_st.bytes) == (12, 24, 8, 44)
    assert (a_st.c_reads, a_st.c_writes) == (0, 1)
    # output_stationary: A twice 24; B twice 24; C 8.
    assert _t(2, 2, 3, 1, 1, 8, 2, "output_stationary").bytes == 56


def test_one_tile_covering_everything_is_compulsory_traffic():
    for t in tiling.all_dataflows(8, 8, 8, 8, 8, 8, 2):
        assert t.bytes == tiling.compulsory_bytes(8, 8, 8, 2) == 3 * 64 * 2
    # tiles larger than the matrix are fine (one partial tile)
    assert _t(3, 3, 3, 64, 64, 64, 4, "b_stationary").bytes == tiling.compulsory_bytes(3, 3, 3, 4)


def test_output_and_accumulator_sizes():
    # fp16 in, fp32 out, partial sums in fp32: M=N=K=4, tiles 2x2x2.
    t = _t(4, 4, 4, 2, 2, 2, 2, "a_stationary", out_bytes=4, acc_bytes=4)
    assert t.c_bytes == 16 * (2 * 4 + 4)
    t = _t(4, 4, 4, 2, 2, 2, 2, "a_stationary", acc_bytes=2)
    assert t.c_bytes == 16 * (2 * 2 + 2)


def test_all_dataflows_order_and_names():
    names = [t.dataflow for t in tiling.all_dataflows(64, 64, 64, 16, 16, 16, 2)]
    assert names == ["output_stationary", "a_stationary", "b_stationary"]


def test_grouped_l2_reuse_by_hand():
    # M=8, N=4, K=2, tiles 2x2x2, 1-byte elements: mt = 4, nt = 2. No reuse: A 2*16 = 32, B 4*8 = 32, C 32.
    assert _t(8, 4, 2, 2, 2, 2, 1, "output_stationary").bytes == 96
    # Groups of 2 tile rows: A once (16), B once per group: ceil(4/2) = 2 times (16), C 32 -> 64.
    g = tiling.grouped_l2_traffic(8, 4, 2, 2, 2, 2, 1, group_m=2)
    assert (g.a_bytes, g.b_bytes, g.c_bytes, g.bytes) == (16, 16, 32, 64)
    assert g.intensity == pytest.approx(2 * 8 * 4 * 2 / 64)


def test_bound_time_takes_the_slower_ceiling():
    t = _t(4, 4, 4, 2, 2, 2, 2, "output_stationary")  # 160 bytes, 128 flops
    # memory: 160 B / 100 GB/s = 1.6 ns; compute: 128 / 0.1 TFLOP/s = 1.28 ns -> memory bound, 1.6 ns
    assert tiling.bound_time_s(t, t.flops, 100.0, 0.1) == pytest.approx(1.6e-9)
    assert tiling.bound_kind(t, t.flops, 100.0, 0.1) == "memory"
    # compute: 128 / 0.01 TFLOP/s = 12.8 ns beats 1.6 ns
    assert tiling.bound_time_s(t, t.flops, 100.0, 0.01) == pytest.approx(12.8e-9)
    assert tiling.bound_kind(t, t.flops, 100.0, 0.01) == "compute"


def test_a_larger_output_tile_never_moves_more_bytes():
    sizes = (4096, 4096, 4096)
    small = _t(*sizes, 64, 64, 32, 2, "output_stationary")
    large = _t(*sizes, 128, 256, 64, 2, "output_stationary")
    assert large.bytes < small.bytes
    assert large.bytes >= tiling.compulsory_bytes(*sizes, 2)


@pytest.mark.parametrize(
    "args,exc,match",
    [
        ((0, 4, 4, 2, 2, 2, 2, "output_stationary"), ValueError, "M must be positive"),
        ((4, 4, 4, 2, 0, 2, 2, "output_stationary"), ValueError, "tn must be positive"),
        ((4, 4, 4, 2, 2, -1, 2, "a_stationary"), ValueError, "tk must be positive"),
        ((4, 4, 4, 2, 2, 2, 0, "a_stationary"), ValueError, "dtype_bytes must be positive"),
        ((4, 4, 4, 2, 2, 2, 2, "weight_stationary"), ValueError, "unknown dataflow"),
        ((4.0, 4, 4, 2, 2, 2, 2, "output_stationary"), TypeError, "M must be an int"),
        ((True, 4, 4, 2, 2, 2, 2, "output_stationary"), TypeError, "M must be an int"),
    ],
)
def test_bad_arguments(args, exc, match):
    with pytest.raises(exc, match=match):
        tiling.tile_traffic(*args)


def test_bad_ceilings():
    t = _t(4, 4, 4, 2, 2, 2, 2, "output_stationary")
    with pytest.raises(ValueError, match="bandwidth_gbs"):
        tiling.bound_time_s(t, 1, 0, 1)
    with pytest.raises(ValueError, match="peak_tflops"):
        tiling.bound_time_s(t, 1, 1, -2)


def test_project_kernel_tilings_feed_the_model():
    from gpubench.kernels.gemm.config import kernel_tilings

    for arch in (8, 9):
        tilings = kernel_tilings(arch)
        assert {"triton", "cuda_naive", "cuda_smem", "cuda_simt", "cuda_mma"} <= set(tilings)
        assert ("triton_persistent_tma" in tilings) == (arch == 9)
        for tm, tn, tk, dataflow in tilings.values():
            t = tiling.tile_traffic(4096, 4096, 4096, tm, tn, tk, 2, dataflow)
            assert t.bytes >= tiling.compulsory_bytes(4096, 4096, 4096, 2)
    assert kernel_tilings()["cuda_simt"] == (128, 128, 8, "output_stationary")


# ---- the `gpubench tiling` subcommand ----


def _cli(argv, capsys):
    from gpubench.cli import main

    rc = main(["tiling", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


SMALL = ["--M", "4", "--N", "4", "--K", "4", "--tm", "2", "--tn", "2", "--tk", "2"]


def test_cli_json_lists_every_dataflow(capsys):
    rc, out, _ = _cli([*SMALL, "--dtype", "fp16", "--json"], capsys)
    assert rc == 0
    rows = json.loads(out)
    assert [r["dataflow"] for r in rows] == ["output_stationary", "a_stationary", "b_stationary"]
    assert [r["bytes"] for r in rows] == [160, 256, 256]  # the hand-worked case above
    assert rows[0]["a_bytes"] == 64 and rows[0]["bound_s"] is None


def test_cli_with_ceilings_gives_bounds(capsys):
    rc, out, _ = _cli(
        [*SMALL, "--dtype", "fp16", "--json", "--bandwidth-gbs", "100", "--peak-tflops", "0.1"], capsys
    )
    assert rc == 0
    rows = json.loads(out)
    assert rows[0]["bound_s"] == pytest.approx(1.6e-9) and rows[0]["bound"] == "memory"


def test_cli_group_m_adds_the_l2_row(capsys):
    rc, out, _ = _cli(
        [
            "--M",
            "8",
            "--N",
            "4",
            "--K",
            "2",
            "--tm",
            "2",
            "--tn",
            "2",
            "--tk",
            "2",
            "--dtype",
            "fp32",
            "--json",
            "--group-m",
            "2",
        ],
        capsys,
    )
    rows = json.loads(out)
    assert rc == 0 and rows[-1]["dataflow"] == "output_stationary_grouped_l2"
    assert rows[-1]["bytes"] == 4 * 64  # the hand-worked grouped case, in 4-byte elements


def test_cli_text_output(capsys):
    rc, out, _ = _cli([*SMALL, "--dtype", "bf16"], capsys)
    assert rc == 0
    assert "output_stationary" in out and "no ceilings given" in out


def test_cli_ceilings_from_the_spec_database(capsys):
    rc, out, _ = _cli([*SMALL, "--dtype", "fp16", "--json", "--gpu", "h100_sxm5"], capsys)
    rows = json.loads(out)
    spec = get_spec("h100_sxm5")
    assert rc == 0
    for r in rows:  # the roofline bound on the H100's datasheet: max(flops / peak, bytes / bandwidth)
        expected = max(r["flops"] / (spec.peaks["fp16"] * 1e12), r["bytes"] / (spec.mem_bandwidth_gbs * 1e9))
        assert r["bound_s"] == pytest.approx(expected)
    rc, _, err = _cli([*SMALL, "--gpu", "nope"], capsys)
    assert rc == 2 and "unknown GPU" in err


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--M", "0", "--N", "4", "--K", "4", "--tm", "2", "--tn", "2", "--tk", "2"], "--M: 0 elements"),
        (["--M", "4", "--N", "4", "--K", "4", "--tm", "2", "--tn", "-2", "--tk", "2"], "--tn: -2 elements"),
        ([*SMALL, "--bandwidth-gbs", "100"], "both"),
        ([*SMALL, "--bandwidth-gbs", "0", "--peak-tflops", "1"], "--bandwidth-gbs: 0 GB/s is out of range"),
        ([*SMALL, "--bandwidth-gbs", "nan", "--peak-tflops", "1"], "'nan' is not a finite number (GB/s)"),
        ([*SMALL, "--bandwidth-gbs", "1", "--peak-tflops", "inf"], "'inf' is not a finite number (TFLOP/s)"),
        ([*SMALL, "--gpu", "h100_sxm5", "--bandwidth-gbs", "1"], "--gpu and --bandwidth-gbs cannot be given"),
        ([*SMALL, "--group-m", "0"], "group-m"),
    ],
)
def test_cli_bad_arguments_exit_2(argv, match, capsys):
    rc, _, err = _cli(argv, capsys)
    assert rc == 2 and match in err


def test_cli_unparseable_arguments_exit_2(capsys):
    assert _cli(["--M", "x", "--N", "4", "--K", "4", "--tm", "2", "--tn", "2", "--tk", "2"], capsys)[0] == 2
    assert _cli([*SMALL, "--dtype", "fp64"], capsys)[0] == 2


def test_tiling_runs_without_torch():
    """The model and the CLI module import neither torch nor triton (`gpubench tiling` runs anywhere)."""
    code = (
        "import sys, gpubench.roofline.tiling, gpubench.roofline.tiling_cli; "
        "print('torch' in sys.modules, 'triton' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]
