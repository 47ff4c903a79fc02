"""The GPU a prediction is for, resolved one way for every command that takes --gpu (predict, model, layer,
profile-module, systolic, tiling): a database name or key, or a GPU of a spec file; hardware what-ifs;
and the ceilings measured on it.

    --gpu NAME          a key, name or unique part of one (`gpubench specs`); an ambiguous name lists the
                        candidates with their keys
    --spec-file FILE    TOML in the database's format: [gpus.<key>] with base = "<database key>" and the
                        figures that differ (one table: it is the target; several: --gpu picks by key)
    --what-if K=V       a hardware question (roofline.whatif): dram_bw=2x, sm_clock=1.5GHz, l2=100MiB, ...
    --ceilings FILE     ceilings measured on the target GPU (gpubench micro). Ceilings measured on another
                        GPU model are refused: one model's roofs are not another's (the device name in the
                        file must match the target's `match` patterns). What-ifs apply to them too.

What a prediction does where the target lacks a dtype's unit is roofline.rates' rule (`compute_rate`).
Every problem is a TargetError with one line naming it (the commands exit 2 with it).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gpubench import results
from gpubench.results import MeasuredCeilings, ResultsError
from gpubench.roofline.crossgen import ceilings_of_spec
from gpubench.roofline.placement import RunCeilings
from gpubench.roofline.specs import GPUSpec, SpecFileError, get_spec, load_spec_file, match_gpu
from gpubench.roofline.whatif import WhatIfError, apply_all, parse_what_if

__all__ = [
    "Target",
    "TargetError",
    "add_target_arguments",
    "check_ceilings",
    "resolve_target",
    "target_from_args",
]


class TargetError(ValueError):
    """A --gpu, --spec-file, --what-if or --ceilings that cannot be used; one line naming the problem."""


@dataclass(frozen=True)
class Target:
    spec: GPUSpec  # what-ifs applied
    base: GPUSpec  # as the database or the spec file gives it
    what_ifs: tuple[str, ...] = ()
    measured: MeasuredCeilings | None = None  # what-ifs applied
    ceilings_file: str | None = None
    ceilings_gpu: str | None = None  # the device the ceilings were measured on

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def measured_origin(self) -> str | None:
        if self.ceilings_file is None:
            return None
        return f"{self.ceilings_gpu}, {self.ceilings_file}" + (" (what-ifs applied)" if self.what_ifs else "")

    def with_what_ifs(self, measured: MeasuredCeilings, origin: str) -> tuple[MeasuredCeilings, str]:
        """Ceilings measured on the target's GPU model that did not come with --ceilings (a reference file
        committed with the suite), asked the target's what-ifs as its own ceilings are."""
        if not self.what_ifs:
            return measured, origin
        _, changed = apply_all(self.base, measured, [parse_what_if(w) for w in self.what_ifs])
        return changed, f"{origin} (what-ifs applied)"

    def ceilings(self) -> RunCeilings:
        """Its datasheet ceilings, and the measured ones where given (roofline.placement)."""
        return ceilings_of_spec(self.spec, self.measured, self.measured_origin or "")

    def to_json(self) -> dict[str, Any]:
        return {
            "gpu": self.spec.name, "key": self.spec.key, "origin": self.spec.origin,
            "what_if": list(self.what_ifs), "ceilings_file": self.ceilings_file,
            "ceilings_measured_on": self.ceilings_gpu,
        }  # fmt: skip


def _spec(gpu: str | None, spec_file: str | None) -> GPUSpec:
    try:
        extra = load_spec_file(spec_file) if spec_file else []
    except SpecFileError as exc:
        raise TargetError(f"--spec-file {exc}") from None
    if gpu is None:
        if len(extra) == 1:
            return extra[0]
        if extra:
            keys = ", ".join(s.key for s in extra)
            raise TargetError(f"--spec-file {spec_file} holds several GPUs ({keys}): pick one with --gpu KEY")
        raise TargetError("--gpu is required (a key or name of `gpubench specs`), or --spec-file FILE")
    try:
        return get_spec(gpu, extra)
    except KeyError as exc:
        raise TargetError(f"--gpu: {exc.args[0]}") from None


def check_ceilings(spec: GPUSpec, path: str) -> tuple[MeasuredCeilings, str]:
    """(the ceilings in `path`, the device they were measured on), if that device is `spec`'s GPU model;
    TargetError otherwise: ceilings measured on another model are not this one's."""
    try:
        f = results.read_ceilings(path)
    except ResultsError as exc:
        raise TargetError(f"--ceilings: {exc}") from None
    if match_gpu(f.gpu, [spec]) is None:
        raise TargetError(
            f"--ceilings {path} was measured on {f.gpu}, not on {spec.name} ({spec.key}): one GPU model's "
            "ceilings are not another's; drop --ceilings to use its datasheet, or measure it (gpubench micro)"
        )
    return f.ceilings, f.gpu


def resolve_target(
    gpu: str | None = None,
    spec_file: str | None = None,
    what_if: Sequence[str] = (),
    ceilings: str | None = None,
) -> Target:
    """The target these options name; TargetError (one line) for anything that cannot be used."""
    base = _spec(gpu, spec_file)
    measured = measured_on = None
    if ceilings:
        measured, measured_on = check_ceilings(base, ceilings)
    try:
        spec, measured = apply_all(base, measured, [parse_what_if(w) for w in what_if])
    except WhatIfError as exc:
        raise TargetError(str(exc)) from None
    return Target(spec, base, tuple(what_if), measured, ceilings, measured_on)


def add_target_arguments(p: argparse.ArgumentParser, what: str = "the GPU to predict on") -> None:
    """--gpu, --spec-file, --what-if and --ceilings, as every command that takes a target has them."""
    p.add_argument("--gpu", metavar="NAME", help=f"{what}: a key or name of `gpubench specs`")
    p.add_argument(
        "--spec-file", metavar="FILE", help='your GPU: TOML [gpus.<key>] with base = "<database key>" and '
        "the figures that differ (docs/model.md)",
    )  # fmt: skip
    p.add_argument(
        "--what-if", action="append", default=[], metavar="KEY=VALUE",
        help="a hardware question, repeatable: dram_bw=2x, sm_clock=1.5GHz, sm_count=2x, l2=100MiB, "
        "mem=192GiB, peak.bf16=2x",
    )  # fmt: skip
    p.add_argument("--ceilings", metavar="FILE", help="ceilings measured on that GPU (gpubench micro)")


def target_from_args(args, required: bool = True) -> Target | None:
    """The target of a command's parsed arguments (add_target_arguments); None where none is named and
    none is required (--what-if and --ceilings then need one)."""
    gpu, spec_file = getattr(args, "gpu", None), getattr(args, "spec_file", None)
    if gpu is None and spec_file is None and not required:
        if getattr(args, "what_if", None):
            raise TargetError("--what-if needs a GPU to change: --gpu NAME or --spec-file FILE")
        return None
    what_if = getattr(args, "what_if", None) or ()
    return resolve_target(gpu, spec_file, what_if, getattr(args, "ceilings", None))
