"""How far the regression gate can be trusted, from real runs: its false alarms over A/A runs (the same
plan, commit and GPU, run after run) and its detection rate for 5 % and 10 % slowdowns on records of
100 us or more.

    false alarms   every pair of A/A runs (consecutive, or all pairs) gated with the gate's defaults; a
                   SLOWER verdict between runs of the same code is a false alarm. The count is per record
                   comparison, with an exact (Clopper-Pearson) 95 % upper bound on the rate.
    injected       each A/A pair again with the candidate's samples of records >= 100 us scaled by 1 + f:
                   a slowdown of exactly f under the real run-to-run drift; the detection rate is the
                   share of those comparisons the gate calls SLOWER, with a 95 % lower bound.
    measured       runs made with GPUBENCH_TEST_SLOWDOWN=f (a real spin of f of each kernel's time inside
                   every sample, bench.run.worker) gated against the A/A runs, f read from each file's
                   provenance: the same rate without scaling samples on the CPU.

`python -m gpubench.reports.gate_calibration --aa RUN... [--slowed RUN...] [--json OUT] [--markdown OUT]`
writes the figures (the GPU packs' calib step, docs/gpu-runs.md). Pure: results files only, no torch.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import itertools
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from gpubench import results
from gpubench.reports.gate import gate
from gpubench.reports.gate_report import FASTER, SAME, SLOWER, UNCERTAIN
from gpubench.results import Run
from gpubench.results.provenance import SLOWDOWN_ENV, positive_float
from gpubench.roofline.placement import place_run

__all__ = ["AAStats", "Detection", "aa_false_alarms", "clopper_pearson", "injected", "injected_detection",
           "measured_detection", "pairs_of", "parser", "plan_caveats"]  # fmt: skip

MIN_MEDIAN_S = 100e-6  # the records a slowdown must be caught on (TARGETS.md)
FRACTIONS = (0.05, 0.10)


def _tail(j: int, n: int, p: float) -> float:
    """P(X >= j) for X ~ Binomial(n, p), summed in log space (n may be thousands)."""
    if p <= 0.0:
        return 1.0 if j <= 0 else 0.0
    if p >= 1.0:
        return 1.0 if j <= n else 0.0
    lp, lq = math.log(p), math.log1p(-p)
    log_c = lambda i: math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)  # noqa: E731
    return min(1.0, sum(math.exp(log_c(i) + i * lp + (n - i) * lq) for i in range(max(j, 0), n + 1)))


def _solve(f, target: float) -> float:
    """The p in [0, 1] where the increasing function f reaches `target` (bisection)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
    return (lo + hi) / 2


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval for a binomial rate k / n; each bound one-sided at
    (1 + confidence) / 2."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    alpha = (1 - confidence) / 2
    lower = 0.0 if k == 0 else _solve(lambda p: _tail(k, n, p), alpha)
    upper = 1.0 if k == n else _solve(lambda p: _tail(k + 1, n, p), 1 - alpha)
    return lower, upper


def pairs_of(runs: Sequence[Run], how: str = "consecutive") -> list[tuple[Run, Run]]:
    if how == "consecutive":
        return list(zip(runs, runs[1:]))
    if how == "all":
        return list(itertools.combinations(runs, 2))
    raise ValueError(f"pairs must be 'consecutive' or 'all', got {how!r}")


def plan_caveats(runs: Sequence[Run]) -> list[str]:
    """What keeps these runs from being a clean A/A series: different plans, commits or GPUs."""
    out = []
    keys = [{r.key for r in run.ok_records()} for run in runs]
    if any(k != keys[0] for k in keys[1:]):
        sizes = ", ".join(str(len(k)) for k in keys)
        out.append(f"the runs ran different plans ({sizes} ok records): compared on the records they share")
    for what, values in (
        ("commits", [r.software.suite_commit for r in runs]),
        ("GPUs", [r.device.uuid for r in runs]),
    ):
        if len(set(values)) > 1:
            out.append(f"the runs come from different {what}: {', '.join(sorted(map(str, set(values))))}")
    return out


@dataclass
class AAStats:
    runs: int
    pairs: int
    comparisons: int
    verdicts: dict[str, int]
    false_alarm_upper_95: float  # one-sided 97.5 % = two-sided 95 % upper bound on P(SLOWER)
    largest_drift: float | None  # max |ratio - 1| over the comparisons
    largest_drift_record: str | None
    caveats: list[str] = field(default_factory=list)


@dataclass
class Detection:
    fraction: float
    source: str  # "injected into the samples" or "measured on the GPU"
    comparisons: int
    flagged: int
    rate: float | None
    lower_95: float | None
    missed: list[str] = field(default_factory=list)


def _gate(base: Run, cand: Run):
    return gate(place_run(base), place_run(cand))


def aa_false_alarms(runs: Sequence[Run], how: str = "consecutive") -> AAStats:
    counts = dict.fromkeys((SLOWER, FASTER, UNCERTAIN, SAME), 0)
    drift, where = None, None
    for base, cand in pairs_of(runs, how):
        for v in _gate(base, cand).records:
            if v.verdict in counts:
                counts[v.verdict] += 1
                if v.ratio is not None and (drift is None or abs(v.ratio - 1) > drift):
                    drift, where = abs(v.ratio - 1), v.label
    n = sum(counts.values())
    upper = clopper_pearson(counts[SLOWER], n)[1] if n else 1.0
    return AAStats(len(runs), len(pairs_of(runs, how)), n, counts, upper, drift, where, plan_caveats(runs))


