"""Transformer layers on the GPU: the FX profile of the built-in block with device times (no node faster
than its roofline allows), one LLaMA-7B layer measured operator by operator with the suite's workloads next
to the prediction, and the layer as one torch module against the sum of its operators. Run with
`nox -s gpu` (or TRITON_INTERPRET=0 pytest tests/gpu/test_transformer_gpu.py -m gpu)."""

import json

import pytest
import torch

from gpubench.roofline.placement import TOLERANCE
from gpubench.roofline.roof import Ceilings, check_ceiling
from gpubench.transformer.configs import MODELS
from gpubench.transformer.measured import layer_cli, profile_cli, profile_module
from gpubench.transformer.measured.blocks import block_from_config, block_inputs
from gpubench.transformer.measured.compose import plan_layer, registry_info
from gpubench.transformer.measured.layer_run import layer_document, measure_layer
from gpubench.transformer.operators import layer_operators
from gpubench.transformer.predict import predict_model
from gpubench.transformer.scenario import Scenario

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]
GPU = torch.device("cuda")
LLAMA7 = MODELS["llama-7b"]


def _violations(time_s, flops, nbytes, dtype, tensor_cores):
    """The suite's ceiling check on the device's datasheet: a time below a roof means wrong counts."""
    ceilings = Ceilings.from_spec(_spec())
    return check_ceiling(
        time_s, flops, nbytes, ceilings, TOLERANCE, dtype=dtype, uses_tensor_cores=tensor_cores
    )


def _spec():
    from gpubench.bench.measure.device import device_info
    from gpubench.roofline.specs import resolve_spec

    return resolve_spec(device_info(GPU))


def test_fx_profile_of_the_block_on_device_time(tmp_path):
    block = block_from_config(LLAMA7, device=GPU, dtype=torch.bfloat16, batch=1, seq=512)
    x = block_inputs(LLAMA7, device=GPU, dtype=torch.bfloat16, batch=1, seq=512)
    p = profile_module(block, *x)
    assert p.device_time and p.timer.startswith("device time (CUDA events")
    timed = p.timed()
    assert timed and all(n.time_s > 0 for n in timed)
    # A node faster than its roofline allows would mean its FLOP or byte count is wrong.
    tc = lambda n: n.flops_source in ("FlopCounterMode", "gpubench.opcount (attention pairs computed)")  # noqa: E731
    above = {
        n.name: v for n in timed if n.bytes and (v := _violations(n.time_s, n.flops, n.bytes, n.dtype, tc(n)))
    }
    assert not above, above
    linear = [n for n in timed if n.target == "linear"]
    assert len(linear) == 4 and sum(n.time_s for n in linear) > 0.5 * p.nodes_time_s  # GEMMs dominate
    p.to_csv(tmp_path / "nodes.csv")
    p.plot(tmp_path / "graph.png")
    print(p.table())


@pytest.mark.parametrize("sc", [Scenario("prefill", 1, 512, 512), Scenario("decode", 16, 1, 2048)])
def test_one_layer_measured_next_to_predicted(sc):
    pred = predict_model(LLAMA7, sc, _spec())
    plan = plan_layer(layer_operators(LLAMA7, sc), sc, registry_info())
    measured, layer = measure_layer(plan, pred, GPU)
    doc = layer_document(pred, measured, layer, torch.cuda.get_device_name())
    failed = {o["name"]: v for o in doc["operators"] for v, d in o["variants"].items() if "failed" in d}
    assert not failed, failed
    for o in doc["operators"]:
        assert o["measured_s"] > 0, o["name"]
        op = next(r.op for r in pred.layer_rows() if r.op.name == o["name"])
        assert not _violations(o["measured_s"], op.flops, op.bytes, op.dtype, op.tensor_cores), o
    lay = doc["layer"]
    assert 0.5 < lay["torch_layer_s"] / lay["sum_of_operators_s"] < 2.0, lay  # the same computation
    print(
        json.dumps({o["name"]: [o["measured_by"], o["measured_s"], o["predicted"]] for o in doc["operators"]})
    )


def test_layer_command_writes_its_document(tmp_path, capsys):
    out = tmp_path / "layer.json"
    argv = ["llama-7b", "--phase", "decode", "--context", "1024", "--batch", "4", "--out", str(out)]
    assert layer_cli.main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "gpubench.layer" and len(doc["operators"]) == 11
    assert "one layer: sum of the operators" in capsys.readouterr().out


def test_profile_module_command_on_the_gpu(tmp_path, capsys):
    argv = [
        "--config",
        "llama-3-8b",
        "--seq",
        "256",
        "--device",
        "cuda",
        "--csv",
        str(tmp_path / "n.csv"),
        "--json",
    ]
    assert profile_cli.main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["device_time"] is True and doc["gpu"] and doc["module_time_s"] > 0
    ratio = doc["nodes_time_s"] / doc["module_time_s"]
    assert 0.3 < ratio < 3.0, ratio  # nodes timed one by one against the module as one call
