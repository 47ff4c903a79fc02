"""`gpubench submit --slurm`: run the plan as a job array through submitit, one results file per job in
a shared folder, merged into one run at the end.

The plan is split into --array jobs by expected time (the times of --balance-from RESULTS where given,
else the datasheet roofline of the GPU named by it or by --constraint); each job runs `gpubench run
--items SHARD --gpus all` on its node(s). submit then waits for the jobs, saying how each ended, and
merges their files (`gpubench merge DIR` does the same later, e.g. after --no-wait); the items of jobs
that failed or timed out are listed, and `--resume --folder DIR` submits only those. `--local` runs the
same jobs on this machine through submitit's local executor. Details: docs/cluster.md.

Exit codes: 0 every item measured (or, with --no-wait, submitted); 1 items missing (a job failed or
timed out); 2 a usage or file error, or submitit missing (pip install 'gpubench[cluster]'); 130
interrupted (the jobs not yet ended are cancelled; what finished is merged).
"""

from __future__ import annotations

import argparse
import shutil
from datetime import UTC, datetime
from pathlib import Path

from gpubench.bench.run.plan import PROFILES, PlanError
from gpubench.cliargs import count, refuse_together
from gpubench.exits import usage_error
from gpubench.results import MODES

PROG = "gpubench submit"
POLL_S = {"slurm": 15.0, "local": 0.5, "debug": 0.0}


def add_parser(subparsers):
    p = subparsers.add_parser(
        "submit",
        help="run the plan as a Slurm job array (submitit), merged at the end",
        description=__doc__.split("\n\n")[0],
    )
    where = p.add_argument_group("where the jobs run")
    where.add_argument("--slurm", action="store_true", help="submit to Slurm (run this on a login node)")
    where.add_argument("--local", action="store_true", help="run the jobs on this machine (submitit local)")
    where.add_argument("--partition", metavar="P", help="Slurm partition")
    where.add_argument("--account", metavar="A", help="Slurm account")
    where.add_argument(
        "--constraint", metavar="C", help="Slurm constraint (a GPU model's feature, e.g. h100)"
    )
    where.add_argument("--gpus-per-node", type=count("GPUs"), metavar="G", help="GPUs per node (default 1)")
    where.add_argument("--nodes", type=count("nodes"), metavar="N", help="nodes per job (default 1)")
    where.add_argument(
        "--array", type=count("jobs"), metavar="K", help="jobs the plan is split into (default 1)"
    )
    where.add_argument(
        "--timeout", type=count("minutes"), metavar="MIN", help="each job's time limit, minutes (default 60)"
    )
    what = p.add_argument_group("what they run (as gpubench run)")
    what.add_argument("--profile", choices=list(PROFILES), help="the bench profile (default quick)")
    for name in ("workload", "variant", "dtype"):
        what.add_argument(f"--{name}", nargs="+", metavar=name.upper(), help=f"only these {name}s")
    what.add_argument("--mode", nargs="+", choices=MODES, help="L2 modes (default: the profile's)")
    what.add_argument("--balance-from", metavar="RESULTS", help="split by the times measured in this file")
    what.add_argument("--storage", help="pytest-benchmark storage root, shared (default .benchmarks)")
    what.add_argument("--ceilings", metavar="PATH", help="measured ceilings file to predict against")
    what.add_argument(
        "--comm", nargs=argparse.REMAINDER, metavar="COMM_ARGS",
        help="instead of kernels, one collective job of --nodes x --gpus-per-node ranks: the rest of the "
        "line is `gpubench comm`'s arguments (e.g. --comm --collective all_reduce -e 1G); last on the line",
    )  # fmt: skip
    out = p.add_argument_group("the submission")
    out.add_argument(
        "--folder",
        metavar="DIR",
        help="shared folder for shards, logs and results (default results/submit-<time>)",
    )
    out.add_argument("--out", metavar="FILE", help="the merged results file (default DIR/merged.json)")
    out.add_argument("--resume", action="store_true", help="submit only the items DIR's results lack")
    out.add_argument("--no-wait", action="store_true", help="return once submitted; merge later")
    for option in ("--partition", "--account", "--constraint"):
        refuse_together(p, "--local", option, why=f"{option} applies to --slurm only")
    p.set_defaults(func=run)
    return p


