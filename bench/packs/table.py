"""The GPU work in packs: each pack is one command that fits a lent GPU machine's session (PACK_LIMIT_S),
returns one archive, and knows from what is committed under reports/ whether it is still owed for a GPU
model. PACKS lists them in order of value: whoever next has a GPU runs the first one owed.

A pack is a row of PACKS: a name, what it is for, its steps (bench.packs.steps) and the test of whether it
is owed. Adding one is adding a row; a new kind of work (collectives, training) adds its step kind to
bench.packs.steps and its rows here.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass

from gpubench.bench.fleet.split import item_key
from gpubench.bench.packs import committed
from gpubench.bench.packs.costs import RUN_START_S, bench_cost, within
from gpubench.bench.packs.steps import (
    MICRO_TESTS,
    Calib,
    Cmd,
    Gate,
    Layer,
    Micro,
    Ncu,
    Pytest,
    Run,
    Step,
    Where,
    never_run,
    run_before,
)
from gpubench.bench.run.plan import PROFILES, PlanItem, build_plan
from gpubench.kernels.compiled import NAME as COMPILED

__all__ = ["BUDGET_S", "PACKS", "PACK_LIMIT_S", "Pack", "by_name", "owed"]

# A drawn GPU session has 15 minutes of device time, the machine's start included (the device tool's
# notes), and a command may run at most 10 minutes. Two packs back to back must fit one session: with
# 2 minutes for the start (assumed: "minutes", the notes say), each pack has (900 - 120) / 2 = 390 s.
BUDGET_S = 900
START_S = 120
PACK_LIMIT_S = (BUDGET_S - START_S) // 2

AA_PLAN = "reports/calibration/plan-aa.json"
NEW_RESULTS = "results-kernels"  # bench-new's results files, one a run: {ref}/results-kernels-<stamp>.json
AA_SERIES = 11  # A/A runs of the fixed plan the gate's calibration asks for (docs/gating.md: 10 pairs)
USER_TESTS = ["tests/test_api.py", "tests/test_fixture.py", "tests/test_plugins.py"]
MULTI_WORKLOADS = ("vector_add", "window_sum", "softmax")
# The training step: 2 warm-up and 5 timed steps (train-step's defaults), each bounded by 5 s (a bound,
# not a measurement: the first warm-up step also builds the model and the optimizer's states; llama-3-8b at
# 2 layers and 4096 tokens is about 2.6e13 FLOP a step, under 0.1 s at the H100's measured bf16 rate).
TRAIN_STEPS, TRAIN_STEP_BOUND_S = 7, 5.0
COMM_RECORDS = 2 * 8 * 2


@dataclass(frozen=True)
class Pack:
    name: str
    about: str
    steps: tuple[Step, ...]
    owed_because: Callable[[Where], str | None]  # why the pack is owed for `at`'s GPU model; None: done


# ---- what is still owed (bench.packs.committed reads what is committed) --------------------------------


def _owed_share(at: Where, items: list[PlanItem]) -> list[PlanItem]:
    """The items never measured on this GPU model, as many as one run of a pack holds (bench.packs.costs.
    within): the rest stay owed for the pack's next run."""
    have = committed.committed_keys(at)
    owed = [i for i in items if item_key(i) not in have]
    limit = PACK_LIMIT_S - DEVICE.cost(at).seconds
    return within(owed, limit, lambda some: bench_cost(some, PROFILES["quick"].rule, at.gpu, at.registry))


def new_items(at: Where) -> list[PlanItem]:
    """Every bench shape, bf16 and cold, of the workloads no other results file committed for this GPU model
    holds (a pack's worth at a time: the pack's own earlier shares do not make a workload measured)."""
    have = {k.workload for k in committed.committed_keys(at, leave_out=NEW_RESULTS)}
    fresh = [name for name in at.registry if name not in have]
    if not fresh:
        return []
    plan = build_plan(PROFILES["full"], fresh, dtypes=["bf16"], modes=["cold"], registry=at.registry)
    return _owed_share(at, list(plan))


def compiled_items(at: Where) -> list[PlanItem]:
    """The torch.compile baselines at the quick profile's shapes, which the quick profile itself leaves out
    (their compiles take minutes), a pack's worth at a time."""
    plan = build_plan(PROFILES["quick"], variants=[COMPILED], registry=at.registry)
    return _owed_share(at, list(plan))


def sustained_items(at: Where) -> list[PlanItem]:
    """The bf16 GEMMs of the quick profile, cuBLAS and the persistent TMA kernel: burst and after a load."""
    return [i for i in committed.quick_items(at) if i.workload == "gemm" and i.dtype == "bf16"
            and i.variant in ("torch", "triton_persistent_tma")]  # fmt: skip


