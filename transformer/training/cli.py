"""`gpubench train MODEL --gpu GPU --gpus N [layout] [--search | --largest] [--tokens T]`: a training step on
N GPUs planned from the suite's operators, performance model and collectives model.

Memory per GPU (weights, gradients, optimizer states, activations, buffers: what fits and by how much), the
step's time by term (forward, backward, recompute, TP/SP, CP, PP and DP communication, each exposed or
overlapped and why, the pipeline bubble, the optimizer step), tokens/s, TFLOP/s per GPU, MFU and HFU.
--search ranks every layout that fits; --largest finds the largest model of MODEL's family that trains;
--tokens prices a token budget in GPU-hours and days; --validate prints the published rows against the
predictions (docs/training.md). Runs without torch or a GPU. Exit 0; 2 on a usage or input error, a layout
that does not fit, or a search with nothing that fits (one line on stderr naming what is short).
"""

from __future__ import annotations

import argparse
import json
import sys

from gpubench.cliargs import (
    PLOT_SUFFIXES,
    count,
    needs,
    number,
    output_file_problem,
    refuse_together,
    standalone,
)
from gpubench.exits import EXIT_USAGE, usage_error
from gpubench.fmt import fmt_bytes
from gpubench.results import ResultsError, finite_or_none
from gpubench.roofline.comm import TOPOLOGIES, load_interconnects, load_topology
from gpubench.roofline.target import Target, TargetError, add_target_arguments, target_from_args
from gpubench.transformer.backward import GRAD_DTYPES
from gpubench.transformer.configs import MODELS, ConfigError, get_model
from gpubench.transformer.scenario import ATTENTION_FORMS
from gpubench.transformer.training import render
from gpubench.transformer.training.efficiency import SIDES, reference_ceilings, roofs_for
from gpubench.transformer.training.layout import RECOMPUTE, ZERO_STAGES, Job, Layout, LayoutError, check
from gpubench.transformer.training.search import largest_model, search
from gpubench.transformer.training.step import predict_step

PROG = "gpubench train"
TOKENS_PER_BATCH = 2**24  # the default batch: Llama 3's 16M tokens (arXiv:2407.21783, table 4)
DEFAULT_SEQ = 8192  # Llama 3's pre-training length, capped by the model's context


LAYOUT_OPTIONS = ("--tp", "--sp", "--cp", "--pp", "--dp", "--zero", "--recompute", "--micro-batch",
                  "--interleave")  # fmt: skip


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("model", nargs="?", metavar="MODEL", help=f"{', '.join(MODELS)}, or a config's .json file")
    add_target_arguments(p, "the GPU")
    p.add_argument("--gpus", type=count("GPUs"), help="GPUs in all")
    p.add_argument("--tp", type=count("ranks"), default=1, help="tensor parallel ranks (default 1)")
    p.add_argument(
        "--sp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="sequence parallelism with TP (default: on when TP > 1)",
    )
    p.add_argument("--cp", type=count("ranks"), default=1, help="context parallel ranks (default 1)")
    p.add_argument("--pp", type=count("stages"), default=1, help="pipeline stages (default 1)")
    p.add_argument("--dp", type=count("ranks"), help="data parallel ranks (default: GPUs / (TP CP PP))")
    p.add_argument("--zero", type=count("ZeRO stage", 0), choices=ZERO_STAGES, default=0,
                   help="ZeRO stage; 3 is FSDP (default 0)")
    p.add_argument(
        "--recompute", choices=RECOMPUTE, default="none", help="activation recompute (default none)"
    )
    p.add_argument("--micro-batch", type=count("sequences"), default=1,
                   help="sequences per micro-batch (default 1)")
    p.add_argument("--global-batch", type=count("sequences"),
                   help="sequences per step (default: 16M tokens' worth)")
    p.add_argument("--seq", type=count("tokens"),
                   help=f"tokens per sequence (default: {DEFAULT_SEQ}, or the model's context)")
    p.add_argument("--interleave", type=count("chunks"), default=1, metavar="V",
                   help="model chunks per pipeline rank")
    p.add_argument("--p2p-overlap", action="store_true", help="asynchronous pipeline sends (overlap compute)")
    p.add_argument(
        "--topology",
        metavar="NAME|FILE",
        help=f"{', '.join(TOPOLOGIES)} or a file (default: the system of the GPU)",
    )
    p.add_argument("--dtype", choices=("bf16", "fp16"), default="bf16", help="16-bit math (default bf16)")
    p.add_argument(
        "--grad-dtype", choices=tuple(GRAD_DTYPES), default="fp32", help="gradients (default fp32)"
    )
    p.add_argument(
        "--attention", choices=ATTENTION_FORMS, default="flash", help="flash or materialised scores"
    )
    p.add_argument("--dropout", action="store_true", help="GPT-3-style dropout (attention probs, residuals)")
    p.add_argument(
        "--side", choices=SIDES, help="roofs: measured, carried or datasheet (default: first known)"
    )
    p.add_argument("--search", action="store_true", help="rank every layout of the GPUs that fits")
    p.add_argument("--top", type=count("layouts"), default=10, help="layouts shown by --search (default 10)")
    p.add_argument("--largest", action="store_true", help="the largest model of MODEL's family that trains")
    p.add_argument("--tokens", type=number("tokens", 0, low_open=True),
                   help="a token budget: GPU-hours and days at the predicted rate")
    p.add_argument("--validate", action="store_true", help="the published rows against the predictions")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--plot", metavar="FILE", help="where the step's time goes, stacked (.png, .svg or .pdf)")
    _rules(p)
    return p  # fmt: skip


