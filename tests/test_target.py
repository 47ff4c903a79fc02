"""Predictions that never mislead: the rule for a unit the GPU lacks (roofline.rates), the one resolution of a
GPU target (roofline.target: names, spec files, what-ifs, ceilings of that model only) in predict, model,
systolic and profile-module, and the ridge points of `gpubench specs`. All on the committed H100 run."""

import json
from pathlib import Path

import pytest

from gpubench.roofline import predict_cli, specs_cli
from gpubench.roofline.rates import compute_rate
from gpubench.roofline.roof import Ceilings
from gpubench.roofline.specs import get_spec
from gpubench.roofline.target import TargetError, resolve_target
from gpubench.roofline.whatif import WhatIfError, parse_what_if
from gpubench.systolic import cli as systolic_cli
from gpubench.transformer import model_cli
from tests.support import realdata

RESULTS = str(realdata.H100_RESULTS)
H100_CEILINGS = str(realdata.H100_CEILINGS)
GEMMS = str(Path(__file__).resolve().parent.parent / "systolic" / "data" / "tiny_transformer.csv")
V100 = "v100_sxm2_16gb"


def _peaks(key: str) -> dict:
    return dict(get_spec(key).peaks)


# ------------------------------------------------------------------------------------- the one rule


@pytest.mark.parametrize(
    "gpu, dtype, tc, used, says",
    [
        ("h100_sxm5", "bf16", True, "bf16", None),
        ("h100_sxm5", "bf16", False, "fp32", None),  # a norm in bf16 computes in fp32 registers
        (V100, "bf16", True, "fp32", "no bf16 tensor cores (compute capability 7.0): predicted as fp32"),
        ("t4", "tf32", True, "fp32", "no tf32 tensor cores (compute capability 7.5)"),
        (V100, "fp16", True, "fp16", None),
        (V100, "int8", True, None, "no int8 tensor cores (compute capability 7.0): nothing else runs"),
        ("a100_sxm4_40gb", "fp8", True, None, "no fp8 tensor cores (compute capability 8.0)"),
        ("jetson_agx_orin_64gb", "bf16", True, None, "no datasheet bf16 rate for NVIDIA Jetson AGX Orin"),
    ],
)
def test_the_rule_for_a_unit_the_gpu_lacks(gpu, dtype, tc, used, says):
    spec = get_spec(gpu)
    rate = compute_rate(spec.peaks, dtype, tc, spec)
    assert rate.used == used
    if used is None:
        assert rate.tflops is None and rate.refused and says in rate.refused
    else:
        assert rate.tflops == pytest.approx(spec.peaks[used])
        assert (rate.note is None) if says is None else (says in rate.fallback)


def test_a_rate_not_measured_is_refused_not_taken_from_the_datasheet():
    measured = Ceilings("measured", 3000.0, {"fp32": 60.0})
    rate = compute_rate(measured.peaks, "bf16", True, get_spec("h100_sxm5"), "measured")
    assert rate.refused == "no measured bf16 rate for NVIDIA H100 SXM5 80GB: no prediction"


# ------------------------------------------------------------------------- predict and model on a V100


def _predict(capsys, *args, path: str = RESULTS) -> tuple[int, list[dict], str]:
    code = predict_cli.main([path, *args, "--json"])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out else []), out.err


def test_predict_on_a_v100_gives_no_memory_only_time_for_bf16_gemms(capsys):
    """The H100's cuBLAS bf16 4096^3 (177.8 us) once came out at 111.8 us on a V100 from DRAM alone."""
    code, rows, _ = _predict(capsys, "--gpu", V100)
    assert code == 0
    gemm = [r for r in rows if r["key"]["workload"] == "gemm" and r["key"]["dtype"] == "bf16"]
    fp32 = get_spec(V100).peaks["fp32"]
    assert gemm and all(r["limit"] in ("SIMT", "DRAM") and "no bf16 tensor cores" in r["note"] for r in gemm)
    rec = realdata.record(realdata.h100(), "gemm", "torch", "bf16", M=4096, N=4096, K=4096)
    (row,) = [r for r in gemm if r["record"] == rec.label]
    assert row["predicted_s"] >= rec.flops / (fp32 * 1e12) > 8e-3  # fp32 SIMT at 15.7 TFLOP/s: 8.8 ms
    assert row["carried_s"] >= row["predicted_s"] and not row["refused"]