def aa_items(at: Where) -> list[PlanItem]:
    return [PlanItem.from_json(i) for i in json.loads((at.repo / AA_PLAN).read_text())]


def multi_items(at: Where) -> list[PlanItem]:
    return [i for i in committed.quick_items(at) if i.workload in MULTI_WORKLOADS]


# ---- the steps the packs share -----------------------------------------------------------------------

DEVICE = Cmd("device", argv=("device", "--json"), stdout="device.json", seconds=RUN_START_S,
             basis="imports torch and NVML (as a run's start)")  # fmt: skip


# The gate's calibration from every A/A and slowed run of this GPU model, committed or just made.
CALIB = Calib(
    "calib", keep={"calibration.json": "{calib}/calibration.json", "calibration.md": "{calib}/calibration.md"}
)


def _ref(*names: str) -> dict[str, str]:
    """Outputs committed under their own names in reports/reference/<gpu>/."""
    return {n: f"{{ref}}/{n}" for n in names}


def _aa(first: int, last: int) -> tuple[Run, ...]:
    return tuple(
        Run(f"aa-{n:02d}", keep={f"aa-{n:02d}.json": f"{{calib}}/aa-{{stamp}}-{n:02d}.json"}, items=aa_items)
        for n in range(first, last + 1)
    )


def _inject(fraction: str) -> Run:
    name = f"inject-{fraction}"
    keep = {f"{name}.json": f"{{calib}}/inject-{{stamp}}-{fraction}.json"}
    return Run(name, keep=keep, env={"GPUBENCH_TEST_SLOWDOWN": fraction}, items=aa_items)


def _layer(phase: str, batch: int) -> Layer:
    name = f"layer-{phase}-b{batch}"
    return Layer(name, keep=_ref(f"{name}.json"), phase=phase, batch=batch)


