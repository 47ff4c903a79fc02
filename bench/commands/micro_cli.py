"""`gpubench micro [--only NAME...] [--out PATH] [--quick]`: measure this GPU's ceilings.

Writes a ceilings file (bench.micro.ceilings) atomically, by default results/ceilings-<gpu>.json.
Without a GPU it measures nothing and writes nothing: it says so, compiles the micro-benchmarks' CUDA
sources with NVRTC as a check, and exits with code 2. Imports nothing heavy at module level, so that
`gpubench` offers the subcommand on machines without torch.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from gpubench.bench.micro import FAMILIES, cuda_sources
from gpubench.exits import usage_error

PROG = "gpubench micro"
NO_GPU_EXIT = 2


def add_parser(subparsers) -> None:
    sp = subparsers.add_parser(
        "micro",
        help="micro-benchmarks that measure this GPU's ceilings (bandwidths, FLOP rates, latencies); "
        "writes a ceilings file",
        description=__doc__.split("\n\n")[0],
    )
    sp.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help=f"only these families: {', '.join(FAMILIES)}",
    )
    sp.add_argument("--out", metavar="PATH", help="ceilings file (default results/ceilings-<gpu>.json)")
    sp.add_argument("--quick", action="store_true", help="fewer samples and shorter runs (about 2 minutes)")
    sp.set_defaults(func=run)


def default_out(gpu_name: str) -> Path:
    from gpubench.fmt import file_slug

    return Path("results") / f"ceilings-{file_slug(gpu_name)}.json"


def nvrtc_check(echo=print) -> int:
    """Compile every micro-benchmark source with NVRTC; the number of problems (spills count)."""
    from gpubench.bench.cpucheck import nvrtc

    sources = cuda_sources()
    return nvrtc.check_sources(sources, sources[0].parents[2] if sources else Path("."), echo)


def _has_gpu() -> tuple[bool, str]:
    try:
        import torch
    except ImportError:
        return False, "torch is not installed"
    if not torch.cuda.is_available():
        return False, "torch sees no CUDA device (torch.cuda.is_available() is False)"
    return True, ""


def run(args) -> int:
    from gpubench.outpath import unwritable

    families = list(dict.fromkeys(args.only or FAMILIES))
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        known = ", ".join(FAMILIES)
        return usage_error(PROG, f"unknown micro-benchmark(s) {', '.join(unknown)}; known: {known}")
    if args.out and (problem := unwritable(args.out)):
        return usage_error(PROG, f"--out: {problem}")
    ok, why = _has_gpu()
    if not ok:
        print(
            f"gpubench micro: needs a CUDA GPU ({why}), so nothing is measured and no ceilings file is "
            "written.\nChecking instead that the micro-benchmarks' CUDA sources compile with NVRTC for "
            "sm_80 and sm_90:"
        )
        bad = nvrtc_check()
        print(f"NVRTC check: {'all sources compile' if not bad else f'{bad} problem(s)'}")
        return NO_GPU_EXIT
    return run_gpu([f for f in FAMILIES if f in families], args.quick, args.out)


def run_gpu(families: list[str], quick: bool, out: str | None, echo=print) -> int:
    """Measure `families` on the current CUDA device and write the ceilings file; 0 ok, 1 if any failed."""
    import torch

    from gpubench.bench.measure.device import device_info, software_versions
    from gpubench.bench.micro.ceilings import build_document
    from gpubench.bench.micro.common import Context
    from gpubench.results import write

    device = torch.device("cuda", torch.cuda.current_device())
    info = device_info(device)
    ctx = Context(device, quick, info, echo)
    out_path = Path(out) if out else default_out(info["name"])
    echo(
        f"gpubench micro: {', '.join(families)} on {info['name']} ({ctx.sm_count} SMs, L2 "
        f"{ctx.l2_bytes / 2**20:.0f} MiB, cc {ctx.cc[0]}.{ctx.cc[1]}){' [quick]' if quick else ''}; "
        f"{ctx.spec_note}; ceilings -> {out_path}"
    )
    t0 = time.perf_counter()
    failures, status = _run_families(ctx, families, device, echo)
    doc = build_document(
        ctx.entries,
        ctx.sweep,
        info,
        software_versions(),
        cache_sweep=ctx.cache_sweep,
        run={
            "quick": quick,
            "families": families,
            "argv": sys.argv,
            "wall_s": time.perf_counter() - t0,
            "datasheet": ctx.spec_note,
        },
        skipped=ctx.skipped,
        failures=failures,
        status=status,
        provenance=_provenance(info).to_json(),
    )
    write(doc, out_path)
    echo(
        f"gpubench micro: {len(ctx.entries)} figures, {len(ctx.sweep)} sweep points, {len(ctx.skipped)} "
        f"skipped, {len(failures)} failed in {time.perf_counter() - t0:.0f} s -> {out_path}"
    )
    if status == "interrupted":
        return 130
    return 1 if failures else 0


def _run_families(ctx, families: list[str], device, echo) -> tuple[list[dict[str, str]], str | None]:
    """Run each family in turn: (the failures, "interrupted" or None). A failure is recorded and the next
    family runs while CUDA is still usable; Ctrl-C stops here and keeps what finished."""
    import torch

    failures: list[dict[str, str]] = []
    try:
        for family in families:
            module = importlib.import_module(f"gpubench.bench.micro.{FAMILIES[family]}")
            t_family = time.perf_counter()
            try:
                getattr(module, f"run_{family}")(ctx)
            except Exception as exc:  # recorded, and the next family still runs if CUDA survived
                failures.append({"family": family, "error": f"{type(exc).__name__}: {exc}"})
                echo(f"{family}: FAILED: {type(exc).__name__}: {exc}")
                if not _cuda_usable(device):
                    echo("CUDA context unusable after the failure: stopping here")
                    break
            finally:
                torch.cuda.empty_cache()
            echo(f"  ({family}: {time.perf_counter() - t_family:.1f} s)")
    except KeyboardInterrupt:
        echo("interrupted: writing what finished")
        return failures, "interrupted"
    return failures, None


def _provenance(info: dict):
    """The commit, tree state and knobs of this run, and where the spec database disagrees with the GPU."""
    import dataclasses

    from gpubench.bench.run.runner import capture_provenance, spec_mismatches
    from gpubench.results import Device

    prov = capture_provenance()
    try:
        return dataclasses.replace(prov, spec_mismatches=spec_mismatches([Device.from_json(info)]))
    except Exception as exc:  # the measurements matter more than their annotation
        return dataclasses.replace(prov, warnings=[f"no spec check: {type(exc).__name__}: {exc}"])


def _cuda_usable(device) -> bool:
    try:
        import torch

        torch.cuda.synchronize(device)
        torch.ones(1, device=device).add_(1).item()
        return True
    except Exception:
        return False