def test_predict_lists_refused_records_and_exits_1(capsys, tmp_path):
    from gpubench import results

    h100 = realdata.h100()
    rec = realdata.record(h100, "gemm", "torch", "bf16", M=4096, N=4096, K=4096)
    rec.compute_dtype = "fp8"  # as if it ran on fp8 tensor cores: the T4 has none, and no fallback
    path = tmp_path / "fp8.json"
    path.write_text(results.dumps(h100))
    code, rows, err = _predict(capsys, "--gpu", "t4", path=str(path))
    assert code == 1 and f"1 of {len(rows)} records refused" in err
    (row,) = [r for r in rows if r["refused"]]
    assert row["record"] == rec.label and "no fp8 tensor cores" in row["note"]
    assert row["predicted_s"] is None and row["carried_s"] is None and row["speedup"] is None


def _model(capsys, *args) -> tuple[int, dict, str]:
    code = model_cli.main(["llama-7b", "--phase", "prefill", "--seq", "2048", *args, "--json"])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out else {}), out.err


def test_model_on_a_v100_in_bf16_is_no_faster_than_its_tensor_cores_allow(capsys):
    """bf16 once printed 39.9 ms (memory only), faster than the same V100's fp16 tensor cores (244 ms)."""
    code, bf16, _ = _model(capsys, "--gpu", V100)
    assert code == 0
    _, fp16, _ = _model(capsys, "--gpu", V100, "--dtype", "fp16")
    assert bf16["predicted_s"] > fp16["predicted_s"] > 0.1
    assert any("no bf16 tensor cores" in n and "fp32" in n for n in bf16["notes"])
    code, int8, err = _model(capsys, "--gpu", V100, "--weights", "int8")
    assert code == 1 and int8["predicted_s"] is None and int8["refused"]
    assert "refused: qkv_proj" in err and "no int8 tensor cores" in err


def test_systolic_int8_on_a_v100_has_no_gpu_time(capsys):
    code = systolic_cli.main([GEMMS, "--gpu", V100, "--dtype", "int8", "--json"])
    out = capsys.readouterr()
    assert code == 1 and "no int8 tensor cores" in out.err
    g = json.loads(out.out)["gpu"]
    assert g["refused"] and g["gpu_time_s"] is None and all(x["gpu_time_s"] is None for x in g["layers"])


# ------------------------------------------------------------------------------ spec files and what-ifs

DOUBLE_BW = (
    '[gpus.h100_hbm_fast]\nbase = "h100_sxm5"\nname = "H100, twice the bandwidth"\nmem_bandwidth_gbs = 6700\n'
)


@pytest.fixture
def double_bw(tmp_path) -> str:
    path = tmp_path / "fast.toml"
    path.write_text(DOUBLE_BW)
    return str(path)


def _by_record(rows: list[dict]) -> dict[str, dict]:
    return {r["record"]: r for r in rows}


def test_a_spec_file_and_a_what_if_ask_the_same_question_of_predict(capsys, double_bw):
    _, base, _ = _predict(capsys, "--gpu", "h100_sxm5")
    _, spec, _ = _predict(capsys, "--spec-file", double_bw)
    _, what, _ = _predict(capsys, "--gpu", "h100_sxm5", "--what-if", "dram_bw=2x")
    rec = realdata.record(realdata.h100(), "vector_add", "triton", "fp32", n=1 << 26)
    b, s, w = (_by_record(rows)[rec.label] for rows in (base, spec, what))
    assert b["limit"] == s["limit"] == "DRAM"
    assert s["predicted_s"] == pytest.approx(b["predicted_s"] / 2) == pytest.approx(w["predicted_s"])
    assert s["gpu"] == "H100, twice the bandwidth" and "dram_bw=2x" in w["gpu"]
    gemm = realdata.record(realdata.h100(), "gemm", "torch", "bf16", M=8192, N=8192, K=8192)
    assert _by_record(spec)[gemm.label]["predicted_s"] == pytest.approx(
        _by_record(base)[gemm.label]["predicted_s"]
    )