def _problem(args) -> str | None:
    if args.slurm == args.local:
        return "say where the jobs run: --slurm or --local"
    if args.local and (args.nodes or 1) > 1:
        return "--local runs on this one machine: --nodes must be 1"
    if args.resume:
        named = ("profile", "workload", "variant", "dtype", "mode", "balance_from")
        chosen = [f"--{k.replace('_', '-')}" for k in named if getattr(args, k)]
        if not args.folder:
            return "--resume needs --folder DIR (the submission to complete)"
        if chosen:
            return f"--resume takes the plan from DIR/manifest.json: drop {', '.join(chosen)}"
    return None


def _check_files(args, folder: Path) -> str | None:
    from gpubench import results
    from gpubench.outpath import unwritable
    from gpubench.results.submission import is_submission

    if args.resume and not is_submission(folder):
        return f"--folder {folder}: no submission there (no manifest.json)"
    if not args.resume and is_submission(folder):
        return f"--folder {folder} already holds a submission: use --resume, or another folder"
    for flag, path in (("--folder", folder / "probe.json"), ("--out", args.out)):
        if path and (problem := unwritable(path)):
            return f"{flag}: {problem}"
    try:
        if args.ceilings:
            results.read_ceilings(args.ceilings)
        if args.balance_from:
            results.read(args.balance_from, strict=False)
    except results.ResultsError as exc:
        return str(exc)
    if args.slurm and shutil.which("sbatch") is None:
        return "--slurm: sbatch not found: run this on a Slurm login node (or use --local)"
    return None


def _local_gpus() -> str | None:
    """Why the jobs' `gpubench run --gpus all` cannot run on this machine (None when it can): said here,
    before any job starts, rather than in each job's log."""
    from gpubench.bench.fleet.gpus import GpuSelectionError
    from gpubench.bench.fleet.multigpu import available_gpus

    try:
        available_gpus("all")
    except GpuSelectionError as exc:
        why = str(exc).removeprefix("--gpus: ")
        return f"--local: the jobs run `gpubench run --gpus all` on this machine, and {why}"
    return None


def cluster_options(args, saved: dict | None):
    """The scheduler options: those given, else (--resume) the submission's, else the defaults."""
    from gpubench.bench.fleet.slurm import ClusterOptions

    fields = {k: v for k, v in (saved or {}).items() if k in ClusterOptions.__dataclass_fields__}
    fields["executor"] = "slurm" if args.slurm else "local"
    given = dict(
        gpus_per_node=args.gpus_per_node,
        nodes=args.nodes,
        array=args.array,
        timeout_min=args.timeout,
        partition=args.partition,
        account=args.account,
        constraint=args.constraint,
    )
    fields.update({k: v for k, v in given.items() if v is not None})
    return ClusterOptions(**fields)


def _work(args, folder: Path):
    """(submission, items to run, profile) for a new submission or a --resume."""
    from gpubench.bench.fleet.slurm import missing_items
    from gpubench.bench.run.plan import build_plan
    from gpubench.results.submission import Submission, read_submission

    if args.resume:
        sub = read_submission(folder)
        return sub, missing_items(sub, folder), PROFILES[sub.profile]
    profile = PROFILES[args.profile or "quick"]
    plan = build_plan(profile, args.workload, args.variant, args.dtype, args.mode)
    return Submission(profile=profile.name), plan.items, profile


def run(args) -> int:
    return submit(args)


