"""The no-GPU pass: the Triton variants in the Triton interpreter against their reference, on CPU tensors,
and the torch.compile baselines compiled by inductor's CPU backend (one test shape per dtype: each shape
is a compile of a second or more on a small CPU, ten the first time).

Run as a module (`python -m gpubench.bench.cpucheck.interpreter [--workload ...] [--variant ...] [--dtype ...]
[--workload-module PATH ...]`) so TRITON_INTERPRET=1 is set before triton is imported. Plug-in workloads
join as they do everywhere (installed entry points, GPUBENCH_WORKLOAD_MODULES, --workload-module).
It checks correctness only: it measures nothing and writes no timings. Exit 1 when a variant is wrong
(each named), 130 when interrupted, else 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TRITON_INTERPRET", "1")


def _check(w, v, dtypes, device, per_dtype: int | None = None) -> tuple[int, list[str], set[str]]:
    """Run `v` on the test shapes in each dtype (the first `per_dtype` it takes, when given)."""
    from gpubench.bench.measure.correctness import check_variant

    ok, failures, skips = 0, [], set()
    for dtype in dtypes:
        ran = 0
        for shape in w.shapes["test"]:
            if per_dtype is not None and ran >= per_dtype:
                break
            reason = v.skip_reason(device, shape, dtype)
            if reason:
                skips.add(f"{dtype}: {reason}")
                continue
            ran += 1
            try:
                check_variant(w, v, shape, dtype, device)
                ok += 1
            except Exception as exc:
                failures.append(f"{dtype} {dict(shape)}: {type(exc).__name__}: {exc}")
    return ok, failures, skips


def run(workloads=None, variants=None, dtypes=None, echo=print, registry=None) -> int:
    import torch

    from gpubench.kernels.compiled import is_compiled

    if registry is None:
        from gpubench import kernels

        registry = kernels.REGISTRY
    device = torch.device("cpu")
    passed = failed = 0
    wrong: list[str] = []
    not_here: dict[str, list[str]] = {}
    for name in workloads or list(registry):
        w = registry[name]
        dts = [d for d in w.dtypes if not dtypes or d in dtypes]
        for vname, v in w.variants.items():
            if variants and vname not in variants:
                continue
            inductor = is_compiled(v)
            if v.backend != "triton" and not inductor:
                not_here.setdefault(v.backend, []).append(f"{name}/{vname}")
                continue
            t0 = time.perf_counter()
            ok, failures, skips = _check(w, v, dts, device, 1 if inductor else None)
            passed, failed = passed + ok, failed + len(failures)
            status = "FAIL" if failures else "ok"
            took = f"{time.perf_counter() - t0:.1f} s" + (f", skipped {sorted(skips)}" if skips else "")
            echo(f"  {status:4} {name}/{vname}: {ok} cases correct in {took}")
            for f in failures:
                echo(f"       {f[:500]}")
            if failures:
                wrong.append(f"{name}/{vname}")
    for backend, names in not_here.items():
        why = "CuPy needs a CUDA GPU" if backend == "cupy" else "baselines, timed on a GPU only"
        echo(f"  not checked here ({backend}: {why}): {', '.join(names)}")
    echo(f"interpreter pass: {passed} correct, {failed} wrong (no timings taken; torch.compile baselines "
         "on one test shape per dtype)")
    if wrong:
        echo(f"WRONG: {', '.join(wrong)}")
    return 1 if failed else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m gpubench.bench.cpucheck.interpreter")
    p.add_argument("--workload", nargs="*")
    p.add_argument("--variant", nargs="*")
    p.add_argument("--dtype", nargs="*")
    p.add_argument("--workload-module", nargs="*", default=[], metavar="PATH")
    args = p.parse_args(argv)
    # `gpubench run` passes its plug-ins through the environment and reports their problems itself.
    if args.workload_module:
        from gpubench.kernels.plugins import load_for_command

        if problem := load_for_command(args.workload_module, p.prog):
            p.error(problem)
    try:
        return run(args.workload, args.variant, args.dtype)
    except KeyboardInterrupt:
        print("interpreter pass interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
