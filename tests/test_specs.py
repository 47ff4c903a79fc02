"""The GPU spec database: derived peaks agree with the vendors' published totals, sparse peaks are kept
apart, real device names match the right GPU, unknown GPUs degrade to a warned estimate, every figure has a
source, and the `specs` command prints what it should."""

import argparse
import json
import math
import os
import subprocess
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path

import pytest

from gpubench.roofline import specs_cli
from gpubench.roofline.specs import (
    FIGURE_FIELDS,
    PEAK_KEYS,
    UnknownGPUWarning,
    get_spec,
    load_specs,
    match_gpu,
    resolve_spec,
    spec_from_properties,
    to_json,
    typical_rates,
)

REPO = Path(__file__).resolve().parent.parent
SPECS = load_specs()
TOLERANCE = 0.015


def unsourced_figures(spec) -> list[str]:
    """Figures the spec holds without a source entry (a table may be sourced whole or key by key)."""
    missing = []
    for name in FIGURE_FIELDS:
        value = getattr(spec, name)
        if value is None or (isinstance(value, (Mapping, tuple)) and not value):
            continue
        if name in spec.sources:
            continue
        if isinstance(value, Mapping):
            missing += [f"{name}.{k}" for k in value if f"{name}.{k}" not in spec.sources]
        else:
            missing.append(name)
    return missing


def _published_cases():
    for spec in SPECS:
        if not spec.flops_per_clk_per_sm:
            continue  # B200: no per-SM rates or clocks published (test_blackwell_peaks_are_vendor_totals...)
        for key, value in spec.published_dense_tflops.items():
            yield pytest.param(spec, key, value, id=f"{spec.key}-{key}")


def _last_digit_unit(value: float) -> float:
    """1 for '34', 0.1 for '33.5', 0.01 for '989.43'."""
    text = repr(float(value)).rstrip("0").rstrip(".")
    return 10.0 ** -(len(text.split(".")[1]) if "." in text else 0)


@pytest.mark.parametrize("spec,key,published", list(_published_cases()))
def test_derived_dense_peak_matches_published_total(spec, key, published):
    derived = spec.derived_peaks()
    assert key in derived, f"{spec.name}: published {key} but no per-SM rate derives it"
    if key in spec.published_discrepancies:
        # A documented double rounding by the vendor: still within one unit of the printed last digit.
        assert abs(derived[key] - published) <= _last_digit_unit(published), spec.published_discrepancies[key]
    else:
        assert derived[key] == pytest.approx(published, rel=TOLERANCE), (
            f"{spec.name} {key}: derived {derived[key]:.2f} vs published {published} "
            f"(clock {spec.peak_clocks_mhz[key]} MHz)"
        )


def test_every_gpu_is_checked_against_published_totals():
    checked = [s for s in SPECS if s.flops_per_clk_per_sm and s.published_dense_tflops]
    assert {s.key for s in SPECS} - {s.key for s in checked} == {"b200"}
    for spec in checked:
        assert {"fp32"} <= set(spec.published_dense_tflops), spec.name


def test_discrepancies_are_explained_and_few():
    explained = {(s.key, k) for s in SPECS for k in s.published_discrepancies}
    assert explained == {("h200_sxm", "fp64")}


def test_hopper_records_two_clocks_for_its_peaks():
    h100 = get_spec("h100_sxm5")
    clocks = h100.peak_clocks_mhz
    assert clocks["fp32"] == clocks["fp64"] == clocks["fp64_tc"] == 1980
    assert clocks["bf16"] == clocks["fp16"] == clocks["tf32"] == clocks["fp8"] == clocks["int8"] == 1830
    assert h100.peaks["bf16"] == pytest.approx(132 * 4096 * 1830e6 / 1e12)
    pcie = get_spec("NVIDIA H100 PCIe")
    assert pcie.peak_clocks_mhz["bf16"] == 1620 and pcie.peak_clocks_mhz["fp32"] == 1755


def test_blackwell_peaks_are_vendor_totals_and_say_so():
    b200 = get_spec("b200")
    assert b200.derived_peaks() == {}
    assert set(b200.peak_origin.values()) == {"published"}
    assert b200.peaks["bf16"] == 2250 and b200.peak_clock_mhz is None
    assert any("not derived" in n for n in b200.notes)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.key)