def injected(run: Run, fraction: float, min_median_s: float = MIN_MEDIAN_S) -> tuple[Run, set]:
    """A copy of `run` with the samples of its ok records of >= min_median_s scaled by 1 + fraction,
    and the keys scaled."""
    out, keys = copy.deepcopy(run), set()
    for rec in out.records:
        if rec.ok and rec.median >= min_median_s:
            rec.timing = dataclasses.replace(
                rec.timing, samples=tuple(x * (1 + fraction) for x in rec.timing.samples)
            )
            keys.add(rec.key)
    return out, keys


def _detection(fraction: float, source: str, outcomes: list[tuple[str, bool]]) -> Detection:
    n, k = len(outcomes), sum(flag for _, flag in outcomes)
    return Detection(fraction, source, n, k, k / n if n else None, clopper_pearson(k, n)[0] if n else None,
                     sorted({label for label, flag in outcomes if not flag}))  # fmt: skip


def injected_detection(runs: Sequence[Run], fraction: float, how: str = "consecutive",
                       min_median_s: float = MIN_MEDIAN_S) -> Detection:  # fmt: skip
    outcomes = []
    for base, cand in pairs_of(runs, how):
        slowed, keys = injected(cand, fraction, min_median_s)
        outcomes += [(v.label, v.verdict == SLOWER) for v in _gate(base, slowed).records if v.key in keys]
    return _detection(fraction, "injected into the samples", outcomes)


def slowdown_of(run: Run) -> float | None:
    env = run.provenance.env if run.provenance is not None else {}
    return positive_float(env, SLOWDOWN_ENV)


def measured_detection(
    baselines: Sequence[Run], slowed: Sequence[Run], min_median_s: float = MIN_MEDIAN_S
) -> list[Detection]:
    """Per injected fraction (each slowed run's own GPUBENCH_TEST_SLOWDOWN), the slowed runs against every
    baseline: the share of records of >= min_median_s (in the baseline) called SLOWER."""
    by_fraction: dict[float, list[tuple[str, bool]]] = {}
    for run in slowed:
        fraction = slowdown_of(run)
        if fraction is None:
            raise ValueError(
                f"{run.where}: no {SLOWDOWN_ENV} in its provenance: not an injected-slowdown run"
            )
        for base in baselines:
            long = {r.key for r in base.ok_records() if r.median >= min_median_s}
            verdicts = [v for v in _gate(base, run).records if v.key in long]
            by_fraction.setdefault(fraction, []).extend((v.label, v.verdict == SLOWER) for v in verdicts)
    return [_detection(f, "measured on the GPU", o) for f, o in sorted(by_fraction.items())]


def calibrate(aa: Sequence[Run], slowed: Sequence[Run] = (), how: str = "consecutive") -> dict:
    """Everything, as JSON-able data."""
    return {
        "false_alarms": asdict(aa_false_alarms(aa, how)),
        "injected": [asdict(injected_detection(aa, f, how)) for f in FRACTIONS],
        "measured": [asdict(d) for d in measured_detection(aa, slowed)] if slowed else [],
        "pairs": how,
        "runs": [r.where for r in aa],
        "slowed_runs": [r.where for r in slowed],
    }


def to_markdown(cal: dict) -> str:
    fa, v = cal["false_alarms"], cal["false_alarms"]["verdicts"]
    head = (
        f"A/A: {fa['runs']} runs, {fa['pairs']} {cal['pairs']} pairs, {fa['comparisons']} comparisons. "
        f"SLOWER {v[SLOWER]} (95 % upper bound on the false-alarm rate {fa['false_alarm_upper_95']:.2%}), "
        f"FASTER {v[FASTER]}, UNCERTAIN {v[UNCERTAIN]}, SAME {v[SAME]}; largest drift "
        f"{(fa['largest_drift'] or 0):.2%} ({fa['largest_drift_record']})"
    )
    lines = ["# Gate calibration", "", head, ""] + [f"> {c}" for c in fa["caveats"]]
    lines += [""] * bool(fa["caveats"])
    for d in cal["injected"] + cal["measured"]:
        lines.append(
            f"- {d['fraction']:.0%} slowdown, {d['source']}: {d['flagged']} of {d['comparisons']} records of "
            f">= 100 us flagged SLOWER ({(d['rate'] or 0):.1%}; 95 % lower bound {(d['lower_95'] or 0):.1%})"
        )
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gpubench.reports.gate_calibration", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--aa", nargs="+", required=True, metavar="RUN", help="A/A runs, in the order they ran")
    p.add_argument("--slowed", nargs="*", default=[], metavar="RUN", help=f"runs made with {SLOWDOWN_ENV}")
    p.add_argument("--pairs", choices=("consecutive", "all"), default="consecutive")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--markdown", metavar="OUT")
    return p


def main(argv=None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        aa = [results.read(f) for f in args.aa]
        slowed = [results.read(f) for f in args.slowed]
        if len(aa) < 2:
            raise ValueError("at least two A/A runs are needed for one pair")
        cal = calibrate(aa, slowed, args.pairs)
    except (results.ResultsError, ValueError) as exc:
        print(f"{p.prog}: error: {exc}", file=sys.stderr)
        return 2
    text = to_markdown(cal)
    print(text, end="")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results.finite_or_none(cal), f, indent=1)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
