"""What the report says about where a file's numbers come from: the tree's state and the environment
knobs of the run (gpubench.results.provenance), measured ceilings from another physical GPU, and every
figure of today's spec database that the file's device contradicts (roofline.specs.device_mismatches),
so a file written before a table was corrected is checked against the corrected table too."""

from __future__ import annotations

from gpubench.results import CeilingsFile, Device, Run
from gpubench.results.provenance import ceilings_file_warnings, split_commit
from gpubench.roofline.specs import device_mismatches, match_gpu

__all__ = ["ceilings_lines", "facts", "run_lines"]


def _mismatch_lines(devices: list[Device]) -> list[str]:
    out = []
    for d in devices:
        spec = match_gpu(d.name)
        out += [m.describe() for m in device_mismatches(spec, d.to_json())] if spec is not None else []
    return out


def run_lines(run: Run) -> list[str]:
    """The warnings of a results file, each once: stored, derived, and today's spec mismatches."""
    return list(dict.fromkeys(run.provenance_warnings() + _mismatch_lines([run.device, *run.gpus])))


def ceilings_lines(cf: CeilingsFile) -> list[str]:
    return list(dict.fromkeys(ceilings_file_warnings(cf) + _mismatch_lines([cf.device])))


def facts(obj: Run | CeilingsFile) -> list[tuple[str, str]]:
    """(label, value) for a file's header: the tree's state and the knobs that were set."""
    prov = obj.provenance
    if prov is None:
        _, dirty = split_commit(obj.software.suite_commit)
        tree = {True: "dirty (the commit's -dirty suffix)", False: "clean", None: "not recorded"}[dirty]
        return [("tree", tree), ("environment knobs", "not recorded")]
    tree = {True: "dirty: uncommitted changes", False: "clean", None: "not recorded"}[prov.dirty]
    knobs = ", ".join(f"{k}={v}" for k, v in prov.env.items()) or "none set"
    return [("tree", tree), ("environment knobs", knobs)]