def test_sparse_peaks_are_twice_dense_and_kept_apart(spec):
    assert set(spec.sparse_peaks) <= set(spec.peaks)
    for key, sparse in spec.sparse_peaks.items():
        assert sparse == pytest.approx(2 * spec.peaks[key])
    assert set(spec.published_sparse_tflops) <= set(spec.sparse_keys)
    for key, sparse in spec.published_sparse_tflops.items():
        assert sparse == pytest.approx(2 * spec.published_dense_tflops[key], rel=TOLERANCE), key
    assert "fp32" not in spec.sparse_keys and "fp64" not in spec.sparse_keys


def test_older_architectures_have_no_sparsity():
    for key in ("v100_sxm2_16gb", "t4"):
        assert get_spec(key).sparse_peaks == {}


@pytest.mark.parametrize("spec", [s for s in SPECS if s.theoretical_bandwidth_gbs], ids=lambda s: s.key)
def test_bus_width_times_pin_rate_matches_published_bandwidth(spec):
    assert spec.theoretical_bandwidth_gbs == pytest.approx(spec.mem_bandwidth_gbs, rel=0.03)


def test_units_and_sizes():
    h100 = get_spec("h100_sxm5")
    assert (
        h100.mem_bytes == 80 * 2**30 and h100.l2_bytes == 50 * 2**20 and h100.smem_per_sm_bytes == 228 * 1024
    )
    assert get_spec("a100_sxm4_40gb").smem_per_sm_bytes == 164 * 1024
    for spec in SPECS:
        assert spec.compute_capability.count(".") == 1 and spec.sm_count > 0
        assert set(spec.peaks) <= set(PEAK_KEYS)


# ------------------------------------------------------------------------------------------------ matching

REAL_NAMES = {
    "NVIDIA H100 80GB HBM3": "h100_sxm5",
    "NVIDIA H100 PCIe": "h100_pcie",
    "NVIDIA H200": "h200_sxm",
    "NVIDIA A100-SXM4-80GB": "a100_sxm4_80gb",
    "NVIDIA A100-SXM4-40GB": "a100_sxm4_40gb",
    "NVIDIA A100 80GB PCIe": "a100_pcie_80gb",
    "NVIDIA A100-PCIE-40GB": "a100_pcie_40gb",
    "Tesla V100-SXM2-16GB": "v100_sxm2_16gb",
    "Tesla V100-SXM2-32GB": "v100_sxm2_32gb",
    "Tesla T4": "t4",
    "NVIDIA L4": "l4",
    "NVIDIA GeForce RTX 4090": "rtx_4090",
    "NVIDIA B200": "b200",
    "NVIDIA A10": "a10",
    "NVIDIA L40S": "l40s",
    "Orin": "jetson_agx_orin_64gb",
    "  nvidia   h100 80gb HBM3 ": "h100_sxm5",
}
# Real names of GPUs that are not in the database and must not be mistaken for one that is.
OTHER_NAMES = [
    "NVIDIA H100 NVL",
    "NVIDIA H200 NVL",
    "NVIDIA GH200 480GB",
    "NVIDIA GB200",
    "NVIDIA L40",
    "NVIDIA GeForce RTX 4090 D",
    "NVIDIA GeForce RTX 4090 Laptop GPU",
    "Tesla V100-PCIE-16GB",
    "NVIDIA T400",
    "NVIDIA RTX A4000",
    "NVIDIA A10G",
    "NVIDIA A100",
    "",
]


@pytest.mark.parametrize("device_name,key", REAL_NAMES.items())
def test_real_device_names_match_the_right_gpu(device_name, key):
    spec = match_gpu(device_name)
    assert spec is not None and spec.key == key


@pytest.mark.parametrize("device_name", REAL_NAMES)
def test_real_device_names_are_unambiguous(device_name):
    import re

    norm = " ".join(device_name.lower().split())
    hits = [s.key for s in SPECS if any(re.search(p, norm) for p in s.match)]
    assert len(hits) == 1, hits


def test_h100_pcie_is_not_taken_for_sxm():
    assert match_gpu("NVIDIA H100 PCIe").key != "h100_sxm5"
    assert match_gpu("NVIDIA H100 PCIe").sm_count == 114
    assert match_gpu("NVIDIA A100 80GB PCIe").mem_bandwidth_gbs == 1935
    assert match_gpu("NVIDIA A100-SXM4-40GB").mem_bandwidth_gbs == 1555


