"""`gpubench layer NAME --phase prefill|decode --seq N --batch B [--context N]`: one layer of a model
measured on the GPU, operator by operator, next to the roofline's prediction.

Each operator runs at its shape with the suite's workload for it (gemm, rmsnorm, layernorm, softmax,
attention, qmatmul: those registered; each checked against its reference before it is timed), the others
as plain torch ops; the whole layer then runs as one torch module (random weights, nothing downloaded),
and its time is set against the sum of its operators'. Needs a CUDA GPU; --dry-run shows the plan (which
workload, shape and variants measure each operator, or why a torch op stands in) anywhere.
Exit 0, or 2 on a usage error (no GPU included).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gpubench.cliargs import count, needs, output_file_problem, standalone
from gpubench.exits import usage_error
from gpubench.fmt import DASH, fmt_time, shape_label
from gpubench.opcount import WEIGHT_FORMATS
from gpubench.results import ResultsError, finite_or_none
from gpubench.roofline.target import TargetError, add_target_arguments, target_from_args
from gpubench.transformer.args import measured_ceilings, read_ceilings, scenario
from gpubench.transformer.configs import MODELS, ConfigError, get_model
from gpubench.transformer.scenario import PHASES, ScenarioError

PROG = "gpubench layer"
NO_GPU = (
    "needs a CUDA GPU (it times every operator on the device; torch sees none): `gpubench layer ... "
    "--dry-run` shows the plan here, `gpubench model ...` predicts on any machine"
)


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("model", metavar="NAME", help=f"{', '.join(MODELS)}, or a config's .json file")
    p.add_argument("--phase", choices=PHASES, required=True, help="prefill or a decode step")
    p.add_argument(
        "--seq", type=count("tokens"), help="new tokens per sequence (prefill: required; decode 1)"
    )
    p.add_argument("--batch", type=count("sequences"), default=1, help="sequences (default 1)")
    p.add_argument("--context", type=count("tokens"), help="keys the last token attends to (decode: needed)")
    p.add_argument("--dtype", choices=("fp16", "bf16"), default="bf16", help="default bf16")
    p.add_argument(
        "--weights", choices=tuple(WEIGHT_FORMATS), help="the projections' weight format (qmatmul)"
    )
    p.add_argument("--group", type=count("elements"), default=128, help="int4 scale group (default 128)")
    p.add_argument("--fusion", choices=("on", "off"), default="on", help="off: the unfused operators")
    add_target_arguments(p, "predict on this GPU (default: the device)")
    p.add_argument(
        "--rule", choices=("quick", "full"), default="quick", help="the stopping rule (default quick)"
    )
    p.add_argument("--out", metavar="FILE", help="write the measurements and predictions as JSON")
    p.add_argument("--dry-run", action="store_true", help="show the plan; measure nothing")
    p.add_argument("--json", action="store_true", help="print the document instead of the table")
    needs(p, "--group", "--weights", "it is the int4 weights' scale group")
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "layer",
        help="one layer's operators measured on the GPU against the roofline",
        description=__doc__.split("\n\n")[0],
    )
    configure(p)
    p.set_defaults(func=run)
    return p


def plan_lines(plan, pred) -> list[str]:
    side = "measured" if pred is not None and "measured" in pred.sides else "datasheet"
    rows = {r.op.name: r for r in pred.layer_rows()} if pred is not None else {}
    head = [
        "operator",
        "measured by",
        "shape",
        f"predicted ({side})" if pred is not None else "",
        "why not a workload",
    ]
    body = []
    for p in plan:
        t = rows[p.op.name].times.get(side) if p.op.name in rows else None
        shape = shape_label(p.shape or p.op.shape, " ")
        body.append(
            [
                p.op.name,
                p.source,
                shape,
                fmt_time(t.time_s) if t else DASH if pred else "",
                "; ".join(filter(None, [p.reason, p.note])),
            ]
        )
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    return ["  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip() for r in [head, *body]]


def result_lines(doc: dict) -> list[str]:
    side = "measured" if doc["measured_ceilings"] else "datasheet"
    head = ["operator", "measured by", "measured", f"predicted ({side})", "meas/pred", "bound"]
    body = []
    for o in doc["operators"]:
        pred = o["predicted"].get(side)
        ratio = f"{o['measured_s'] / pred:.2f}" if o["measured_s"] and pred else DASH
        best = o["best_variant"]
        by = "torch op" if best == "torch_op" else f"{o['workload']}/{best}" if best else DASH
        body.append(
            [o["name"], by, fmt_time(o["measured_s"]), fmt_time(pred), ratio, o["bound"].get(side, DASH)]
        )
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip() for r in [head, *body]]
    lay = doc["layer"]
    lines += [
        "",
        f"one layer: sum of the operators {fmt_time(lay['sum_of_operators_s'])}, the torch module "
        f"{fmt_time(lay['torch_layer_s'])}, predicted {fmt_time(lay['predicted'].get(side))} ({side})",
    ]
    return lines


def run(args) -> int:
    try:
        cfg = get_model(args.model)
        sc = scenario(args, cfg)  # the what-ifs a layer run measures: weights and fusion
        target = target_from_args(args, required=False)
        if target is None:  # the device's own: read before anything runs, a --dry-run included
            read_ceilings(args.ceilings)
    except (ConfigError, ScenarioError, TargetError, ResultsError) as exc:
        return usage_error(PROG, str(exc))
    except KeyError as exc:
        return usage_error(PROG, str(exc.args[0]))
    if problem := output_file_problem("--out", args.out):
        return usage_error(PROG, problem)
    import torch

    from gpubench.transformer.measured.compose import plan_layer, registry_info
    from gpubench.transformer.operators import layer_operators
    from gpubench.transformer.predict import predict_model

    plan = plan_layer(layer_operators(cfg, sc), sc, registry_info())
    if args.dry_run:
        on = (target.spec, target.measured, target.measured_origin) if target is not None else None
        pred = predict_model(cfg, sc, *on) if on is not None else None
        print(f"{cfg.name}, one layer: {sc.describe()} (dry run: nothing measured)")
        print("\n".join(plan_lines(plan, pred)))
        return 0
    if not torch.cuda.is_available():
        return usage_error(PROG, NO_GPU)
    return _measure(args, cfg, sc, target, plan, torch)


def _measure(args, cfg, sc, target, plan, torch) -> int:
    from gpubench.bench.measure.device import device_info
    from gpubench.roofline.specs import resolve_spec
    from gpubench.transformer.measured.layer_run import layer_document, measure_layer
    from gpubench.transformer.predict import predict_model

    device = torch.device("cuda", torch.cuda.current_device())
    info = device_info(device)
    if target is not None:
        spec, measured, origin = target.spec, target.measured, target.measured_origin
    else:  # the device itself: its ceilings file must be of its model too
        spec = resolve_spec(info)
        try:
            measured, origin = measured_ceilings(args, spec)
        except TargetError as exc:
            return usage_error(PROG, str(exc))
    pred = predict_model(cfg, sc, spec, measured, origin)
    ops, layer = measure_layer(plan, pred, device, args.rule, args.ceilings)
    doc = layer_document(pred, ops, layer, info.get("name", str(device)))
    doc["notes"] = pred.refused()  # operators with no prediction on this GPU, and why
    text = json.dumps(finite_or_none(doc), indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if args.json:
        print(text)
    else:
        print(f"{cfg.name}, one layer on {doc['gpu']}: {sc.describe()}")
        print("\n".join(result_lines(doc)))
        if args.out:
            print(f"written: {args.out}")
    return 0


def main(argv=None) -> int:
    return standalone(configure, run, PROG, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
