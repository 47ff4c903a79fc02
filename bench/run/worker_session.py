"""The benchmark suite as pytest tests: run by `gpubench run` (not collected by the CPU test run)."""

import pytest


def test_kernel(gpubench_item, gpubench_ctx, benchmark):
    from gpubench.bench.run.worker import context_is_healthy, run_item

    rec = run_item(gpubench_item, gpubench_ctx, benchmark)
    if rec.status == "skipped":
        pytest.skip(rec.reason)
    if rec.status == "failed":
        broken = context_is_healthy(gpubench_ctx.device)
        if broken:
            # A fault poisons the CUDA context: end this worker cleanly (pytest-benchmark still saves);
            # the orchestrator starts a fresh one for the remaining items.
            gpubench_ctx.journal.write("poisoned", id=gpubench_item.id, error=broken)
            pytest.exit(f"CUDA context unusable after {gpubench_item.id}: {broken}", returncode=3)
        pytest.fail(rec.reason, pytrace=False)