@pytest.mark.parametrize("device_name", OTHER_NAMES)
def test_other_gpus_match_nothing(device_name):
    assert match_gpu(device_name) is None


def test_get_spec_by_key_name_or_device_name():
    assert get_spec("l4").name == "NVIDIA L4"
    assert get_spec("nvidia h100 sxm5 80gb").key == "h100_sxm5"
    assert get_spec("NVIDIA H100 80GB HBM3").key == "h100_sxm5"
    with pytest.raises(KeyError, match="known: .*NVIDIA H100 SXM5 80GB"):
        get_spec("NVIDIA Voodoo 5")


# ------------------------------------------------------------------------------------------- unknown GPUs


def test_unknown_gpu_warns_and_gets_a_derived_spec():
    info = {
        "name": "NVIDIA Hypothetical X",
        "sm_count": 100,
        "sm_clock_max_mhz": 2000,
        "mem_clock_max_mhz": 2619,
        "mem_bus_width_bits": 5120,
        "l2_bytes": 50 * 2**20,
        "compute_capability": "9.0",
        "memory_bytes": 80 * 2**30,
    }
    with pytest.warns(UnknownGPUWarning, match="not in the spec database"):
        spec = resolve_spec(info)
    assert spec.derived and spec.arch == "hopper" and spec.name == "NVIDIA Hypothetical X"
    assert spec.peaks["fp32"] == pytest.approx(100 * 256 * 2000e6 / 1e12)
    assert spec.peaks["bf16"] == pytest.approx(100 * 4096 * 2000e6 / 1e12)
    assert spec.mem_bandwidth_gbs == pytest.approx(2 * 2619e6 * 5120 / 8 / 1e9)
    assert spec.l2_bytes == 50 * 2**20 and spec.mem_bytes == 80 * 2**30
    assert json.loads(json.dumps(to_json(spec)))["derived"] is True


def test_unknown_gpu_with_nothing_known_does_not_crash():
    with pytest.warns(UnknownGPUWarning):
        spec = resolve_spec({"name": "Mystery"})
    assert spec.peaks == {} and spec.mem_bandwidth_gbs is None and spec.arch == "unknown"
    with pytest.warns(UnknownGPUWarning):
        assert resolve_spec({}).name == "unknown GPU"


def test_capabilities_outside_the_table():
    rates, note = typical_rates("12.0")
    assert rates and not any(k.startswith("tc_") for k in rates) and "newer" in note
    assert typical_rates("6.1")[0] == {}
    assert typical_rates("8.6")[0]["tc_fp16"] == 1024
    assert typical_rates("8.7")[1].startswith("per-SM rates of compute capability 8.6")
    assert typical_rates("sm_90")[0] == typical_rates((9, 0))[0] == typical_rates(9.0)[0]
    with pytest.warns(UnknownGPUWarning):
        spec = spec_from_properties("Thor", 20, 1500, None, None, None, "11.0")
    assert "fp32" in spec.peaks and "bf16" not in spec.peaks and spec.mem_bandwidth_gbs is None


def test_known_gpu_resolves_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = resolve_spec({"name": "NVIDIA H100 80GB HBM3", "sm_count": 132, "compute_capability": "9.0"})
    assert spec.key == "h100_sxm5" and not spec.derived


def test_sm_count_mismatch_is_not_trusted():
    info = {
        "name": "NVIDIA H100 80GB HBM3",
        "sm_count": 16,
        "sm_clock_max_mhz": 1980,
        "compute_capability": "9.0",
    }
    with pytest.warns(UnknownGPUWarning, match="reports 16 SMs"):
        spec = resolve_spec(info)
    assert spec.derived and spec.sm_count == 16


# ---------------------------------------------------------------------------------------------- sources


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.key)
def test_every_figure_has_a_source(spec):
    assert unsourced_figures(spec) == []
    for docs in spec.sources.values():
        for doc in docs:
            assert doc.title and doc.kind in ("vendor", "third-party", "device")
            if doc.kind == "device":  # what a device reported, committed in this repository
                assert (REPO / doc.url).is_file(), doc.url
            else:
                assert doc.url.startswith("https://")
    assert spec.notes, "say which clock the peaks assume and what was left out"