PACKS: tuple[Pack, ...] = (
    Pack(
        "correctness",
        "the GPU tests never run on this GPU model, in parallel, then the others again",
        (
            DEVICE,
            Pytest(
                "tests_new",
                keep=_ref("gpu-tests-new.xml"),
                files=never_run,
                junit="gpu-tests-new.xml",
            ),
            Pytest("tests_rest", keep=_ref("gpu-tests.xml"), files=run_before),
        ),
        lambda at: f"{len(never_run(at))} GPU test files never run on it" if never_run(at) else None,
    ),
    Pack(
        "bench-new",
        "every bench shape (bf16, cold) of the workloads never measured on this GPU model",
        (
            DEVICE,
            Run(
                NEW_RESULTS,
                keep={f"{NEW_RESULTS}.json": f"{{ref}}/{NEW_RESULTS}-{{stamp}}.json"},
                items=new_items,
            ),
        ),
        lambda at: "workloads never measured on it" if new_items(at) else None,
    ),
    Pack(
        "micro",
        "the ceilings (quick micro-benchmarks first, then the full ones), their tests, and the bf16 "
        "GEMMs burst and sustained",
        (
            DEVICE,
            Micro("ceilings-quick", quick=True),
            Micro("ceilings", keep=_ref("ceilings.json")),
            Pytest(
                "tests_micro",
                keep=_ref("gpu-tests-micro.xml"),
                files=lambda at: [MICRO_TESTS],
                junit="gpu-tests-micro.xml",
                serial=True,
            ),
            Run(
                "results-sustained",
                keep=_ref("results-sustained.json"),
                items=sustained_items,
                extra=("--sustained", "2"),
                load_s=2.0,
            ),
        ),
        committed.micro_owed,
    ),
    Pack(
        "truth",
        "measurement truth: one A/A run, its records under Nsight Compute, more A/A runs",
        (
            DEVICE,
            *_aa(1, 1),
            Ncu(
                "ncu",
                keep={"ncu.json": "{calib}/ncu-{stamp}.json", "ncu-ncu-all.csv": "{calib}/ncu-{stamp}.csv"},
                source="aa-01.json",
                records=20,
            ),
            *_aa(2, 6),
            CALIB,
        ),
        functools.partial(committed.truth_owed, series=AA_SERIES),
    ),
    Pack(
        "bench-all",
        "the quick profile gated against the committed reference, and through --gpus all",
        (
            DEVICE,
            Run(
                "results-quick",
                keep=_ref("results-quick.json"),
                items=committed.quick_items,
                previous=lambda at: at.ref / "results-quick.json",
            ),
            Gate(
                "gate-vs-reference",
                base=lambda at: at.ref / "results-quick.json",
                candidate=lambda at: at.out / "results-quick.json",
            ),
            Run(
                "results-gpus",
                items=multi_items,
                extra=("--gpus", "all"),
                previous=lambda at: at.ref / "results-quick.json",
            ),
            Gate(
                "gate-gpus",
                base=lambda at: at.out / "results-quick.json",
                candidate=lambda at: at.out / "results-gpus.json",
            ),
        ),
        lambda at: committed.missing(committed.quick_items(at), at),
    ),
    Pack(
        "bench-compile",
        "the torch.compile baselines at the quick profile's shapes, a pack's worth at a time",
        (
            DEVICE,
            Run("results-compile", keep={"results-compile.json": "{ref}/results-compile-{stamp}.json"},
                items=compiled_items),  # fmt: skip
        ),
        lambda at: f"{len(compiled_items(at))} torch.compile items owed (this run's share)"
        if compiled_items(at) else None,
    ),
    Pack(
        "truth-inject",
        "the gate's detection rate: injected slowdowns, the slow config, the rest of the A/A series",
        (
            DEVICE,
            *_aa(7, 7),
            _inject("0.05"),
            _inject("0.10"),
            Run(
                "slowcfg",
                keep={"slowcfg.json": "{calib}/slowcfg-{stamp}.json"},
                env={"GPUBENCH_TEST_SLOW_CONFIG": "1"},
                items=aa_items,
            ),
            Gate(
                "gate-slowcfg",
                base=lambda at: at.out / "aa-07.json",
                candidate=lambda at: at.out / "slowcfg.json",
            ),
            *_aa(8, 11),
            CALIB,
        ),
        lambda at: None if committed.count(at, "inject-*.json") else "no slowed run committed",
    ),
    Pack(
        "user",
        "users' own kernels on the GPU: gpubench.benchmark, the gpu_benchmark fixture, plug-ins",
        (
            DEVICE,
            Pytest(
                "tests_user",
                keep=_ref("user-tests.xml"),
                files=lambda at: USER_TESTS,
                junit="user-tests.xml",
                serial=True,
            ),
        ),
        committed.file_owed("user-tests.xml"),
    ),
    Pack(
        "layer",
        "one llama-7b layer, operator by operator, prefill and decode, batch 1 and 16",
        (
            DEVICE,
            _layer("prefill", 1),
            _layer("decode", 1),
            _layer("prefill", 16),
            _layer("decode", 16),
            Cmd(
                "profile-module",
                argv=(
                    "profile-module",
                    "--config",
                    "llama-7b",
                    "--seq",
                    "2048",
                    "--device",
                    "cuda",
                    "--csv",
                    "{out}/profile-module.csv",
                    "--plot",
                    "{out}/profile-module.png",
                ),
                keep=_ref("profile-module.csv"),
                seconds=2 * RUN_START_S,
                basis="one traced llama-7b block run (not measured on a GPU yet): twice a run's start",
            ),
        ),
        committed.file_owed("layer-decode-b16.json"),
    ),
    Pack(
        "train",
        "one training step measured beside the planner's one-GPU prediction; NCCL's collectives at world "
        "size 1 (the path's plumbing, records for the report)",
        (
            DEVICE,
            Cmd(
                "train-step",
                argv=("train-step", "llama-3-8b", "--layers", "2", "--seq", "4096", "--device", "cuda",
                      "--out", "{out}/train-step.json"),
                keep=_ref("train-step.json"),
                seconds=RUN_START_S + TRAIN_STEPS * TRAIN_STEP_BOUND_S,
                basis=f"a run's start + {TRAIN_STEPS} steps (2 warm-up, 5 timed) x <= "
                f"{TRAIN_STEP_BOUND_S:g} s (a bound: not measured on a GPU yet)",
            ),  # fmt: skip
            Cmd(
                "comm-nccl-1",
                argv=("comm", "--backend", "nccl", "--ranks", "1", "--collective", "all_reduce", "all_gather",
                      "-b", "1K", "-e", "16M", "-f", "4", "--quick", "--out", "{out}/comm-nccl-1.json"),
                keep=_ref("comm-nccl-1.json"),
                seconds=RUN_START_S + COMM_RECORDS,
                basis=f"a run's start + {COMM_RECORDS} records (2 collectives x 8 sizes x in- and "
                "out-of-place) x <= 1 s (--quick's limit per record)",
            ),  # fmt: skip
        ),
        committed.file_owed("train-step.json"),
    ),
)


def by_name(name: str) -> Pack:
    for p in PACKS:
        if p.name == name:
            return p
    raise KeyError(f"no pack {name!r}; the packs: {', '.join(p.name for p in PACKS)}")


def owed(at: Where) -> list[tuple[Pack, str]]:
    """The packs owed for `at`'s GPU model, in order of value, each with why."""
    return [(p, why) for p in PACKS if (why := p.owed_because(at)) is not None]
