"""`gpubench train-step MODEL --layers N --batch B --seq S [--out FILE]`: one training step of a LLaMA-style
model (the built-in block stacked N deep, random weights and tokens, mixed-precision AdamW) measured on the
device at hand, phase by phase, with its peak memory and MFU, next to the training planner's prediction for
one GPU, in the planner's record format (gpubench train --json).

On a CUDA GPU the times are device time (CUDA events); on the CPU (--device cpu, or no GPU) the same step
runs and is timed on the host, labelled so. Exit 0; 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gpubench.cliargs import count, output_file_problem, standalone
from gpubench.exits import usage_error
from gpubench.fmt import fmt_bytes, fmt_pct, fmt_time
from gpubench.results import finite_or_none
from gpubench.roofline.target import TargetError, add_target_arguments, target_from_args
from gpubench.transformer.args import measured_ceilings
from gpubench.transformer.configs import MODELS, ConfigError, get_model
from gpubench.transformer.training.cli import measured_of

PROG = "gpubench train-step"


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("model", metavar="MODEL", help=f"{', '.join(MODELS)}, or a config's .json file")
    p.add_argument("--layers", type=count("layers"), default=2,
                   help="blocks stacked, at most the model's own (default 2)")
    p.add_argument("--batch", type=count("sequences"), default=1, help="sequences (default 1)")
    p.add_argument("--seq", type=count("tokens"), default=2048, help="tokens per sequence (default 2048)")
    p.add_argument("--dtype", choices=("bf16", "fp16"), default="bf16", help="16-bit math (default bf16)")
    p.add_argument("--device", choices=("cuda", "cpu"), help="cuda (default when there is one) or cpu")
    add_target_arguments(p, "predict for this GPU (default: the device's; on the CPU h100_sxm5)")
    p.add_argument("--steps", type=count("steps"), default=5, help="steps timed (default 5)")
    p.add_argument("--warmup", type=count("steps", 0), default=2,
                   help="steps run first, not timed (default 2)")
    p.add_argument("--out", metavar="FILE", help="write the record as JSON")
    p.add_argument("--json", action="store_true", help="print the record instead of the table")
    return p  # fmt: skip


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("train-step", help="one training step measured on this device, and predicted",
                              description=__doc__.split("\n\n")[0])  # fmt: skip
    configure(p)
    p.set_defaults(func=run)
    return p


def _device_spec(device):
    """The spec the prediction is for without --gpu: the CUDA device's, else (the CPU) the H100's."""
    from gpubench.roofline.specs import get_spec, match_gpu

    if device.type == "cuda":
        import torch

        name = torch.cuda.get_device_name(device)
        spec = match_gpu(name)
        if spec is None:
            raise KeyError(f"{name} is not in the spec database: give --gpu or --spec-file")
        return spec
    return get_spec("h100_sxm5")


def _prediction_inputs(args, target, device):
    """(spec, measured ceilings, where they came from) of the prediction: the target's, else the
    device's with --ceilings checked against its model."""
    if target is not None:
        return target.spec, *measured_of(target)
    spec = _device_spec(device)
    return spec, *measured_ceilings(args, spec)


def table(doc: dict) -> str:
    m, p = doc["measured"], doc["prediction"]
    pred = {t["name"]: t["seconds"] for t in p["terms"]}
    lines = [
        f"{doc['model']['name']}, batch {doc['batch']} x {doc['seq']} tokens, {doc['dtype']}: measured on "
        f"{m['device']} ({m['timer']}); predicted for one {p['gpu']} ({p['roofs']['side']} roofs)",
        "",
    ]
    for t in m["terms"]:
        lines.append(f"  {t['name']:<16s} measured {fmt_time(t['seconds']):>9s}   predicted "
                     f"{fmt_time(pred.get(t['name'])):>9s}")  # fmt: skip
    step = f"measured {fmt_time(m['step_time_s']):>9s}   predicted {fmt_time(p['step_time_s']):>9s}"
    lines.append(f"  {'step':<16s} {step}")
    lines.append(f"  peak memory      measured {fmt_bytes(m['memory_per_gpu_bytes']):>9s}   predicted "
                 f"{fmt_bytes(p['memory_per_gpu_bytes']):>9s}")  # fmt: skip
    lines.append(f"  MFU              measured {fmt_pct(m['mfu']):>9s}   predicted {fmt_pct(p['mfu']):>9s}")
    return "\n".join(lines) + "\n"


def run(args) -> int:
    if problem := output_file_problem("--out", args.out):
        return usage_error(PROG, problem)
    try:
        cfg = get_model(args.model)
        target = target_from_args(args, required=False)  # files read before torch is
    except (ConfigError, TargetError) as exc:
        return usage_error(PROG, str(exc))
    if args.layers > cfg.layers:
        return usage_error(PROG, f"--layers {args.layers}: {cfg.name} has {cfg.layers} layers")
    if cfg.position != "rope":
        return usage_error(PROG, f"{cfg.name}: the built-in block is LLaMA-style (rotary positions only)")
    try:
        import torch
    except ModuleNotFoundError:
        return usage_error(PROG, "needs torch (pip install 'gpubench[cpu]' or a CUDA build)")
    from gpubench.transformer.measured.train_step import measure_train_step, stacked, train_step_document
    from gpubench.transformer.training.layout import Job, Layout, LayoutError, check

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        return usage_error(PROG, "--device cuda: torch sees no CUDA GPU (use --device cpu)")
    try:
        cfg = stacked(cfg, args.layers)
        check(Job(cfg, args.seq, args.batch, args.dtype), Layout())
        spec, measured, origin = _prediction_inputs(args, target, device)
    except (LayoutError, TargetError) as exc:
        return usage_error(PROG, str(exc))
    except KeyError as exc:
        return usage_error(PROG, str(exc.args[0]))
    got = measure_train_step(cfg, batch=args.batch, seq=args.seq, device=device, dtype=args.dtype,
                             steps=args.steps, warmup=args.warmup)  # fmt: skip
    doc = finite_or_none(train_step_document(cfg, spec, got, batch=args.batch, seq=args.seq, dtype=args.dtype,
                                             measured_ceilings=measured, origin=origin or ""))  # fmt: skip
    text = json.dumps(doc, indent=1) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    sys.stdout.write(text if args.json else table(doc) + (f"record: {args.out}\n" if args.out else ""))
    return 0


def main(argv=None) -> int:
    return standalone(configure, run, PROG, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