def test_peak_totals_cite_a_vendor_document():
    for spec in SPECS:
        for table in ("published_dense_tflops", "published_sparse_tflops"):
            if getattr(spec, table):
                assert any(d.kind == "vendor" for d in spec.sources[table]), (spec.key, table)


def test_loader_rejects_malformed_tables(tmp_path):
    from gpubench.roofline.specs import load_specs as load

    base = (
        '[documents.d]\ntitle = "t"\nurl = "https://x"\n'
        '[gpus.g]\nname = "G"\nmatch = ["g"]\narch = "hopper"\ncompute_capability = "9.0"\n'
        "sm_count = 1\nmem_bandwidth_gbs = 1\n"
    )
    cases = {
        "typo": base + "sm_cout = 2\n",
        "bad arch": base.replace('"hopper"', '"hoper"'),
        "rate key": base + "[gpus.g.flops_per_clk_per_sm]\nfp33 = 1\n",
        "no clock": base + "[gpus.g.flops_per_clk_per_sm]\nfp32 = 1\n",
        "doc": base + '[gpus.g.sources]\nsm_count = ["nope"]\n',
        "extends": base + '[gpus.h]\nextends = "g"\n',
    }
    for what, text in cases.items():
        path = tmp_path / f"{what.replace(' ', '_')}.toml"
        path.write_text(text)
        with pytest.raises(ValueError):
            load(path)
    good = tmp_path / "good.toml"
    good.write_text(base)
    assert load(good)[0].name == "G"


# --------------------------------------------------------------------------------------------- CLI, JSON

REQUIRED_JSON_KEYS = {
    "name", "sm_count", "boost_clock_mhz", "mem_bandwidth_gbs", "l2_bytes", "peaks", "sparse_peaks",
    "peak_clock_mhz", "sources", "compute_capability", "arch", "mem_bytes", "smem_per_sm_bytes", "tdp_w",
    "flops_per_clk_per_sm", "published_dense_tflops", "peak_clocks_mhz", "peak_origin", "notes", "derived",
}  # fmt: skip


def _run(*args):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "gpubench.roofline.specs_cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_json_output_parses_and_has_the_required_keys():
    p = _run("--json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert [d["name"] for d in data] == [s.name for s in SPECS]
    for d in data:
        assert REQUIRED_JSON_KEYS <= set(d), REQUIRED_JSON_KEYS - set(d)
        assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in d["peaks"].values())
        for docs in d["sources"].values():
            assert all({"title", "url"} <= set(doc) for doc in docs)
    h100 = next(d for d in data if d["key"] == "h100_sxm5")
    assert h100["peaks"]["bf16"] == pytest.approx(989.4, abs=0.1)
    assert h100["sparse_peaks"]["bf16"] == pytest.approx(1978.9, abs=0.1)


def test_table_and_filter():
    p = _run("h100")
    assert p.returncode == 0, p.stderr
    assert "NVIDIA H100 SXM5 80GB" in p.stdout and "NVIDIA H100 PCIe 80GB" in p.stdout
    assert "A100" not in p.stdout and "989.4" in p.stdout
    p = _run("NVIDIA H100 80GB HBM3", "--json")
    assert [d["key"] for d in json.loads(p.stdout)] == ["h100_sxm5"]


def test_unknown_filter_is_one_line_saying_where_the_names_are():
    p = _run("voodoo")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("gpubench specs: error: ")
    assert "no GPU or system matches 'voodoo'" in p.stderr and "`gpubench specs` lists" in p.stderr


def test_add_parser_registers_specs_subcommand(capsys):
    parser = argparse.ArgumentParser(prog="gpubench")
    sub = parser.add_subparsers(dest="command", required=True)
    specs_cli.add_parser(sub)
    args = parser.parse_args(["specs", "l4", "--json"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)[0]["key"] == "l4"


def test_analytical_half_imports_neither_torch_nor_numpy():
    code = (
        "import sys, gpubench.roofline.specs, gpubench.roofline.roof, gpubench.roofline.specs_cli\n"
        "gpubench.roofline.specs.load_specs()\n"
        "bad = [m for m in ('torch', 'numpy', 'triton') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
