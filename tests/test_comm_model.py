"""The collectives' model: nccl-tests' bus factors, NCCL's cost model per algorithm and protocol over the
topology database, the limiting term named, and the published 8 x H100/H200 figures it was not fitted to."""

import pytest

from gpubench.roofline.comm import COLLECTIVES, Link, Topology, algbw, bus_factor, load_topology, predict

TWO_NODES = Topology("test", 8, Link(100.0, 2e-6, "nvlink"), Link(25.0, 5e-6, "nic"), nodes=2)
GiB = 1 << 30


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


def test_bad_algorithms_protocols_and_rank_counts_are_refused_by_name():
    h100, a100 = load_topology("dgx-h100"), load_topology("dgx-a100")
    with pytest.raises(ValueError, match="unknown algorithm 'bcube' for all_reduce"):
        predict("all_reduce", GiB, 8, h100, algorithm="bcube")
    with pytest.raises(ValueError, match="unknown protocol 'LL64'"):
        predict("all_reduce", GiB, 8, h100, protocol="LL64")
    with pytest.raises(ValueError, match="has no NVLink SHARP"):
        predict("all_reduce", GiB, 8, a100, algorithm="nvls")
    with pytest.raises(ValueError, match="need 2 nodes; dgx-h100 has 1"):
        predict("all_reduce", GiB, 16, h100)


@pytest.mark.parametrize("system", ["dgx-h100", "dgx-h200"])
@pytest.mark.parametrize("nbytes", [GiB, 16 * GiB])
def test_eight_gpus_reach_the_published_busbw_by_ring_and_by_nvls(system, nbytes):
    # Published 8-GPU all_reduce busbw at >= 1 GiB: ~370 GB/s by ring (NVLS off), ~480 GB/s with NVLS
    # (482.26 GB/s at 16 GiB on 8 x H200). The model takes NCCL's constants only; nothing is fitted to these.
    topo = load_topology(system)
    ring = predict("all_reduce", nbytes, 8, topo, algorithm="ring")
    chosen = predict("all_reduce", nbytes, 8, topo)
    assert ring.busbw_gbps == pytest.approx(370, rel=0.10) and ring.limit == "intra-node link"
    assert (chosen.algorithm, chosen.protocol, chosen.chosen_by) == ("nvls", "Simple", "model")
    assert chosen.busbw_gbps == pytest.approx(480, rel=0.10) and chosen.limit == "intra-node link"


def test_the_bandwidth_terms_are_nccls_own_arithmetic():
    topo = load_topology("dgx-h100")
    ring = predict("all_reduce", GiB, 8, topo, algorithm="ring", protocol="Simple")
    # ring: the bus bandwidth is 18 links x 20.6 GB/s; busbw over the bandwidth term alone recovers it
    assert GiB / ring.terms["bandwidth"] / 1e9 * bus_factor("all_reduce", 8) == pytest.approx(370.8, rel=1e-9)
    nvls = predict("all_reduce", GiB, 8, topo, algorithm="nvls")
    # NVLS: 8 channels at 40 GB/s (9 x 40 <= 370.8 < 9 x 50), efficiency 0.85, (8-1)/8, two pipelined ops
    expected = 8 * 40.0 * 0.85 * 7 / 8 * 2
    bus = GiB / nvls.terms["bandwidth"] / 1e9 * bus_factor("all_reduce", 8)
    assert bus == pytest.approx(expected, rel=1e-9)
    # The busbw users find confusing: above the 450 GB/s the wires carry per direction (nccl-tests' factor
    # assumes a ring; NVLS reduces in the switch)
    assert nvls.busbw_gbps > nvls.ceiling_busbw_gbps == pytest.approx(450.0)


@pytest.mark.parametrize("nbytes", [8, 64, 1 << 10, 8 << 10, 64 << 10])
@pytest.mark.parametrize("system", ["dgx-h100", "dgx-h200"])
def test_small_messages_name_latency_as_the_limit(system, nbytes):
    p = predict("all_reduce", nbytes, 8, load_topology(system))
    assert p.limit == "latency" and p.terms["latency"] > p.terms["bandwidth"]


