"""What the transformer commands read from their command lines alike: the scenario of `model` and `layer`
(phase, batch, tokens, context and what-ifs), and the measured ceilings named with --ceilings where the
GPU is the device itself (`layer`, `train-step`)."""

from __future__ import annotations

from gpubench import results
from gpubench.results import MeasuredCeilings
from gpubench.roofline.target import check_ceilings
from gpubench.transformer.scenario import Scenario, ScenarioError, check

__all__ = ["DEFAULT_DATAFLOW", "measured_ceilings", "read_ceilings", "scenario"]

DEFAULT_DATAFLOW = "output_stationary"


def _tile(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(x.isdigit() and int(x) > 0 for x in parts):
        raise ScenarioError(f"--tile must look like 128x128x64 (three positive integers), got {text!r}")
    return tuple(int(x) for x in parts)  # type: ignore[return-value]


def scenario(args, cfg) -> Scenario:
    """The Scenario the options describe, checked against `cfg` with each of its what-ifs."""
    if args.phase is None:
        raise ScenarioError("--phase is required (prefill or decode)")
    seq = args.seq if args.seq is not None else (1 if args.phase == "decode" else None)
    if seq is None:
        raise ScenarioError("prefill needs --seq (the prompt's tokens per sequence)")
    context = args.context if args.context is not None else (seq if args.phase == "prefill" else None)
    if context is None:
        raise ScenarioError("decode needs --context (the keys the new token attends to, itself included)")
    sc = Scenario(
        args.phase,
        args.batch,
        seq,
        context,
        args.dtype,
        args.weights,
        args.group,
        args.fusion == "on",
        _tile(getattr(args, "tile", None)),
        getattr(args, "dataflow", None) or DEFAULT_DATAFLOW,
        getattr(args, "logits", "last"),
    )
    check(cfg, sc)
    for _, alt in sc.whatifs():
        check(cfg, alt)
    return sc


def read_ceilings(path: str | None):
    """The ceilings file named with --ceilings (None without one); ResultsError when it cannot be used."""
    return results.read_ceilings(path) if path else None


def measured_ceilings(args, spec) -> tuple[MeasuredCeilings | None, str | None]:
    """(the ceilings of --ceilings, where they came from) for predictions on `spec`, (None, None) without
    one; TargetError when they were measured on another GPU model (roofline.target's rule, the same in
    every command). For a GPU named by the device itself; a --gpu target reads its own (target_from_args)."""
    if not args.ceilings:
        return None, None
    ceilings, on = check_ceilings(spec, args.ceilings)
    return ceilings, f"{on}, {args.ceilings}"
