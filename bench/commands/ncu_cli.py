"""`gpubench ncu RESULTS`: profile chosen records of a results file under Nsight Compute and store what
ncu measured with each record (duration, DRAM bytes read and written, L2 bytes, SM and tensor
throughput), so the report can hold the event timing and the byte accounting against the hardware.

A command of its own, not an option of `run`: under ncu every kernel is replayed and the GPU serialised,
so no event timing taken in that process is worth keeping; the records' timings come from the run that
wrote RESULTS, and ncu adds its independent measurement of the same records on the same GPU model.
Records are chosen by --workload/--variant, --largest (per workload, variant, dtype and mode the longest
record: the largest shape) and --min-time; --dry-run lists them and the ncu command without a GPU.
Exit 0 when every chosen record was profiled, 1 when some could not be (the record says why, e.g. the
counters were not readable), 2 for a bad argument, a missing or foreign file, no GPU, ncu not found, or a
results file of another GPU model than this one.
"""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path

from gpubench.cliargs import count, number
from gpubench.exits import EXIT_FOUND, EXIT_OK, usage_error

PROG = "gpubench ncu"
MAX_CALLS = 20


def add_parser(subparsers):
    p = subparsers.add_parser("ncu", help=__doc__.split("\n")[0].split(": ", 1)[1], description=__doc__)
    p.add_argument(
        "results", metavar="RESULTS", help="a results file (gpubench run) measured on this GPU model"
    )
    p.add_argument("--out", metavar="PATH", help="where to write the results with ncu's figures (default "
                   "RESULTS' folder, <name>-ncu.json)")  # fmt: skip
    p.add_argument("--workload", nargs="+", metavar="W", help="only records of these workloads")
    p.add_argument("--variant", nargs="+", metavar="V", help="only records of these variants")
    p.add_argument("--largest", action="store_true", help="per workload, variant, dtype and mode only the "
                   "record with the longest median (the largest shape)")  # fmt: skip
    p.add_argument("--min-time", type=number("us", 0), default=0.0, metavar="US",
                   help="only records with a median of at least US microseconds")  # fmt: skip
    p.add_argument("--limit", type=count("records"), metavar="N", help="at most N records")
    p.add_argument("--calls", type=count("calls", 1, MAX_CALLS), default=3,
                   help=f"profiled calls per record (1 to {MAX_CALLS}; default 3)")  # fmt: skip
    p.add_argument(
        "--ncu", metavar="PATH", help="the ncu executable (default: ncu on PATH, /usr/local/cuda/bin)"
    )
    p.add_argument("--ncu-args", default="", metavar="ARGS",
                   help="more ncu options as one shell-quoted string, e.g. '--set full'")  # fmt: skip
    p.add_argument("--timeout", type=number("s", 0, low_open=True), default=600.0, metavar="S",
                   help="limit of one ncu process (s)")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="list the records and the ncu command, and exit")
    p.set_defaults(func=run)
    return p


def _out_path(args) -> Path:
    if args.out:
        return Path(args.out)
    src = Path(args.results)
    return src.with_name(f"{src.stem}-ncu.json")


def _check(args):
    """(run, records, extra ncu args, out path) or the usage error's message."""
    from gpubench import results
    from gpubench.bench.ncu import records as ncu
    from gpubench.outpath import unwritable

    try:
        extra = shlex.split(args.ncu_args)
    except ValueError as exc:
        return f"--ncu-args: {exc}"
    try:
        run = results.read(args.results)
    except results.ResultsError as exc:
        return str(exc)
    out = _out_path(args)
    if problem := unwritable(out, create=not args.dry_run):
        return f"--out: {problem}"
    recs = ncu.choose(run, args.workload, args.variant, args.largest, args.min_time * 1e-6, args.limit)
    if not recs:
        return f"{args.results}: no ok record matches the selection"
    return run, recs, extra, out


def run(args) -> int:
    checked = _check(args)
    if isinstance(checked, str):
        return usage_error(PROG, checked)
    run_, recs, extra, out = checked
    from gpubench.bench.ncu import records as ncu

    ncu_path = ncu.find_ncu(args.ncu)
    if args.dry_run:
        for rec in recs:
            print(rec.label)
        target = ["python", "-m", "gpubench.bench.ncu.target", "ITEMS", "STATUS"]
        metrics = [*ncu.CORE_METRICS, "(the tensor metrics this GPU has)"]
        cmd = ncu.command(ncu_path or "ncu", metrics, Path("LOG"), target, extra)
        print(f"{len(recs)} records; ncu: {ncu_path or 'not found'}\n{shlex.join(cmd)}")
        return EXIT_OK
    if problem := _environment(run_, ncu_path, args.ncu):
        return usage_error(PROG, problem)
    return profile_into(run_, recs, ncu_path, args.calls, extra, out, args.timeout)


def _environment(run_, ncu_path: str | None, asked: str | None) -> str | None:
    """What keeps this machine from profiling RESULTS, or None."""
    try:
        import torch
    except ImportError:
        return "needs torch with CUDA (pip install a CUDA build of torch)"
    if not torch.cuda.is_available():
        return "needs a CUDA GPU (torch.cuda.is_available() is False): nothing is profiled"
    here = torch.cuda.get_device_name(0)
    if here != run_.gpu:
        return (
            f"{run_.where} was measured on {run_.gpu}, this GPU is {here}: profile it where it was measured"
        )
    if ncu_path is None:
        if asked:
            return f"Nsight Compute not found ({asked!r} is not an executable)"
        return "Nsight Compute (ncu) not found on PATH or in /usr/local/cuda/bin: install it, or --ncu PATH"
    return None


def profile_into(
    run_, recs, ncu_path: str, calls: int, extra, out: Path, timeout_s: float, echo=print
) -> int:
    """Profile `recs` (records of `run_`), store each one's NcuProfile in it and write the run to `out`."""
    from gpubench import results
    from gpubench.bench.ncu import records as ncu
    from gpubench.bench.ncu.launch import profile_records
    from gpubench.fmt import fmt_time

    echo(f"{PROG}: {len(recs)} records of {run_.where} under {ncu_path}, {calls} calls each")
    with tempfile.TemporaryDirectory(prefix="gpubench-ncu-") as work:
        profiles = profile_records(recs, ncu_path, calls, extra, Path(work), timeout_s, echo)
        logs = sorted(Path(work).glob("ncu-*.csv"))
        for log in logs:  # ncu's own output, kept beside the results for a later look
            (out.parent / f"{out.stem}-{log.name}").write_bytes(log.read_bytes())
    missing = 0
    for rec, prof in zip(recs, profiles):
        rec.ncu = prof
        if prof.available:
            ratio = prof.event_over_ncu(rec.median)
            dram = prof.accounted_over_dram(rec.bytes)
            echo(f"  {rec.label}: ncu {fmt_time(prof.time_s)}, event/ncu {ratio:.3f}"
                 + (f", accounted/DRAM bytes {dram:.3f}" if dram else ""))  # fmt: skip
        else:
            missing += 1
            echo(f"  {rec.label}: not profiled: {prof.reason}")
    if gap := ncu.missing_metrics(profiles):
        echo(f"{PROG}: {gap}")
    results.write(run_, out)
    echo(f"{PROG}: {len(recs) - missing} of {len(recs)} records profiled -> {out}")
    return EXIT_FOUND if missing else EXIT_OK