def test_rails_carry_a_ring_across_nodes_until_the_nics_are_slower_than_nvlink():
    large = predict("all_reduce", GiB, 8, TWO_NODES)
    assert large.limit == "intra-node link" and large.busbw_gbps == pytest.approx(100.0, rel=0.01)
    # 8 GPUs x 25 GB/s of NIC per node carry a ring's crossing (each channel crosses once) above NVLink's 100
    assert predict("all_reduce", GiB, 16, TWO_NODES, algorithm="ring").limit == "intra-node link"
    slow = Topology("slow", 8, Link(100.0, 2e-6, "nvlink"), Link(10.0, 5e-6, "nic"), nodes=2)
    across = predict("all_reduce", GiB, 16, slow, algorithm="ring")
    assert across.limit == "NIC" and across.time_s > large.time_s
    rails = GiB / across.terms["bandwidth"] / 1e9 * bus_factor("all_reduce", 16)
    assert rails == pytest.approx(8 * 10.0, rel=1e-9)  # the bandwidth term: 8 rails x 10 GB/s


def test_every_collective_has_a_prediction_on_one_node_and_on_many():
    for topo, ranks in ((TWO_NODES, 4), (TWO_NODES, 16), (load_topology("dgx-h100", nodes=4), 32)):
        for c in COLLECTIVES:
            p = predict(c, 1 << 20, ranks, topo)
            assert p.time_s > 0 and p.terms and p.limit in ("latency", "intra-node link", "NIC"), (c, ranks)
            assert p.algorithm and p.protocol and p.alternatives


def test_alpha_beta_forms_for_other_backends():
    link = Link(10.0, 3e-6, "loopback")
    box = Topology("box", 4, link)
    p = predict("all_reduce", 1 << 20, 4, box, backend="gloo")
    a, b, n = 3e-6, 1 / 10e9, 1 << 20
    assert p.time_s == pytest.approx(2 * 3 * a + 2 * 3 / 4 * n * b, rel=1e-12) and p.algorithm == "ring"
    rd = predict("all_reduce", 1 << 20, 4, box, backend="gloo", algorithm="recursive_doubling")
    assert rd.time_s == pytest.approx(2 * a + 2 * n * b, rel=1e-12) and rd.chosen_by == "forced"
    assert predict("broadcast", 8, 4, box, backend="gloo").limit == "latency"
    with pytest.raises(ValueError, match="protocols are NCCL's"):
        predict("all_reduce", 8, 4, box, backend="gloo", protocol="LL")


def test_one_rank_costs_nothing():
    p = predict("all_reduce", GiB, 1, load_topology("dgx-h100"))
    assert p.time_s == 0.0 and p.algorithm == "none"


def test_a_collective_reports_the_channels_it_holds():
    """Each NCCL channel is one thread block: the SMs a collective takes from a kernel it overlaps."""
    topo = load_topology("dgx-h100", nodes=8)
    # ring over 370.8 GB/s of NVLink: 6 channels at 60 GB/s (the fastest speed two of which fit), doubled
    assert predict("all_gather", GiB, 8, topo, algorithm="ring").channels == 12
    # NVLS: one channel per GPU of the node
    assert predict("all_reduce", GiB, 8, topo, algorithm="nvls").channels == 8
    # one rank per node: the ring fits through the GPU's 50 GB/s NIC, 2 channels at 24 GB/s
    assert predict("reduce_scatter", GiB, 8, topo, ranks_per_node=1).channels == 2
    assert predict("send_recv", GiB, 2, topo).channels is None  # point-to-point: not modelled
    box = Topology("box", 4, Link(10.0, 3e-6, "loopback"))
    assert predict("all_reduce", GiB, 4, box, backend="gloo").channels is None
