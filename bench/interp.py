"""The no-GPU pass: every Triton variant in the Triton interpreter against its reference, on CPU tensors.

Run as a module (`python -m bench.interp`) so TRITON_INTERPRET=1 is set before triton is imported.
It checks correctness only: it measures nothing and writes no timings.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TRITON_INTERPRET", "1")


def run(workloads=None, echo=print) -> int:
    import torch

    from gpubench import kernels
    from gpubench.bench.correctness import check_variant

    device = torch.device("cpu")
    passed = failed = skipped = 0
    for name in workloads or kernels.names():
        w = kernels.get(name)
        for vname, v in w.variants.items():
            if v.backend != "triton":
                continue
            t0 = time.perf_counter()
            results = {"ok": 0, "fail": [], "skip": set()}
            for dtype in w.dtypes:
                for shape in w.shapes["test"]:
                    reason = v.skip_reason(device, shape, dtype)
                    if reason:
                        results["skip"].add(f"{dtype}: {reason}")
                        skipped += 1
                        continue
                    try:
                        check_variant(w, v, shape, dtype, device)
                        results["ok"] += 1
                        passed += 1
                    except Exception as exc:
                        results["fail"].append(f"{dtype} {dict(shape)}: {type(exc).__name__}: {exc}")
                        failed += 1
            status = "FAIL" if results["fail"] else "ok"
            echo(
                f"  {status:4} {name}/{vname}: {results['ok']} cases correct in "
                f"{time.perf_counter() - t0:.1f} s"
                + (f", skipped {sorted(results['skip'])}" if results["skip"] else "")
            )
            for f in results["fail"]:
                echo(f"       {f[:500]}")
    echo(f"interpreter pass: {passed} correct, {failed} wrong, {skipped} skipped (no timings taken)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:] or None))
