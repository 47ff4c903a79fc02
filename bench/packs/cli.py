"""`python scripts/gpu_pack.py`: the GPU work in packs (bench.packs), one command each.

    python scripts/gpu_pack.py --plan [--gpu NAME]     every pack's steps, estimates and limits (no GPU
                                                         needed), and which packs each GPU model still owes
    python scripts/gpu_pack.py PACK OUT                 run one pack (or `next`: the first owed for this
                                                         GPU); one archive lands in OUT, nothing else
    python scripts/gpu_pack.py --commit ARCHIVE         put the archive's outputs where they are committed

Exit 0 when every step ran, 1 when a step failed, timed out or was not run, 2 for a bad argument (an
unknown pack, no GPU, an unreadable archive), each said in one line.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path

from gpubench.exits import EXIT_FOUND, EXIT_OK, usage_error

PROG = "scripts/gpu_pack.py"
REPO = Path(__file__).resolve().parents[2]


def parser() -> argparse.ArgumentParser:
    about, raw = __doc__.split("\n\n")[0], argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog=PROG, description=about, formatter_class=raw, epilog=__doc__)
    p.add_argument("pack", nargs="?", metavar="PACK", help="a pack's name, or next")
    p.add_argument("out", nargs="?", metavar="OUT", help="the folder the archive goes to")
    p.add_argument("--plan", action="store_true", help="print the packs' steps and estimates, and exit")
    p.add_argument("--commit", metavar="ARCHIVE", help="put an archive's committed outputs in the repository")
    p.add_argument("--gpu", metavar="NAME", help="the GPU's name as CUDA gives it (default: this machine's)")
    p.add_argument("--limit", type=float, metavar="S", help="the pack's time limit in seconds (default: "
                   "what a lent GPU session allows; raise it on a machine of your own)")  # fmt: skip
    p.add_argument("--python", metavar="CMD", help="the interpreter the steps run with (default this one; a "
                   "rehearsal on the CPU gives a stand-in)")  # fmt: skip
    return p


def known_gpus() -> list[str]:
    """The GPU models with committed reference data, by the name CUDA gives them."""
    names = []
    for path in sorted((REPO / "reports" / "reference").glob("*/device.json")):
        devices = json.loads(path.read_text()).get("gpu", {}).get("devices", [])
        names += [devices[0]["name"]] if devices else []
    return names


def detect_gpu(python: list[str]) -> str | None:
    import subprocess

    for cmd in (["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                [*python, "-c", "import torch; print(torch.cuda.get_device_name(0))"]):  # fmt: skip
        try:
            got = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if got.returncode == 0 and got.stdout.strip():
            return got.stdout.strip().splitlines()[0].strip()
    return None


def where(gpu: str, python: list[str], out: Path | None = None):
    """Where a pack runs; without `out`, a plan's view: the GPU machine's (pytest-xdist installed)."""
    from gpubench import kernels
    from gpubench.bench.packs.steps import Where, has

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    parallel = has("xdist") if out is not None else True
    return Where(gpu, REPO, out or Path("OUT"), python, stamp, kernels.REGISTRY, parallel)


def print_plan(gpu: str, python: list[str], echo=print) -> int:
    from gpubench.bench.packs.runner import plan
    from gpubench.bench.packs.table import PACK_LIMIT_S, PACKS

    at = where(gpu, python)
    others = [where(g, python) for g in known_gpus()]
    echo(f"GPU packs, in order of value; estimates for {gpu}; each pack must fit {PACK_LIMIT_S} s")
    for n, pack in enumerate(PACKS, 1):
        rows = plan(pack, at)
        total = sum(r.cost.seconds for r in rows)
        echo(f"\n{n}. {pack.name}: {pack.about}\n   estimate {total:.0f} s of {PACK_LIMIT_S} s")
        for o in others:
            why = pack.owed_because(o)
            echo(f"   {o.gpu}: {'owed: ' + why if why else 'done'}")
        for r in rows:
            what = (
                f"skipped: {r.skip}"
                if r.skip
                else f"{r.cost.seconds:5.0f} s (limit {r.limit_s} s): {r.cost.basis}"
            )
            echo(f"   - {r.step.name:<20} {what}")
    return EXIT_OK


def commit_archive(archive: str, repo: Path = REPO, echo=print) -> int:
    """Put the outputs an archive's commit.json names where they are committed in `repo`."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            top = tar.getnames()[0].split("/", 1)[0]
            places = json.loads(tar.extractfile(f"{top}/commit.json").read())
            for member, place in places.items():
                target = (repo / place).resolve()
                if repo.resolve() not in target.parents:
                    return usage_error(PROG, f"{archive}: {place} lies outside the repository")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(f"{top}/{member}").read())
                echo(f"{member} -> {place}")
    except (OSError, tarfile.TarError, KeyError, ValueError, IndexError) as exc:
        return usage_error(PROG, f"{archive}: not a pack's archive ({type(exc).__name__}: {exc})")
    echo(f"{len(places)} files in place; review them (git diff) and commit")
    return EXIT_OK


def run(args, python: list[str]) -> int:
    from gpubench.bench.measure.device import suite_commit
    from gpubench.bench.packs import runner as pack_run
    from gpubench.bench.packs.table import PACK_LIMIT_S, by_name, owed

    gpu = args.gpu or detect_gpu(python)
    if gpu is None:
        return usage_error(PROG, "no GPU found (nvidia-smi and torch see none): --gpu NAME names one")
    dest = Path(args.out)
    if not dest.is_dir():
        return usage_error(PROG, f"OUT {args.out}: no such folder")
    staged = pack_run.stage()
    try:
        at = where(gpu, python, staged)
        if args.pack == "next":
            due = owed(at)
            if not due:
                print(f"{PROG}: nothing owed for {gpu}")
                return EXIT_OK
            pack = due[0][0]
            print(f"next owed pack for {gpu}: {pack.name} ({due[0][1]})")
        else:
            try:
                pack = by_name(args.pack)
            except KeyError as exc:
                return usage_error(PROG, exc.args[0])
        _, statuses = pack_run.run_pack(pack, at, dest, suite_commit(), args.limit or PACK_LIMIT_S)
    finally:
        pack_run.unstage(staged)
    return EXIT_OK if all(s in ("ok", "skipped") for s in statuses.values()) else EXIT_FOUND


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    python = shlex.split(args.python) if args.python else [sys.executable]
    if args.commit:
        return commit_archive(args.commit)
    if args.plan:
        gpu = args.gpu or (known_gpus() or ["NVIDIA H100 80GB HBM3"])[0]
        return print_plan(gpu, python)
    if not (args.pack and args.out):
        return usage_error(PROG, "give PACK and OUT, or --plan, or --commit ARCHIVE")
    if args.limit is not None and not args.limit > 0:
        return usage_error(PROG, f"--limit must be a number of seconds > 0, got {args.limit}")
    return run(args, python)
