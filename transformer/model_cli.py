"""`gpubench model NAME --phase prefill|decode --seq N --batch B [--context N] --gpu GPU`: a transformer's
operators on a GPU's roofline (the GPU of the database, or yours with --spec-file; --what-if asks hardware
questions; roofline.target resolves them).

Every operator of a layer (norms, QKV and O projections, rotary embedding, attention, activation, MLP
GEMMs, residual adds) and of the model (embedding, final norm, LM head) with FLOPs, bytes, intensity, the
roof that binds and the predicted time on the GPU's datasheet (and on measured ceilings with --ceilings);
per-layer and model totals, tokens per second, the memory footprint and whether it fits. What-ifs
(--weights, --fusion off, --tile) are each set against the baseline. Where the GPU lacks an operator's unit
(bf16 tensor cores on a V100) the operator runs on a stated fallback, or has no time and the command says
why (roofline.rates). Runs without torch or a GPU. Exit 0; 1 when an operator is refused (no total is
given); 2 on a usage or input error (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys

from gpubench.cliargs import PLOT_SUFFIXES, count, needs, output_file_problem, refuse_together, standalone
from gpubench.exits import usage_error
from gpubench.opcount import WEIGHT_FORMATS
from gpubench.results import finite_or_none
from gpubench.roofline.target import TargetError, add_target_arguments, target_from_args
from gpubench.roofline.tiling import DATAFLOWS
from gpubench.transformer import render
from gpubench.transformer.args import DEFAULT_DATAFLOW, scenario
from gpubench.transformer.configs import MODELS, ConfigError, get_model
from gpubench.transformer.predict import predict_model
from gpubench.transformer.scenario import DTYPES, PHASES, ScenarioError
from gpubench.transformer.whatif import WhatIf

PROG = "gpubench model"


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("model", nargs="?", metavar="NAME", help=f"{', '.join(MODELS)}, or a config's .json file")
    p.add_argument("--list", action="store_true", help="list the known models and exit")
    p.add_argument("--phase", choices=PHASES, help="prefill (a prompt of --seq tokens) or decode (one step)")
    p.add_argument(
        "--seq", type=count("tokens"),
        help="new tokens per sequence: the prompt (prefill), 1 by default (decode)",
    )  # fmt: skip
    p.add_argument("--batch", type=count("sequences"), default=1, help="sequences (default 1)")
    p.add_argument(
        "--context",
        type=count("tokens"),
        help="keys the last token attends to, itself included (decode: required; prefill: --seq)",
    )
    add_target_arguments(p, "the GPU")
    p.add_argument("--dtype", choices=tuple(DTYPES), default="bf16", help="activations and KV cache (bf16)")
    p.add_argument("--weights", choices=tuple(WEIGHT_FORMATS), help="what-if: the layers' weight format")
    p.add_argument(
        "--group", type=count("elements"), default=128, help="int4 scale group along K (default 128)"
    )
    p.add_argument(
        "--fusion",
        choices=("on", "off"),
        default="on",
        help="what-if off: materialised attention scores, norms and softmax as torch ops",
    )
    p.add_argument(
        "--tile", metavar="TMxTNxTK", help="what-if: GEMM bytes from the tiling model for this tile"
    )
    p.add_argument("--dataflow", choices=DATAFLOWS, help=f"with --tile (default {DEFAULT_DATAFLOW})")
    p.add_argument(
        "--logits",
        choices=("last", "all"),
        default="last",
        help="prefill: LM head over each sequence's last token (default) or every token",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--plot", metavar="FILE", help="time per operator class, stacked (.png, .svg or .pdf)")
    needs(p, "--dataflow", "--tile", "the dataflow is the tiled GEMMs'")
    needs(p, "--group", "--weights", "it is the int4 weights' scale group")
    refuse_together(p, "--list", ("model", "NAME"), "--phase", "--gpu", "--spec-file", "--what-if",
                    "--ceilings", "--tile", "--plot",
                    why="--list lists the models and does nothing else")  # fmt: skip
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "model", help="a transformer's operators on a GPU's roofline", description=__doc__.split("\n\n")[0]
    )
    configure(p)
    p.set_defaults(func=run)
    return p


def _list() -> str:
    rows = [
        f"{k:<14} {c.name:<16} {c.params() / 1e9:7.1f} B params, {c.layers} layers, hidden {c.hidden}, "
        f"{c.heads}/{c.kv_heads} heads, FFN {c.ffn} {c.activation}, context {c.max_context}"
        for k, c in MODELS.items()
    ]
    return "\n".join(rows) + "\n"


def run(args) -> int:
    if args.list:
        sys.stdout.write(_list())
        return 0
    if not args.model:
        return usage_error(PROG, f"name a model ({', '.join(MODELS)}) or give --list")
    try:
        cfg = get_model(args.model)
        target = target_from_args(args)
        sc = scenario(args, cfg)
    except (ConfigError, ScenarioError, TargetError) as exc:
        return usage_error(PROG, str(exc))
    except KeyError as exc:
        return usage_error(PROG, str(exc.args[0]))
    if problem := output_file_problem("--plot", args.plot, PLOT_SUFFIXES):
        return usage_error(PROG, problem)
    on = (target.spec, target.measured, target.measured_origin)
    pred, base = predict_model(cfg, sc, *on), predict_model(cfg, sc.baseline, *on)
    whatifs = [WhatIf(label, base, predict_model(cfg, alt, *on)) for label, alt in sc.whatifs()]
    if len(whatifs) > 1:
        whatifs.append(WhatIf("all together", base, pred))
    if args.json:
        doc = {**render.to_json(pred, whatifs), "target": target.to_json(), "refused": pred.refused()}
        sys.stdout.write(json.dumps(finite_or_none(doc), indent=1) + "\n")
    else:
        sys.stdout.write(render.table(pred, whatifs))
    if args.plot:
        render.plot(pred, whatifs, args.plot)
        if not args.json:
            print(f"plot: {args.plot}")
    for why in pred.refused():
        print(f"{PROG}: refused: {why}", file=sys.stderr)
    return 1 if pred.refused() else 0


def main(argv=None) -> int:
    return standalone(configure, run, PROG, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
