"""The systolic-array model on small cases worked by hand: folds, fill/drain/skew, mapping, utilisation,
SRAM and DRAM counts, stalls, conv lowering, and the input readers' checks."""

import itertools
import math

import pytest

from gpubench.systolic import memory, model
from gpubench.systolic.analysis import evaluate, evaluate_layer
from gpubench.systolic.config import ArrayConfig, parse_scalesim_cfg, parse_suite_config, read_config
from gpubench.systolic.conv import ConvShape
from gpubench.systolic.errors import SystolicInputError
from gpubench.systolic.topology import conv_layer, gemm_layer, parse_csv, parse_suite

EXACT = 0  # closed forms are integers: compared exactly
REL = 1e-12  # and ratios of integers to within rounding


def cfg(rows=32, cols=32, dataflow="os", kb=64, bandwidth=None, **kw):
    bw = None if bandwidth is None else (bandwidth,) * 3
    return ArrayConfig(
        rows=rows, cols=cols, dataflow=dataflow, ifmap_kb=kb, filter_kb=kb, ofmap_kb=kb, bandwidth=bw, **kw
    )


# ------------------------------------------------------------------------------------------ compute side


@pytest.mark.parametrize(
    "df,expected_scalesim,expected_paper",
    [
        # 16x16x16 on 32x32, one fold. OS: T + (R-1) + (C-1) = 16 + 62 = 78 cycles, reported as index 77;
        # the paper adds the R = 32 drain: 110. WS/IS: R load + T + skew = 32 + 16 + 62 = 110 (index 109).
        ("os", 77, 110),
        ("ws", 109, 110),
        ("is", 109, 110),
    ],
)
def test_single_fold_cycles(df, expected_scalesim, expected_paper):
    for cycle_model, expected in (("scalesim", expected_scalesim), ("paper", expected_paper)):
        c = model.compute(16, 16, 16, 32, 32, df, cycle_model)
        assert (c.row_folds, c.col_folds) == (1, 1)
        assert c.cycles == expected
    assert model.compute(16, 16, 16, 32, 32, df).mapping_efficiency == pytest.approx(0.25, rel=REL)