def _rules(p: argparse.ArgumentParser) -> None:
    """The options that conflict, or that apply only with another (cliargs: refused, never ignored)."""
    refuse_together(p, "--validate", ("model", "MODEL"), "--gpu", "--spec-file", "--what-if", "--ceilings",
                    "--gpus", "--search", "--largest", "--tokens", "--plot", "--topology", *LAYOUT_OPTIONS,
                    why="--validate runs the published rows' own jobs")  # fmt: skip
    refuse_together(p, "--search", "--largest", why="--largest searches the layouts of its own model")
    for option in ("--search", "--largest"):
        refuse_together(p, option, *LAYOUT_OPTIONS, why=f"{option} tries every layout itself")
    needs(p, "--top", "--search", "the layouts it ranks")
    needs(p, "--interleave", "--pp", "model chunks are per pipeline stage")
    needs(p, "--sp", "--tp", "sequence parallelism shards over the TP ranks")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("train", help="a training step on N GPUs: memory, time by term, MFU; layouts",
                              description=__doc__.split("\n\n")[0])  # fmt: skip
    configure(p)
    p.set_defaults(func=run)
    return p


def _topology(args, gpus: int, spec):
    """The topology named, else the system of the GPU; None for one GPU (nothing to communicate)."""
    name = args.topology
    if name is None:
        if gpus == 1:
            return None
        systems = [k for k, s in load_interconnects().systems.items() if s.gpu == spec.key]
        if not systems:
            known = ", ".join(TOPOLOGIES)
            raise ValueError(f"no known system has {spec.key} GPUs: give --topology ({known})")
        name = systems[0]
    per_node = load_topology(name).gpus_per_node
    return load_topology(name, nodes=-(-gpus // per_node))


def _job(args, cfg) -> Job:
    seq = args.seq if args.seq is not None else min(cfg.max_context, DEFAULT_SEQ)
    batch = (
        args.global_batch if args.global_batch is not None else max(1, round(TOKENS_PER_BATCH / max(seq, 1)))
    )
    return Job(cfg, seq, batch, args.dtype, args.grad_dtype, args.attention, args.dropout)


def _layout(args) -> Layout:
    dp = args.dp
    if dp is None:
        inner = args.tp * args.cp * args.pp
        if inner < 1 or args.gpus % inner:
            raise LayoutError(f"TP x CP x PP = {inner} does not divide the {args.gpus} GPUs")
        dp = args.gpus // inner
    sp = args.tp > 1 if args.sp is None else args.sp
    return Layout(args.tp, args.cp, args.pp, dp, sp, args.zero, args.recompute, args.micro_batch,
                  args.interleave, args.p2p_overlap)  # fmt: skip


def measured_of(target: Target, side: str | None = None):
    """(measured ceilings, where they came from) for the training roofs of `target`: those of --ceilings,
    else the ones committed for its GPU model asked its what-ifs (roofs_for would take them unchanged);
    (None, None) where neither is wanted or known."""
    if target.measured is not None:
        return target.measured, target.measured_origin
    reference = reference_ceilings().get(target.base.key) if side in (None, "measured") else None
    return target.with_what_ifs(*reference) if reference else (None, None)


def _setup(args):
    """(job, spec, roofs, topology) from the arguments; ValueError/KeyError/ResultsError on bad input."""
    if not args.gpus:
        raise ValueError("--gpus is required (the number of GPUs in all)")
    cfg, target = get_model(args.model), target_from_args(args)
    spec = target.spec
    measured, origin = measured_of(target, args.side)
    roofs = roofs_for(spec, measured, origin or "", args.side)
    job = _job(args, cfg)
    check(job, Layout())  # the job alone (sequence, batch, dtypes)
    return job, spec, roofs, _topology(args, args.gpus, spec)


def _emit(args, text: str, doc: dict, plots: list) -> None:
    if args.json:
        sys.stdout.write(json.dumps(finite_or_none(doc), indent=1) + "\n")
    else:
        sys.stdout.write(text)
    if args.plot and plots:
        render.plot(plots, args.plot)
        if not args.json:
            print(f"plot: {args.plot}")


def _search(args, job, spec, roofs, topo) -> int:
    res = search(job, args.gpus, spec, roofs, topo, max(1, args.top), args.p2p_overlap)
    if not res.ranked:
        if res.closest is None:
            why = "see the constraints of TP, CP, PP and the batch in docs/training.md"
            return usage_error(PROG, f"no layout of {args.gpus} GPUs is valid for {job.cfg.name} ({why})")
        lay, short = res.closest
        return usage_error(PROG, f"nothing fits {spec.name}'s {fmt_bytes(spec.mem_bytes)}: the closest, "
                                 f"{lay.describe()}, is short by {fmt_bytes(short)} per GPU")  # fmt: skip
    preds = [r.prediction for r in res.ranked]
    text = render.search_table(res)
    if args.tokens:
        b = render.budget(preds[0], args.tokens)
        text += f"{args.tokens:.3g} tokens at the best layout: {b['gpu_hours']:,.0f} GPU-hours, "
        text += f"{b['days']:.3g} days\n"
    _emit(args, text, render.search_json(res, args.tokens), preds)
    return 0


def _largest(args, job, spec, roofs, topo) -> int:
    cfg = largest_model(job, args.gpus, spec, topo.gpus_per_node if topo is not None else 1)
    if cfg is None:
        where = f"{args.gpus} x {spec.name}"
        return usage_error(PROG, f"even the narrowest member of {job.cfg.name}'s family does not fit {where}")
    big = Job(cfg, job.seq, job.global_batch, job.dtype, job.grad_dtype, job.attention, job.dropout)
    res = search(big, args.gpus, spec, roofs, topo, 1, args.p2p_overlap)
    p = res.best
    head = (
        f"largest of {job.cfg.name}'s family on {args.gpus} x {spec.name}: {cfg.params() / 1e9:.1f} B params "
        f"({cfg.layers} layers, hidden {cfg.hidden}, {cfg.heads}/{cfg.kv_heads} heads, FFN {cfg.ffn})\n"
    )
    doc = {"schema": render.SCHEMA, "largest": cfg.to_json(), **render.step_json(p, args.tokens)}
    _emit(args, head + render.table(p, args.tokens), doc, [p])
    return 0


def _validate(args) -> int:
    from gpubench.transformer.training.validation import validate

    rows = validate()
    lines = ["row                           published   predicted   error   layout"]
    doc = []
    for v in rows:
        unit, pub = ("s", v.row.step_time_s) if v.row.step_time_s else ("TFLOP/s", v.row.tflops_per_gpu)
        got = v.prediction.step_time_s if unit == "s" else v.prediction.tflops_per_gpu
        lines.append(f"{v.row.label:28s} {pub:8.2f} {unit:7s} {got:8.2f}  {v.error:+7.1%}   "
                     f"{v.prediction.layout.describe()}")  # fmt: skip
        doc.append({"row": v.row.label, "published": pub, "unit": unit, "predicted": got, "error": v.error,
                    "source": v.row.source, "prediction": render.step_json(v.prediction)})  # fmt: skip
    _emit(args, "\n".join(lines) + "\n", {"schema": render.SCHEMA, "validation": doc}, [])
    return 0


def run(args) -> int:
    if args.validate:
        return _validate(args)
    if not args.model:
        return usage_error(PROG, f"name a model ({', '.join(MODELS)}) or a config's .json file")
    if problem := output_file_problem("--plot", args.plot, PLOT_SUFFIXES):
        return usage_error(PROG, problem)
    try:
        job, spec, roofs, topo = _setup(args)
        if args.search:
            return _search(args, job, spec, roofs, topo)
        if args.largest:
            return _largest(args, job, spec, roofs, topo)
        lay = _layout(args)
        check(job, lay, args.gpus)
    except (ConfigError, LayoutError, ResultsError, TargetError, ValueError) as exc:
        return usage_error(PROG, str(exc))
    except KeyError as exc:
        return usage_error(PROG, str(exc.args[0]))
    p = predict_step(job, lay, spec, roofs, topo)
    _emit(
        args, render.table(p, args.tokens), {"schema": render.SCHEMA, **render.step_json(p, args.tokens)}, [p]
    )
    if p.memory.fits is False:
        print(f"{PROG}: error: {lay.describe()} needs {fmt_bytes(p.memory.total)} per GPU, "
              f"{fmt_bytes(-p.memory.headroom)} more than {spec.name}'s {fmt_bytes(spec.mem_bytes)}",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    return 0


def main(argv=None) -> int:
    return standalone(configure, run, PROG, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
