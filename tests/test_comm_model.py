"""The collectives' contract: nccl-tests' bus-bandwidth factors, and a prediction that names its limit."""

import pytest

from gpubench.roofline.comm import COLLECTIVES, Link, Topology, algbw, bus_factor, predict

TWO_NODES = Topology("test", 8, Link(100.0, 2e-6, "nvlink"), Link(25.0, 5e-6, "nic"), nodes=2)


@pytest.mark.parametrize(("collective", "factor"), [
    ("all_reduce", 2 * 7 / 8), ("all_gather", 7 / 8), ("reduce_scatter", 7 / 8), ("all_to_all", 7 / 8),
    ("broadcast", 1.0), ("reduce", 1.0), ("send_recv", 1.0),
])  # fmt: skip
def test_bus_factors_are_nccl_tests(collective, factor):
    assert bus_factor(collective, 8) == pytest.approx(factor, rel=1e-15)


def test_unknown_collective_and_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="unknown collective 'allreduce'"):
        bus_factor("allreduce", 8)
    with pytest.raises(ValueError, match="time must be > 0"):
        algbw(1, 0.0)
    with pytest.raises(ValueError, match="need ranks >= 1"):
        predict("all_reduce", 1 << 20, 0, TWO_NODES)


def test_small_messages_are_latency_bound_and_large_ones_link_bound():
    small, large = predict("all_reduce", 8, 8, TWO_NODES), predict("all_reduce", 1 << 30, 8, TWO_NODES)
    assert small.limit == "latency" and large.limit == "intra-node link"
    assert large.busbw_gbps == pytest.approx(100.0, rel=0.01)  # a ring's busbw approaches the link rate
    across = predict("all_reduce", 1 << 30, 16, TWO_NODES)
    assert across.limit == "NIC" and across.time_s > large.time_s


def test_every_collective_has_a_prediction():
    for c in COLLECTIVES:
        p = predict(c, 1 << 20, 4, TWO_NODES)
        assert p.time_s > 0 and p.terms