def test_what_ifs_change_model_and_systolic_as_expected(capsys, double_bw):
    decode = ["llama-7b", "--phase", "decode", "--context", "2048", "--json"]
    times = {}
    for name, extra in {"base": ["--gpu", "h100_sxm5"], "file": ["--spec-file", double_bw],
                        "slow": ["--gpu", "h100_sxm5", "--what-if", "sm_clock=0.5x"]}.items():  # fmt: skip
        assert model_cli.main([*decode, *extra]) == 0
        times[name] = json.loads(capsys.readouterr().out)["predicted_s"]
    assert times["file"] == pytest.approx(times["base"] / 2, rel=0.02)  # decode streams its weights
    assert times["slow"] == pytest.approx(times["base"], rel=0.02)  # ... and does not care about clocks
    prefill = {}
    for name, extra in {"base": [], "slow": ["--what-if", "sm_clock=0.5x"]}.items():
        argv = ["llama-7b", "--phase", "prefill", "--seq", "2048", "--gpu", "h100_sxm5", *extra, "--json"]
        assert model_cli.main(argv) == 0
        prefill[name] = json.loads(capsys.readouterr().out)["operators"]
    for b, s in zip(prefill["base"], prefill["slow"]):  # half the clock: compute terms double, DRAM's not
        tb, ts = b["datasheet"]["predicted_s"], s["datasheet"]["predicted_s"]
        if b["datasheet"]["limit"] in ("tensor", "waves", "SIMT"):
            assert ts == pytest.approx(2 * tb), b["name"]
        else:
            assert tb <= ts <= 2 * tb and s["datasheet"]["terms"]["DRAM"] == b["datasheet"]["terms"]["DRAM"]
    assert any(b["datasheet"]["limit"] in ("tensor", "waves") for b in prefill["base"])
    sys_times = {}
    for name, extra in {"base": ["--gpu", "h100_sxm5"], "file": ["--spec-file", double_bw]}.items():
        assert systolic_cli.main([GEMMS, *extra, "--dtype", "bf16", "--json"]) == 0
        g = json.loads(capsys.readouterr().out)["gpu"]
        sys_times[name] = g["layers"]
        assert g["gpu_bandwidth_gbs"] == (6700 if name == "file" else 3350)
    for b, f in zip(sys_times["base"], sys_times["file"]):
        expected = b["gpu_time_s"] / 2 if b["gpu_bound"] == "memory" else b["gpu_time_s"]
        assert f["gpu_time_s"] <= b["gpu_time_s"] and f["gpu_time_s"] >= expected * 0.999


def test_what_ifs_are_read_and_checked():
    assert parse_what_if("dram_bw=6.7TB/s").value == pytest.approx(6700)
    assert parse_what_if("l2=100MiB").value == 100 * 2**20 and parse_what_if("sm_clock=2x").factor == 2
    t = resolve_target("h100_sxm5", what_if=["sm_clock=990MHz", "l2=100MiB"], ceilings=H100_CEILINGS)
    assert t.spec.peaks["fp32"] == pytest.approx(get_spec("h100_sxm5").peaks["fp32"] / 2)
    assert t.spec.l2_bytes == 100 * 2**20 and t.base.l2_bytes == 50 * 2**20
    assert t.measured.peaks["bf16"] == pytest.approx(realdata.h100().ceilings.ceilings.peaks["bf16"] / 2)
    assert t.spec.sources["l2_bytes"][0].title == "what-if l2=100MiB"
    for bad in ("dram_bw", "dram_bw=fast", "voltage=2x", "peak.fp7=2x", "l2=-1MiB"):
        with pytest.raises(WhatIfError, match="--what-if"):
            parse_what_if(bad)


MINE = '[gpus.mine]\nbase = "h100_sxm5"\n'


def test_the_documented_spec_file_example_loads(tmp_path):
    import re

    doc = (Path(__file__).resolve().parent.parent / "docs" / "model.md").read_text()
    (example,) = re.findall(r"```toml\n(.*?)```", doc, re.S)
    (tmp_path / "our.toml").write_text("\n".join(line.strip() for line in example.splitlines()))
    t = resolve_target(spec_file=str(tmp_path / "our.toml"))
    v100 = get_spec(V100)
    assert t.spec.key == "our_v100" and t.spec.peaks["fp32"] == pytest.approx(
        v100.peaks["fp32"] * 1245 / 1530
    )
    assert (
        t.spec.mem_bandwidth_gbs == v100.mem_bandwidth_gbs
        and t.spec.sources["peak_clock_mhz"][0].kind == "user"
    )