def test_fold_terms_add_up_and_name_the_differences():
    os_sim = model.fold_timing("os", 8, 4, 100, "scalesim")
    os_paper = model.fold_timing("os", 8, 4, 100, "paper")
    ws = model.fold_timing("ws", 8, 4, 100, "scalesim")
    assert (os_sim.load, os_sim.stream, os_sim.skew, os_sim.drain) == (0, 100, 7 + 3, 0)
    assert os_paper.drain == 8 and os_paper.total == 2 * 8 + 4 + 100 - 2  # the paper's 2R + C + T - 2
    assert ws.total == 2 * 8 + 4 + 100 - 2 and ws.to_dict()["total"] == ws.total


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_exact_multiples_fold_count_and_full_mapping(df):
    m, n, k = 64, 96, 128  # every spatial extent a multiple of 32
    c = model.compute(m, n, k, 32, 32, df)
    sr, sc, t = model.spatio_temporal(df, m, n, k)
    assert (c.row_folds, c.col_folds) == (sr // 32, sc // 32)
    assert c.mapping_efficiency == 1.0
    fold = t + 62 + (0 if df == "os" else 32)
    assert c.cycles == c.folds * fold - 1


def test_ragged_edges_mapping_efficiency():
    # OS 100 x 50 outputs on 32x32: row folds use 32,32,32,4 rows, column folds 32,18: the unweighted mean
    # over the 8 folds is (100 / 128) * (50 / 64).
    c = model.compute(100, 50, 70, 32, 32, "os")
    assert (c.row_folds, c.col_folds) == (4, 2)
    assert c.mapping_efficiency == pytest.approx((100 / 128) * (50 / 64), rel=REL)
    assert c.cycles == 8 * (70 + 62) - 1
    # compute utilisation: mapping x T / fold length (OS); WS/IS divide by the fold length + C - 1
    assert c.compute_utilization == pytest.approx(c.mapping_efficiency * 70 / 132, rel=REL)
    w = model.compute(100, 50, 70, 32, 32, "ws")
    assert w.compute_utilization == pytest.approx(w.mapping_efficiency * 100 / (w.fold.total + 31), rel=REL)
    p = model.compute(100, 50, 70, 32, 32, "ws", "paper")
    assert p.compute_utilization == pytest.approx(p.mapping_efficiency * 100 / p.fold.total, rel=REL)


def test_rows_and_columns_are_not_interchangeable():
    # OS puts M on the rows and N on the columns: a 64 x 8 GEMM is one fold on a 64x8 array, 8 on 8x64.
    tall, wide = model.compute(64, 8, 10, 64, 8, "os"), model.compute(64, 8, 10, 8, 64, "os")
    assert (tall.folds, wide.folds) == (1, 8)
    assert tall.mapping_efficiency == 1.0 and wide.mapping_efficiency == pytest.approx(1 / 8, rel=REL)
    # IS puts K on the rows and M on the columns
    c = model.compute(m=64, n=5, k=8, rows=8, cols=64, dataflow="is")
    assert (c.row_folds, c.col_folds, c.t) == (1, 1, 5)


def test_paper_model_differs_by_the_os_drain_and_the_last_cycle_index():
    for df, extra_per_fold in (("os", 32), ("ws", 0), ("is", 0)):
        sim, paper = model.compute(100, 50, 70, 32, 32, df), model.compute(100, 50, 70, 32, 32, df, "paper")
        assert paper.cycles - sim.cycles == sim.folds * extra_per_fold + 1


def test_unknown_dataflow_and_cycle_model():
    with pytest.raises(SystolicInputError, match="unknown dataflow 'xs'"):
        model.compute(4, 4, 4, 4, 4, "xs")
    with pytest.raises(SystolicInputError, match="cycle model 'exact'"):
        model.compute(4, 4, 4, 4, 4, "os", "exact")


# ------------------------------------------------------------------------------------------- memory side


@pytest.mark.parametrize(
    "df,sram_reads,sram_writes",
    [
        # (M, N, K) = (100, 50, 70) on 32x32: OS folds 4 x 2, WS 3 x 2 (K x N), IS 3 x 4 (K x M)
        ("os", {"ifmap": 2 * 100 * 70, "filter": 4 * 70 * 50}, {"ofmap": 100 * 50}),
        ("ws", {"ifmap": 2 * 100 * 70, "filter": 70 * 50}, {"ofmap": 3 * 100 * 50}),
        ("is", {"ifmap": 100 * 70, "filter": 4 * 70 * 50}, {"ofmap": 3 * 100 * 50}),
    ],
)
def test_sram_accesses(df, sram_reads, sram_writes):
    r = evaluate_layer(gemm_layer("g", 100, 50, 70), cfg(dataflow=df))
    assert r.words("sram_reads") == sram_reads and r.words("sram_writes") == sram_writes


def test_dram_reads_once_when_resident_and_per_pass_when_not():
    layer = gemm_layer("g", 256, 256, 256)  # 65536-word operands
    big = evaluate_layer(layer, cfg(dataflow="os", kb=256))  # halves of 131072 words: everything resident
    assert big.words("dram_reads") == {"ifmap": 65536, "filter": 65536}
    small = evaluate_layer(layer, cfg(dataflow="os", kb=16))  # halves of 8192 words
    # the input is streamed again for each of the 8 column folds; a column fold's 256 x 32 weights fit
    assert small.words("dram_reads") == {"ifmap": 8 * 65536, "filter": 65536}
    ws = evaluate_layer(layer, cfg(dataflow="ws", kb=16))
    assert ws.words("dram_reads") == {"ifmap": 8 * 65536, "filter": 65536}
    assert ws.words("dram_writes") == {"ofmap": 8 * 65536}  # partial sums once per row (K) fold
    is_ = evaluate_layer(layer, cfg(dataflow="is", kb=16))
    assert is_.words("dram_reads") == {"ifmap": 65536, "filter": 8 * 65536}


def test_os_weights_reread_per_row_fold_when_a_column_fold_does_not_fit():
    layer = gemm_layer("g", 128, 64, 1024)  # a column fold's weights: 1024 x 32 = 32768 words
    r = evaluate_layer(layer, cfg(dataflow="os", kb=32))  # halves of 16384 words
    assert r.words("dram_reads")["filter"] == 4 * 1024 * 64


def test_stalls_zero_without_bandwidth_and_bandwidth_bound_when_short():
    layer = gemm_layer("g", 256, 256, 256)
    calc = evaluate_layer(layer, cfg(dataflow="os", kb=16))
    assert calc.stall_cycles == 0
    compute_lines = 64 * (256 + 62)
    needed = calc.to_dict()["bandwidth_needed"]["ifmap"]
    assert needed == pytest.approx((8 * 65536 - 8192) / compute_lines, rel=REL)
    short = evaluate_layer(layer, cfg(dataflow="os", kb=16, bandwidth=4))
    # the ifmap port moves 8 x 65536 words, one 8192-word half before the first cycle, at 4 words/cycle
    assert short.stall_cycles == math.ceil((8 * 65536 - 8192) / 4) - compute_lines
    assert short.cycles == short.compute_cycles + short.stall_cycles
    assert short.stalls.prefetch_cycles == 8192 // 4
    ample = evaluate_layer(layer, cfg(dataflow="os", kb=16, bandwidth=needed * 1.01))
    assert ample.stall_cycles == 0


def test_ofmap_buffer_absorbs_writes_that_drain_after_the_last_cycle():
    # WS writes 3 x 64 x 48 partial sums; a 32768-word half holds them all: they drain after the layer.
    r = evaluate_layer(gemm_layer("g", 64, 48, 40), cfg(16, 8, "ws", kb=64, bandwidth=4))
    assert r.stall_cycles == 0 and r.stalls.drain_cycles == 3 * 64 * 48 // 4


@pytest.mark.parametrize(
    "df,operand,kb,what",
    [("ws", "filter", 1, "weight tile"), ("is", "ifmap", 1, "input tile"), ("os", "ofmap", 1, "output tile")],
)
def test_sram_too_small_for_one_fold(df, operand, kb, what):
    config = cfg(64, 64, df).replace(**{f"{operand}_kb": kb})
    with pytest.raises(
        SystolicInputError, match=rf"{operand} SRAM of 1 KB .* layer 'big' .*{what} needs 4096"
    ):
        evaluate_layer(gemm_layer("big", 256, 256, 256), config)


def test_array_and_sram_of_size_zero_are_rejected():
    with pytest.raises(SystolicInputError, match="rows must be a positive integer, got 0"):
        ArrayConfig(rows=0)
    with pytest.raises(SystolicInputError, match="filter SRAM size must be > 0 KB"):
        ArrayConfig(filter_kb=0)
    with pytest.raises(SystolicInputError, match="unknown dataflow 'rs'"):
        ArrayConfig(dataflow="rs")


# ----------------------------------------------------------------------------------------- convolutions


def _addresses(conv: ConvShape, columns=None) -> set:
    """Brute force: every (row, col, channel) input address the lowered matrix's columns read."""
    window = conv.filter_h * conv.filter_w * conv.channels
    out = set()
    for y, x in itertools.product(range(conv.ofmap_h), range(conv.ofmap_w)):
        for j in columns if columns is not None else range(window):
            fh, rest = divmod(j, conv.filter_w * conv.channels)
            fw, c = divmod(rest, conv.channels)
            r, s = y * conv.stride_h + fh, x * conv.stride_w + fw
            if r < conv.ifmap_h and s < conv.ifmap_w:
                out.add((r, s, c))
    return out


def test_conv_lowering_as_scalesim():
    layer = conv_layer("c", 224, 224, 11, 11, 3, 96, 4)  # AlexNet conv1: ceil(213 / 4) + 1 = 55 outputs
    assert (layer.conv.ofmap_h, layer.m, layer.n, layer.k) == (55, 55 * 55, 96, 11 * 11 * 3)
    dw = conv_layer("dw", 16, 16, 3, 3, 64, 1, depthwise=True)
    assert (dw.k, dw.repeat, dw.macs) == (9, 64, 14 * 14 * 9 * 64)


@pytest.mark.parametrize(
    "shape", [(7, 7, 3, 3, 4, 1, 1), (10, 9, 3, 2, 2, 1, 4), (11, 11, 3, 3, 5, 2, 2), (9, 9, 2, 2, 3, 3, 3)]
)
def test_conv_input_words_match_brute_force(shape):
    h, w, fh, fw, c, sh, sw = shape
    conv = ConvShape(h, w, fh, fw, c, 8, sh, sw)
    assert conv.input_words() == len(_addresses(conv))
    window = fh * fw * c
    for start, count in ((0, window), (0, 3), (2, 5), (window - 4, 4)):
        cols = range(start, min(window, start + count))
        assert conv.window_words(start, len(cols)) == len(_addresses(conv, cols)), (start, count)


def test_scalesim_topology_csvs():
    conv = parse_csv(
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
        "Num Filter, Strides,\nConv1, 7, 7, 3, 3, 8, 16, 1,\nDP_2, 5, 5, 3, 3, 4, 1, 1\n"
    )
    assert conv.format == "scalesim-conv" and [x.name for x in conv.layers] == ["Conv1", "DP_2"]
    assert (conv.layers[0].m, conv.layers[0].n, conv.layers[0].k) == (25, 16, 72)
    assert conv.layers[1].repeat == 4  # "DP" in the name: depthwise, a row without trailing comma kept whole
    gemm = parse_csv("Layer, M, N, K,\nfc1, 10, 20, 30,\nfc2 , 1,2,3,1:1,\n")
    assert gemm.format == "scalesim-gemm" and [(x.m, x.n, x.k) for x in gemm.layers] == [
        (10, 20, 30),
        (1, 2, 3),
    ]


@pytest.mark.parametrize(
    "text,message",
    [
        ("Layer, M, N, K,\ng, 4, 0, 4,\n", r"line 2 \(layer 'g'\): N must be a positive integer, got 0"),
        ("Layer, M, N, K,\n\ng, -4, 4, 4,\n", r"line 3 \(layer 'g'\): M must be a positive integer, got -4"),
        ("Layer, M, N, K,\ng, 4, 4,\n", "line 2: expected 4 fields"),
        ("Layer, M, N, K,\ng, 4, 4, 4, 2:4,\n", "line 2: sparsity ratio '2:4' is not modelled"),
        ("g, 4, 4, 4,\n", "line 1: looks like a data row"),
        (
            "Layer name, a, b, c, d, e, f, g,\nc, 3, 3, 5, 3, 1, 1, 1,\n",
            "filter height 5 exceeds IFMAP height 3",
        ),
        ("Layer, M, N, K,\n", "no layers after the header"),
    ],
)
def test_topology_csv_errors_name_the_row_and_field(text, message):
    with pytest.raises(SystolicInputError, match=message):
        parse_csv(text, "t.csv")


def test_suite_topology_and_its_errors():
    t = parse_suite(
        {
            "layer": [
                {"name": "a", "m": 4, "n": 5, "k": 6, "repeat": 2},
                {
                    "name": "b",
                    "ifmap_h": 8,
                    "ifmap_w": 8,
                    "filter_h": 3,
                    "filter_w": 3,
                    "channels": 2,
                    "filters": 4,
                    "stride": [2, 1],
                },
            ]
        }
    )
    assert t.layers[0].macs == 2 * 4 * 5 * 6 and t.layers[1].conv.stride_h == 2 and t.layers[1].m == 4 * 6
    for layer, message in (
        ({"m": 4, "n": 0, "k": 1}, "layer 1 .*'n' must be a positive integer"),
        ({"m": 4, "n": 4}, "missing field 'k'"),
        ({"m": 1, "n": 1, "k": 1, "q": 2}, "'q'"),
        ({"type": "pool"}, "'type' must be 'gemm' or 'conv'"),
    ):
        with pytest.raises(SystolicInputError, match=message):
            parse_suite({"layer": [layer]}, "t.toml")


# ----------------------------------------------------------------------------------------------- configs

SCALESIM_CFG = """[general]
run_name = r
[architecture_presets]
ArrayHeight:    16
ArrayWidth:     8
IfmapSramSzkB:  32
FilterSramSzkB: 16
OfmapSramSzkB:  8
Bandwidth : 6
Dataflow : {df}
[layout]
IfmapSRAMBankBandwidth: 3
FilterSRAMBankBandwidth: 5
[run_presets]
InterfaceBandwidth: {mode}
"""


def test_scalesim_cfg():
    c = parse_scalesim_cfg(SCALESIM_CFG.format(df="is", mode="CALC"), "x.cfg")
    assert (c.rows, c.cols, c.dataflow, c.ifmap_kb, c.filter_kb, c.ofmap_kb, c.bandwidth) == (
        16,
        8,
        "is",
        32,
        16,
        8,
        None,
    )
    user = parse_scalesim_cfg(SCALESIM_CFG.format(df="os", mode="USER"), "x.cfg")
    assert user.bandwidth == (3, 5, 6)  # SCALE-Sim 3.0.0: bank bandwidths feed the read SRAMs
    with pytest.raises(
        SystolicInputError, match=r"x.cfg: \[architecture_presets\] Dataflow: unknown dataflow"
    ):
        parse_scalesim_cfg(SCALESIM_CFG.format(df="rs", mode="CALC"), "x.cfg")
    with pytest.raises(SystolicInputError, match="ArrayWidth is missing"):
        parse_scalesim_cfg(
            SCALESIM_CFG.format(df="os", mode="CALC").replace("ArrayWidth:     8", ""), "x.cfg"
        )


def test_suite_config_and_default():
    c = parse_suite_config(
        {"rows": 8, "cols": 4, "sram_kb": 2, "dram_gbs": 16, "clock_mhz": 500, "word_bytes": 2}
    )
    assert c.ifmap_kb == c.ofmap_kb == 2 and c.bandwidth == (16.0, 16.0, 16.0)  # 16 GB/s / (500 MHz x 2 B)
    with pytest.raises(SystolicInputError, match="unknown field 'colls'"):
        parse_suite_config({"colls": 4})
    d = read_config()
    assert (d.rows, d.cols, d.dataflow, d.ifmap_kb, d.bandwidth) == (32, 32, "ws", 64, None)


def test_topology_totals_and_weighting():
    t = parse_csv("Layer, M, N, K,\na, 32, 32, 32,\nb, 64, 16, 8,\n")
    r = evaluate(t, cfg())
    assert r.total_cycles == sum(x.cycles for x in r.layers)
    weights = [x.compute_cycles for x in r.layers]
    expected = sum(w * x.compute.mapping_efficiency for w, x in zip(weights, r.layers)) / sum(weights)
    assert r.mapping_efficiency == pytest.approx(expected, rel=REL)
    assert memory.fold_needs(t.layers[1], 32, 32, "ws")["filter"][0] == 8 * 16