def submit(args, command=None, echo=print) -> int:
    """The command; `command` stands in for `gpubench run` in the jobs (the CPU tests)."""
    from gpubench import results

    if problem := _problem(args):
        return usage_error(PROG, problem)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = Path(args.folder or f"results/submit-{stamp}")
    if problem := _check_files(args, folder):
        return usage_error(PROG, problem)
    import submitit  # noqa: F401  (missing: one line naming the extra, before anything is written)

    if args.comm is not None:
        from gpubench.bench.commands.comm_submit import submit_comm

        return submit_comm(args, echo)

    try:
        sub, items, profile = _work(args, folder)
    except (PlanError, results.ResultsError) as exc:
        return usage_error(PROG, str(exc))
    if args.local and command is None and items and (problem := _local_gpus()):
        return usage_error(PROG, problem)
    opts = cluster_options(args, sub.options if args.resume else None)
    out = Path(args.out) if args.out else folder / "merged.json"
    if not items:
        echo(f"{PROG}: nothing is missing in {folder}; merging")
        return _merge(folder, out)
    return _submit_and_wait(args, folder, out, sub, items, profile, opts, command, echo)


def _submit_and_wait(args, folder, out, sub, items, profile, opts, command, echo) -> int:
    from gpubench import kernels, results
    from gpubench.bench.fleet.slurm import cancel, new_shards, submit_shards, wait_for
    from gpubench.bench.fleet.split import expected_times
    from gpubench.fmt import fmt_time

    previous = results.read(args.balance_from, strict=False) if args.balance_from else None
    gpu_name = previous.gpu if previous is not None else opts.constraint
    costs = expected_times(items, profile.rule, gpu_name, previous, kernels.REGISTRY)
    shards = new_shards(items, opts.array, costs, sub.rounds + 1)
    sub.options = opts.to_json()
    run_args = _run_args(args, sub, profile)
    jobs = submit_shards(sub, folder, shards, opts, run_args, costs, command)
    where = f"{opts.executor}" + (f", partition {opts.partition}" if opts.partition else "")
    echo(
        f"{PROG}: {len(items)} items in {len(shards)} job(s) ({where}, {opts.nodes} node(s) x "
        f"{opts.gpus_per_node} GPU(s), {opts.timeout_min} min) -> {folder}"
    )
    for shard in shards:
        expected = fmt_time(sum(costs[_item_id(i)] for i in shard.items))
        echo(f"  {shard.name} (job {shard.job_id}): {len(shard.items)} items, about {expected} expected")
    if opts.executor == "local" and len(shards) > 1:
        echo(
            f"note: the {len(shards)} local jobs run at once on the same {opts.gpus_per_node} GPU(s): "
            "their timings disturb each other (--array 1 for measurements)"
        )
    if args.no_wait:
        echo(f"submitted; when the jobs have ended: gpubench merge {folder} --out {out}")
        return 0
    echo(f"waiting for {len(jobs)} job(s); Ctrl-C cancels those not yet ended")
    try:
        wait_for(sub, folder, shards, jobs, echo, POLL_S.get(opts.executor, 15.0))
    except KeyboardInterrupt:
        n = cancel(shards, jobs, sub, folder)
        echo(f"{PROG}: interrupted: {n} job(s) cancelled; `{PROG} --resume --folder {folder}` runs the rest")
        _merge(folder, out)
        return 130
    return _merge(folder, out)


def _run_args(args, sub, profile) -> list[str]:
    """What each job's `gpubench run` gets besides its items; kept in the manifest for --resume."""
    saved = sub.extra.get("run_args", {})
    storage = Path(args.storage or saved.get("storage") or ".benchmarks").resolve()
    ceilings = args.ceilings or saved.get("ceilings")
    ceilings = str(Path(ceilings).resolve()) if ceilings else None
    sub.extra["run_args"] = {"storage": str(storage), "ceilings": ceilings}
    out = ["--profile", profile.name, "--storage", str(storage)]
    return out + (["--ceilings", ceilings] if ceilings else [])


def _item_id(raw: dict) -> str:
    from gpubench.bench.run.plan import PlanItem

    return PlanItem.from_json(raw).id


def _merge(folder: Path, out: Path) -> int:
    """The final step: `gpubench merge DIR --out OUT`."""
    from gpubench.reports import merge_cli

    args = merge_cli.configure(argparse.ArgumentParser()).parse_args([str(folder), "--out", str(out)])
    return merge_cli.run(args)