BROKEN = [
    (MINE + 'name = "Mine"\n\nsm_count = "many"\n', r"broken.toml:5: gpus.mine.sm_count: must be an integer"),
    (MINE + "mem_bandwith_gbs = 1\n", r"broken.toml:3: gpus.mine.mem_bandwith_gbs: unknown field"),
    ('[gpus.mine]\nbase = "h100"\n', r"broken.toml:2: gpus.mine.base: 'h100' is not a database GPU"),
    ('[gpus.mine]\nbase = "h100_sxm5"\n[gpus.mine.flops_per_clk_per_sm]\ntc_bf16 = 0\n',
     r"broken.toml:4: gpus.mine.flops_per_clk_per_sm.tc_bf16: must be a number > 0"),
    ('[gpus.mine\nbase = "h100_sxm5"\n', r"broken.toml: not valid TOML: .*line 1"),
]  # fmt: skip


@pytest.mark.parametrize("text, message", BROKEN)
def test_a_broken_spec_file_exits_2_naming_the_field_and_line(tmp_path, monkeypatch, capsys, text, message):
    monkeypatch.chdir(tmp_path)
    Path("broken.toml").write_text(text)
    commands = [
        lambda: predict_cli.main([RESULTS, "--spec-file", "broken.toml"]),
        lambda: model_cli.main(
            ["llama-7b", "--phase", "prefill", "--seq", "16", "--spec-file", "broken.toml"]
        ),
        lambda: systolic_cli.main([GEMMS, "--spec-file", "broken.toml"]),
    ]
    import re

    for command in commands:
        assert command() == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and re.search(message, err[0]), err


# -------------------------------------------------------------------- names and ceilings of another GPU


def test_an_ambiguous_name_lists_the_candidates_with_their_keys(capsys):
    code, _, err = _predict(capsys, "--gpu", "h100")
    assert code == 2 and "ambiguous GPU 'h100'" in err
    assert "NVIDIA H100 SXM5 80GB (h100_sxm5)" in err and "NVIDIA H100 PCIe 80GB (h100_pcie)" in err
    assert get_spec("h200").key == "h200_sxm" and get_spec("l40s").key == "l40s"  # one candidate: taken


def test_ceilings_of_another_gpu_model_are_refused_everywhere(capsys):
    """The H100's ceilings once came out as the H200's figures, speed-up 1.000 on every record."""
    code, _, err = _predict(capsys, "--gpu", "h200_sxm", "--ceilings", H100_CEILINGS)
    assert code == 2 and "measured on NVIDIA H100 80GB HBM3, not on NVIDIA H200 SXM 141GB" in err
    assert systolic_cli.main([GEMMS, "--gpu", "h200_sxm", "--ceilings", H100_CEILINGS]) == 2
    assert "not on NVIDIA H200 SXM 141GB" in capsys.readouterr().err
    with pytest.raises(TargetError, match="not on NVIDIA H200"):
        resolve_target("h200_sxm", ceilings=H100_CEILINGS)
    code, rows, _ = _predict(capsys, "--gpu", "h100_sxm5", "--ceilings", H100_CEILINGS)
    assert code == 0 and {r["ceilings"] for r in rows} == {"measured"}


def test_profile_module_refuses_ceilings_of_another_gpu_model():
    torch = pytest.importorskip("torch")
    from gpubench.transformer.measured.profile import profile_module

    with pytest.raises(ValueError, match="not on NVIDIA H200 SXM 141GB"):
        profile_module(torch.nn.ReLU(), torch.ones(4), gpu="h200_sxm", ceilings=H100_CEILINGS)


# ------------------------------------------------------------------------------------------- ridges


def test_ridge_points_per_dtype_and_memory_level(capsys):
    assert specs_cli.main(["h100_sxm5", "--ridge", "--ceilings", H100_CEILINGS, "--json"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)
    sheet, measured = doc["ridge"]["datasheet"], doc["ridge"]["measured"]
    assert sheet["bf16"]["DRAM"] == pytest.approx(989.43 * 1e3 / 3350, rel=1e-4) and set(sheet["bf16"]) == {
        "DRAM"
    }
    m = realdata.h100().ceilings.ceilings
    assert measured["bf16"]["L2"] == pytest.approx(m.peaks["bf16"] * 1e3 / m.l2_gbs)
    assert measured["fp32"]["shared"] == pytest.approx(m.peaks["fp32"] * 1e3 / m.smem_gbs)
    assert specs_cli.main(["h100_sxm5", "--ridge"]) == 0
    assert "ridge points" in capsys.readouterr().out
    assert specs_cli.main(["h200", "--ridge", "--ceilings", H100_CEILINGS]) == 2
    assert "not on NVIDIA H200" in capsys.readouterr().err
