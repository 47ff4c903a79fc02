"""`gpubench profile-module`: a torch module profiled node by node (torch.fx): every node timed (CUDA
events on a GPU; on the CPU host wall time, labelled so), its FLOPs (FlopCounterMode where it counts) and
bytes (tensor metadata), its place on a GPU's roofline, the heaviest nodes, a CSV and a picture.

The module: the built-in LLaMA-style block (default: a small one; --config NAME for a model's own
layer sizes), a `transformers` model from a config with random weights (--hf TYPE|config.json), or your
own (--module FILE:FUNCTION, FUNCTION() returning (module, inputs)). Exit 0, or 2 on a usage error, a
module torch.fx cannot trace (the line says where it stopped), or a missing package.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from gpubench.cliargs import PLOT_SUFFIXES, count, needs, output_file_problem, refuse_together, standalone
from gpubench.exits import usage_error
from gpubench.kernels.workload import torch_dtype
from gpubench.results import finite_or_none
from gpubench.roofline.target import add_target_arguments, target_from_args
from gpubench.transformer.configs import ConfigError, ModelConfig, get_model
from gpubench.transformer.scenario import PHASES, Scenario, ScenarioError, check

PROG = "gpubench profile-module"
SMALL = ModelConfig(
    "small-llama-block",
    "a small LLaMA-style block",
    layers=1,
    hidden=256,
    heads=4,
    kv_heads=2,
    head_dim=64,
    ffn=768,
    activation="swiglu",
    vocab=1024,
    norm="rmsnorm",
    max_context=4096,
    sources=("the suite's built-in test block",),
)
SIZE_FLAGS = ("hidden", "heads", "kv_heads", "head_dim", "ffn")


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--builtin", action="store_true", help="the built-in LLaMA-style block (the default)")
    src.add_argument(
        "--hf", metavar="TYPE|FILE", help="a transformers model type (llama, gpt2, ...) or config.json"
    )
    src.add_argument("--module", metavar="FILE:FUNCTION", help="FUNCTION() in FILE returns (module, inputs)")
    p.add_argument(
        "--config", metavar="NAME", help="the block's sizes from a model of `gpubench model --list`"
    )
    for flag in SIZE_FLAGS:
        p.add_argument(f"--{flag.replace('_', '-')}", type=count("heads" if "heads" in flag else "elements"),
                       help="override the block's (or model's) size")  # fmt: skip
    p.add_argument("--layers", type=count("layers"), help="--hf: decoder layers (default 2)")
    p.add_argument("--vocab", type=count("tokens"), help="--hf: vocabulary (default 1024)")
    p.add_argument(
        "--phase", choices=PHASES, default="prefill", help="built-in block: prefill or decode step"
    )
    p.add_argument("--batch", type=count("sequences"), default=1, help="sequences (default 1)")
    p.add_argument("--seq", type=count("tokens"), help="tokens per sequence (default 64; decode: 1)")
    p.add_argument(
        "--context", type=count("tokens"), help="decode: the KV cache's keys, the new ones included"
    )
    p.add_argument("--dtype", choices=("fp32", "fp16", "bf16"), help="default bf16 on a GPU, fp32 on the CPU")
    p.add_argument("--device", choices=("cpu", "cuda"), help="default cuda where there is one")
    add_target_arguments(p, "place the nodes on this GPU's roofline (default: the device's)")
    p.add_argument("--mode", choices=("cold", "warm"), default="cold", help="L2 before each sample, on a GPU")
    p.add_argument(
        "--tracer",
        choices=("auto", "fx", "export"),
        default="auto",
        help="torch.fx.symbolic_trace, torch.export, or the first that works (default)",
    )
    p.add_argument(
        "--top", type=count("nodes"), default=10, help="how many heaviest nodes to list (default 10)"
    )
    p.add_argument("--csv", metavar="FILE", help="every node as a CSV row")
    p.add_argument("--plot", metavar="FILE", help="a picture of the graph (.png, .svg or .pdf)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    sizes = [f"--{flag.replace('_', '-')}" for flag in SIZE_FLAGS]
    refuse_together(p, "--module", "--config", *sizes, "--layers", "--vocab", "--seq", "--context",
                    why="FUNCTION() builds the module and its inputs")  # fmt: skip
    refuse_together(p, "--hf", "--config", "--head-dim", "--context",
                    why="the transformers config and --hidden/--heads/... size the model")  # fmt: skip
    for option in ("--layers", "--vocab"):
        needs(p, option, "--hf", "they size a transformers model")
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "profile-module",
        help="a torch module profiled node by node (torch.fx)",
        description=__doc__.split("\n\n")[0],
    )
    configure(p)
    p.set_defaults(func=run)
    return p


def _block_config(args) -> ModelConfig:
    from dataclasses import replace

    cfg = get_model(args.config) if args.config else SMALL
    sizes = {k: getattr(args, k) for k in SIZE_FLAGS if getattr(args, k) is not None}
    return replace(cfg, **sizes) if sizes else cfg


def _scenario(args, cfg) -> Scenario:
    seq = args.seq if args.seq is not None else (1 if args.phase == "decode" else 64)
    context = args.context if args.context is not None else seq
    if args.phase == "decode" and args.context is None:
        raise ScenarioError("a decode step needs --context (the KV cache's keys, the new tokens' included)")
    sc = Scenario(args.phase, args.batch, seq, context)
    check(cfg, sc)
    return sc


def _load_function(spec: str):
    path, _, name = spec.rpartition(":")
    if not path or not name:
        raise ValueError(f"--module takes FILE:FUNCTION, got {spec!r}")
    if not Path(path).is_file():
        raise ValueError(f"--module: no such file {path!r}")
    loader = importlib.util.spec_from_file_location(f"_gpubench_profiled_{Path(path).stem}", path)
    mod = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(mod)
    fn = getattr(mod, name, None)
    if not callable(fn):
        raise ValueError(f"--module: {path} has no function {name!r}")
    made = fn()
    if not (isinstance(made, tuple) and len(made) == 2):
        raise ValueError(f"--module: {name}() must return (module, inputs), got {type(made).__name__}")
    module, inputs = made
    return module, tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


def _check_outputs(args) -> str | None:
    for flag, path, suffixes in (("--csv", args.csv, (".csv",)), ("--plot", args.plot, PLOT_SUFFIXES)):
        if problem := output_file_problem(flag, path, suffixes):
            return problem
    return None


def _build(args, torch):
    """(module, inputs, device) for the source asked for; ValueError / ScenarioError naming a problem."""
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: torch sees no CUDA device (torch.cuda.is_available() is False)")
    dtype = torch_dtype(args.dtype or ("bf16" if device.type == "cuda" else "fp32"))
    if args.module:
        module, inputs = _load_function(args.module)
        return module, inputs, device
    if args.hf:
        from gpubench.transformer.measured.hf import hf_model

        sizes = {k: getattr(args, k) for k in (*SIZE_FLAGS, "layers", "vocab")}
        sizes["layers"] = sizes["layers"] or 2
        sizes["vocab"] = sizes["vocab"] or 1024
        sizes.pop("head_dim")
        seq = args.seq or 64
        model, inputs = hf_model(args.hf, sizes=sizes, device=device, dtype=dtype, batch=args.batch, seq=seq)
        return model, inputs, device
    from gpubench.transformer.measured.blocks import block_from_config, block_inputs

    cfg = _block_config(args)
    sc = _scenario(args, cfg)
    block = block_from_config(
        cfg, device=device, dtype=dtype, phase=sc.phase, batch=sc.batch, seq=sc.seq, context=sc.context
    )
    return block, block_inputs(cfg, device=device, dtype=dtype, batch=sc.batch, seq=sc.seq), device


def _doc(prof, top: int) -> dict:
    return {
        "module": prof.module,
        "tracer": prof.tracer,
        "timer": prof.timer,
        "device_time": prof.device_time,
        "gpu": prof.gpu,
        "module_time_s": prof.module_time_s,
        "nodes_time_s": prof.nodes_time_s,
        "total_flops": prof.total("flops"),
        "total_bytes": prof.total("bytes"),
        "heaviest": [n.name for n in prof.heaviest(top)],
        "notes": prof.notes,
        "nodes": prof.to_frame().astype(object).where(lambda d: d.notna(), None).to_dict("records"),
    }


def run(args) -> int:
    if (problem := _check_outputs(args)) is not None:
        return usage_error(PROG, problem)
    import torch

    from gpubench.transformer.measured.hf import HFUnavailable
    from gpubench.transformer.measured.profile import profile_module
    from gpubench.transformer.measured.tracing import UntraceableModule

    try:
        target = target_from_args(args, required=False)
        module, inputs, device = _build(args, torch)
        ceilings = args.ceilings if target is None else None  # a target carries its own
        prof = profile_module(
            module, *inputs, gpu=target, ceilings=ceilings, mode=args.mode, tracer=args.tracer
        )
    except (
        ValueError,
        ConfigError,
        ScenarioError,
        UntraceableModule,
        HFUnavailable,
        FileNotFoundError,
    ) as exc:
        return usage_error(PROG, " ".join(str(exc).split()))
    if args.json:
        sys.stdout.write(json.dumps(finite_or_none(_doc(prof, args.top)), indent=1, default=str) + "\n")
    else:
        sys.stdout.write(prof.table(args.top))
    if args.csv:
        prof.to_csv(args.csv)
    if args.plot:
        prof.plot(args.plot)
    for flag, path in (("csv", args.csv), ("plot", args.plot)):
        if path and not args.json:
            print(f"{flag}: {path}")
    return 0


def main(argv=None) -> int:
    return standalone(configure, run, PROG, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
