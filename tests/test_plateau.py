"""Plateau detection (bench.micro.plateau) on the working-set sweeps measured on the H100 and H200 and
committed in reports/reference/*/ceilings.json. Those sweeps ran with plain loads, which L1 serves in part
up to a few MiB: their L2 range has no plateau, and the old L2 ceiling (the 1 MiB point) sits 1.9-2.0x
above the 16 MiB point. Their L1 range is flat. Their 128 MiB "dram" point (2.6x and 2.1x L2) reads above
the datasheet bandwidth; only working sets of at least 4 x L2 count as DRAM now."""

import pytest

from gpubench import results
from gpubench.bench.micro.plateau import dram_points, find_plateau
from gpubench.roofline.specs import resolve_spec
from tests.support import realdata

KIB, MIB = 1 << 10, 1 << 20
FILES = {"h100": realdata.H100_CEILINGS, "h200": realdata.H200_CEILINGS}


def sweep(name):
    cf = results.read_ceilings(FILES[name])
    return cf, cf.cache_sweep, cf.device.l2_bytes


@pytest.mark.parametrize(
    "name, flattest, within, spread", [("h100", 0.157, 0.002, 0.870), ("h200", 0.178, 0.002, 1.001)]
)
def test_the_committed_l2_ranges_have_no_plateau(name, flattest, within, spread):
    cf, points, l2 = sweep(name)
    found = find_plateau(points, MIB, l2 // 2)
    assert not found.flat
    assert [w for w, _ in found.points] == [4 * MIB, 8 * MIB, 16 * MIB]  # the flattest three points
    assert found.flatness == pytest.approx(flattest, abs=within)
    assert found.spread == pytest.approx(spread, abs=0.002)  # the 1 MiB point against the slowest one
    one, sixteen = (next(p["gbs"] for p in points if p["ws_bytes"] == ws) for ws in (MIB, 16 * MIB))
    assert 1.85 < one / sixteen < 2.01
    assert cf.ceilings.l2_gbs == one  # the ceiling this file stored: the single inflated point
    assert "no plateau within 10%" in found.describe()


@pytest.mark.parametrize("name", ["h100", "h200"])
def test_the_committed_l1_range_is_a_plateau(name):
    _, points, _ = sweep(name)
    found = find_plateau(points, 32 * KIB, 128 * KIB)
    assert found.flat and len(found.points) == 3 and found.flatness < 0.002
    assert found.best_gbs == max(p["gbs"] for p in points)  # the L1 figure: 31.8 and 31.7 TB/s


@pytest.mark.parametrize("name", ["h100", "h200"])
def test_dram_points_are_at_least_four_times_l2(name):
    cf, points, l2 = sweep(name)
    spec = resolve_spec(cf.device.to_json())
    dram = dram_points(points, l2)
    assert [p["ws_bytes"] for p in dram] == [256 * MIB]
    assert dram[0]["gbs"] < spec.mem_bandwidth_gbs  # 94 % and 98 % of the datasheet
    too_small = next(p for p in points if p["ws_bytes"] == 128 * MIB)
    assert too_small["level"] == "dram" and too_small["gbs"] > spec.mem_bandwidth_gbs  # 103 %, 111 %


def test_a_plateau_is_the_longest_flat_run_and_bad_input_is_refused():
    _, points, l2 = sweep("h100")
    wide = find_plateau(points, MIB, l2 // 2, tolerance=0.20)  # 20 %: 4 to 16 MiB qualify
    assert wide.flat and [w for w, _ in wide.points] == [4 * MIB, 8 * MIB, 16 * MIB]
    assert wide.best_gbs == max(g for _, g in wide.points) and wide.median_gbs == wide.points[1][1]
    assert find_plateau(points, 3 * MIB, 5 * MIB) is None  # a single point is no plateau
    with pytest.raises(ValueError):
        find_plateau(points, MIB, l2, min_points=1)
    js = wide.to_json()
    assert js["ws_bytes"] == [4 * MIB, 8 * MIB, 16 * MIB] and js["flat"] is True
