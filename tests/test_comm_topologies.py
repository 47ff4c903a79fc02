"""The interconnect database and the topologies built from it: named systems, N nodes, users' own files."""

import pytest

from gpubench.roofline.comm import TOPOLOGIES, Topology, gpu_links, load_interconnects, load_topology
from gpubench.roofline.specs import get_spec


def test_the_named_systems_users_run_are_there():
    assert {"dgx-a100", "dgx-h100", "dgx-h200", "dgx-b200", "pcie-server"} <= set(TOPOLOGIES)
    for name in TOPOLOGIES:
        topo = load_topology(name)
        assert isinstance(topo, Topology) and topo.nodes == 1 and topo.gpus == topo.gpus_per_node == 8
        assert topo.inter is not None and topo.source and topo.arch == get_spec(topo.gpu).arch


def test_nodes_multiply_the_gpus_and_are_checked():
    assert load_topology("dgx-h100", nodes=16).gpus == 128
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="nodes must be an integer >= 1"):
            load_topology("dgx-h100", nodes=bad)
    with pytest.raises(ValueError, match="unknown topology 'dgx-h900'; known: dgx-a100"):
        load_topology("dgx-h900")


@pytest.mark.parametrize(("key", "total_bidirectional"), [
    ("v100_sxm2_16gb", 300), ("a100_sxm4_80gb", 600), ("h100_sxm5", 900), ("h200_sxm", 900), ("b200", 1800),
])  # fmt: skip
def test_nvlink_per_gpu_adds_up_to_the_published_totals(key, total_bidirectional):
    # The NVLink page's per-GPU totals count both directions; the database keeps GB/s per direction per link.
    assert 2 * gpu_links(key).nvlink_gbps == pytest.approx(total_bidirectional, rel=1e-12)


def test_nccls_link_credit_gives_its_own_370_8_for_h100():
    # The anchor: NCCL's model credits 20.6 GB/s per NVLink4 link, 18 links = 370.8 GB/s.
    assert load_topology("dgx-h100").intra.model_gbps == pytest.approx(370.8, rel=1e-12)
    assert load_topology("dgx-h100").intra.gbps == pytest.approx(450.0, rel=1e-12)


def test_pcie_bandwidth_is_lanes_times_rate_times_encoding():
    links = gpu_links("h100_pcie")
    assert links.pcie_gbps == pytest.approx(32 * 16 * 128 / 130 / 8, rel=1e-5)  # Gen5 x16, 128b/130b
    assert links.pcie_nccl_gbps == pytest.approx(48.0, rel=1e-12)  # NCCL: 240 x 100 Mb/s per lane x 16
    topo = load_topology("pcie-server")
    assert topo.intra.hw == "pcie" and not topo.nvls and topo.inter.gbps == pytest.approx(4 * 400 / 8 / 8)


def test_every_gpu_and_system_names_a_known_gpu_and_cites_its_figures():
    db = load_interconnects()
    for key, links in db.gpus.items():
        get_spec(key)  # the interconnect table is keyed like gpus.toml
        cited = set(links.sources)
        assert {"pcie"} <= cited or links.pcie is None, key
        assert links.nvlink is None or {"nvlink", "nvlink_links"} <= cited, key
    for system in db.systems.values():
        assert {"gpus_per_node", "nic", "nics"} <= set(system.sources), system.key
        assert not system.nvls or "nvls" in system.sources, system.key


def test_a_node_from_the_databases_parts(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\ngpu = "a100_sxm4_80gb"\ngpus_per_node = 4\nnvswitch = true\n'
                    'nic = "cx6_hdr"\nnics = 2\nnodes = 3\n')  # fmt: skip
    topo = load_topology(path)
    assert (topo.name, topo.gpus, topo.intra.kind, topo.arch) == ("mine", 12, "nvlink3", "ampere")
    assert topo.inter.gbps == pytest.approx(2 * 200 / 8 / 4)
    assert load_topology(str(path), nodes=1).nodes == 1


def test_links_given_outright(tmp_path):
    path = tmp_path / "box.toml"
    path.write_text('name = "box"\ngpus_per_node = 4\n[intra]\nkind = "pcie-gen4"\ngbps = 31.5\n'
                    '[inter]\nkind = "roce"\ngbps = 12.5\nlatency_us = 5\n')  # fmt: skip
    topo = load_topology(path, nodes=2)
    assert topo.intra.hw == "pcie" and topo.intra.latency_s == pytest.approx(1.0e-6)  # NCCL's PCIe hop
    assert topo.inter.hw == "net" and topo.inter.latency_s == pytest.approx(5e-6) and topo.gpus == 8


@pytest.mark.parametrize(("text", "message"), [
    ('gpu = "h900"\ngpus_per_node = 8\nname = "x"\n', "gpu 'h900' has no"),
    ('name = "x"\ngpus_per_node = 2\n[intra]\nkind = "nvlink"\n', "a link needs 'gbps'"),
    ('name = "x"\ngpus_per_node = 2\ncolour = 1\n[intra]\ngbps = 1\n', "unknown fields \\['colour'\\]"),
    ('name = "x"\ngpu = "h100_sxm5"\ngpus_per_node = 8\nnic = "cx9"\n', "unknown NIC 'cx9'"),
    ('name = [', "topology file"),
])  # fmt: skip
def test_bad_topology_files_are_refused_by_name(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_topology(path)
    with pytest.raises(ValueError, match="does not exist"):
        load_topology(tmp_path / "absent.toml")


def test_gpubench_specs_shows_links_and_systems(capsys):
    from gpubench.roofline import specs_cli

    assert specs_cli.main(["dgx-h100"]) == 0
    out = capsys.readouterr().out
    assert "NVIDIA H100 SXM5 80GB  nvlink4     18       25.0        450.0      370.8   yes  gen5 x16" in out
    assert "dgx-h100" in out and "8 x cx7_ndr" in out and "pcie-server" not in out
    assert specs_cli.main(["l4", "--json"]) == 0
    import json

    (l4,) = [d for d in json.loads(capsys.readouterr().out) if d["key"] == "l4"]  # "l4" is in "l40s" too
    assert l4["interconnect"]["pcie"] == "gen4" and l4["interconnect"]["sources"]["pcie"][0]["url"]
    assert specs_cli.main(["dgx-b200", "--json"]) == 0
    (b200,) = json.loads(capsys.readouterr().out)
    assert [s["key"] for s in b200["interconnect"]["systems"]] == ["dgx-b200"]
