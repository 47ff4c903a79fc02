"""The kinds of step a GPU pack is made of (bench.packs lists the packs): each knows its command, what it
costs (bench.packs.costs: a count times a per-unit time) and which of its outputs are committed where.

A step runs in the repository with `at.python` (the GPU machine's interpreter; a rehearsal's stand-in) and
writes into `at.out`, the pack's folder. Output names are relative to that folder; a committed output
names its place in the repository, where "{ref}" is reports/reference/<gpu>, "{calib}"
reports/calibration/<gpu> and "{stamp}" the pack's start (UTC), for files that accumulate run after run.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from gpubench.bench.packs import costs as pack_costs
from gpubench.bench.packs.costs import Cost
from gpubench.bench.run.plan import PROFILES, PlanItem
from gpubench.fmt import file_slug

__all__ = ["Calib", "Cmd", "Gate", "Layer", "Micro", "Ncu", "Pytest", "Run", "Step", "Where"]

GPU_TESTS = "tests/gpu"
MICRO_TESTS = "tests/gpu/test_micro_gpu.py"


@dataclass
class Where:
    """Where a pack runs: the GPU (its name as CUDA gives it), the repository, the pack's output folder,
    the interpreter the steps run with, and the pack's start (a UTC stamp)."""

    gpu: str
    repo: Path
    out: Path
    python: list[str]
    stamp: str
    registry: dict = field(default_factory=dict)
    parallel: bool = True  # pytest-xdist where the steps run (the GPU machines have it)

    @property
    def slug(self) -> str:
        return file_slug(self.gpu)

    @property
    def ref(self) -> Path:
        return self.repo / "reports" / "reference" / self.slug

    @property
    def calib(self) -> Path:
        return self.repo / "reports" / "calibration" / self.slug

    def place(self, template: str) -> str:
        """A committed output's path in the repository, from its template."""
        ref, calib = (str(p.relative_to(self.repo)) for p in (self.ref, self.calib))
        return template.format(ref=ref, calib=calib, stamp=self.stamp)

    def cli(self, *args: str) -> list[str]:
        return [*self.python, "-m", "gpubench.cli", *args]


@dataclass(frozen=True)
class Step:
    """One command of a pack. `keep`: output -> its place in the repository (committed when the step
    succeeds and wrote it); other outputs stay in the archive only. `outputs()`: what the step must write."""

    name: str
    keep: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    stdout: str | None = None  # an output the command's standard output is written to
    # why_not() depends only on the repository (not on what earlier steps wrote): a plan can ask it
    static: ClassVar[bool] = False

    def command(self, at: Where) -> list[str]:
        raise NotImplementedError

    def cost(self, at: Where) -> Cost:
        raise NotImplementedError

    def why_not(self, at: Where) -> str | None:
        """Why the step has nothing to do here (it is then reported as skipped), or None."""
        return None

    def outputs(self, at: Where) -> list[str]:
        return [*self.keep, *([self.stdout] if self.stdout else [])]


@dataclass(frozen=True)
class Cmd(Step):
    """A command given as it is, with a fixed cost (`basis` says where its figure comes from)."""

    argv: tuple[str, ...] = ()
    seconds: float = pack_costs.RUN_START_S
    basis: str = "as a run's start"

    def command(self, at: Where) -> list[str]:
        return at.cli(*(a.format(out=at.out) for a in self.argv))

    def cost(self, at: Where) -> Cost:
        return Cost(self.seconds, self.basis)


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@dataclass(frozen=True)
class Pytest(Step):
    """GPU tests: `files(at)` picks them; in parallel over pack_costs.WORKERS processes where
    pytest-xdist is installed (compiling dominates), one process otherwise or when `serial` (tests
    that measure rates). The junit report is `junit`, committed to `keep`'s place for it."""

    files: Callable[[Where], list[str]] = lambda at: []
    junit: str = "gpu-tests.xml"
    serial: bool = False
    test_timeout_s: int = 120
    env: dict[str, str] = field(default_factory=lambda: {"TRITON_INTERPRET": "0"})  # compiled Triton
    static: ClassVar[bool] = True

    def why_not(self, at: Where) -> str | None:
        return None if self.files(at) else "no test file left for it"

    def workers(self, at: Where) -> int:
        return 1 if self.serial or not at.parallel else pack_costs.WORKERS

    def command(self, at: Where) -> list[str]:
        par = ["-n", str(self.workers(at))] if self.workers(at) > 1 else []
        # pytest-timeout is not on every GPU machine: a per-test limit only where it is installed.
        limit = [f"--timeout={self.test_timeout_s}"] if has("pytest_timeout") else []
        return [*at.python, "-m", "pytest", *self.files(at), "-m", "gpu", "-o", "addopts=", "-q", "-rfEs",
                "-p", "no:cacheprovider", *par, *limit, f"--junitxml={at.out / self.junit}"]  # fmt: skip

    def cost(self, at: Where) -> Cost:
        tests = pack_costs.collect_gpu_tests(self.files(at), at.python[0])
        return pack_costs.tests_cost(tests, at.registry, self.workers(at))


def gpu_test_files(repo: Path) -> list[str]:
    return sorted(str(p.relative_to(repo)) for p in (repo / GPU_TESTS).glob("test_*.py"))


def covered_files(ref: Path, files: Sequence[str]) -> set[str]:
    """The files of `files` (GPU test files) with a test case in a committed junit report of this GPU
    model (reports/reference/<gpu>/*.xml)."""
    import xml.etree.ElementTree as ET

    seen = set()
    for xml in ref.glob("*.xml"):
        try:
            seen |= {tc.get("classname", "") for tc in ET.parse(xml).iter("testcase")}
        except ET.ParseError:
            continue
    modules = {f: f.removesuffix(".py").replace("/", ".") for f in files}
    return {f for f, m in modules.items() if any(c == m or c.startswith(m + ".") for c in seen)}


def never_run(at: Where) -> list[str]:
    """GPU test files never run on this GPU model (the micro-benchmark tests apart: they run alone)."""
    files = [f for f in gpu_test_files(at.repo) if f != MICRO_TESTS]
    done = covered_files(at.ref, files)
    return [f for f in files if f not in done]


def run_before(at: Where) -> list[str]:
    files = [f for f in gpu_test_files(at.repo) if f != MICRO_TESTS]
    done = covered_files(at.ref, files)
    return [f for f in files if f in done]


@dataclass(frozen=True)
class Run(Step):
    """`gpubench run` of the items `items(at)` (written to items-<name>.json beside the outputs) with the
    stopping rule of `profile`; its results file is `<name>.json`."""

    items: Callable[[Where], list[PlanItem]] = lambda at: []
    profile: str = "quick"
    extra: tuple[str, ...] = ()
    previous: Callable[[Where], Path | None] = lambda at: None  # a results file this GPU measured them in
    load_s: float = 0.0  # --sustained: each item measured again after this much load

    @property
    def results(self) -> str:
        return f"{self.name}.json"

    def outputs(self, at: Where) -> list[str]:
        return [self.results, f"items-{self.name}.json", *self.keep]

    def command(self, at: Where) -> list[str]:
        listed = at.out / f"items-{self.name}.json"
        listed.write_text(json.dumps([i.to_json() for i in self.items(at)]))
        ceilings = at.out / "ceilings.json"
        extra = [*self.extra, *(["--ceilings", str(ceilings)] if ceilings.is_file() else [])]
        return at.cli("run", "--items", str(listed), "--profile", self.profile, *extra,
                      "--out", str(at.out / self.results))  # fmt: skip

    def cost(self, at: Where) -> Cost:
        from gpubench import results

        prev = self.previous(at)
        previous = results.read(prev) if prev is not None and prev.is_file() else None
        rule, items = PROFILES[self.profile].rule, self.items(at)
        cost = pack_costs.bench_cost(items, rule, at.gpu, at.registry, previous)
        if not self.load_s:
            return cost
        again = len(items) * (self.load_s + rule.timeout_s)  # the load, then a second measurement
        return Cost(
            cost.seconds + again, f"{cost.basis} + {len(items)} x ({self.load_s} s load + {rule.timeout_s} s)"
        )


@dataclass(frozen=True)
class Micro(Step):
    quick: bool = False

    def command(self, at: Where) -> list[str]:
        return at.cli(
            "micro", *(["--quick"] if self.quick else []), "--out", str(at.out / self.outputs(at)[0])
        )

    def outputs(self, at: Where) -> list[str]:
        return [f"{self.name}.json", *self.keep]

    def cost(self, at: Where) -> Cost:
        return pack_costs.micro_cost(self.quick)


@dataclass(frozen=True)
class Ncu(Step):
    """`gpubench ncu` over `records` records of the results file `source` (an output of an earlier step)."""

    source: str = ""
    records: int = 20
    calls: int = 3

    def why_not(self, at: Where) -> str | None:
        return None if (at.out / self.source).is_file() else f"no {self.source} to profile"

    def command(self, at: Where) -> list[str]:
        return at.cli("ncu", str(at.out / self.source), "--limit", str(self.records), "--calls",
                      str(self.calls), "--out", str(at.out / f"{self.name}.json"))  # fmt: skip

    def outputs(self, at: Where) -> list[str]:
        return [f"{self.name}.json"]  # ncu's own CSV is named after how ncu ran (one process or several)

    def cost(self, at: Where) -> Cost:
        return pack_costs.ncu_cost(self.records, self.calls)


@dataclass(frozen=True)
class Gate(Step):
    """`gpubench gate BASE CANDIDATE`: `base(at)` and `candidate(at)` name the two results files."""

    base: Callable[[Where], Path] = lambda at: Path()
    candidate: Callable[[Where], Path] = lambda at: Path()

    def why_not(self, at: Where) -> str | None:
        missing = [p for p in (self.base(at), self.candidate(at)) if not p.is_file()]
        return f"no {', '.join(p.name for p in missing)} to gate" if missing else None

    def command(self, at: Where) -> list[str]:
        return at.cli("gate", str(self.base(at)), str(self.candidate(at)), "--markdown", "--output",
                      str(at.out / f"{self.name}.md"))  # fmt: skip

    def outputs(self, at: Where) -> list[str]:
        return [f"{self.name}.md", *self.keep]

    def cost(self, at: Where) -> Cost:
        return Cost(pack_costs.GATE_S, "two results files read (measured on the CPU, doubled)")


@dataclass(frozen=True)
class Calib(Step):
    """The gate's calibration (reports.gate_calibration) from the A/A runs committed for this GPU model and
    this pack's (`prefix`-NN.json), and the slowed runs (inject-*.json) likewise."""

    prefix: str = "aa"

    def _runs(self, at: Where, stem: str) -> list[Path]:
        return [*sorted(at.calib.glob(f"{stem}-*.json")), *sorted(at.out.glob(f"{stem}-*.json"))]

    def why_not(self, at: Where) -> str | None:
        return None if len(self._runs(at, self.prefix)) >= 2 else "fewer than two A/A runs"

    def command(self, at: Where) -> list[str]:
        aa, slowed = (list(map(str, self._runs(at, stem))) for stem in (self.prefix, "inject"))
        out = ["--json", str(at.out / "calibration.json"), "--markdown", str(at.out / "calibration.md")]
        return [*at.python, "-m", "gpubench.reports.gate_calibration", "--aa", *aa, "--slowed", *slowed, *out]

    def outputs(self, at: Where) -> list[str]:
        return ["calibration.json", "calibration.md", *self.keep]

    def cost(self, at: Where) -> Cost:
        return Cost(pack_costs.CALIB_S, "up to 11 A/A runs read (measured on the CPU, doubled)")


@dataclass(frozen=True)
class Layer(Step):
    """`gpubench layer llama-7b` in one phase and batch (prefill over 2048 tokens, or one decode step at
    a 2048-token context), with the pack's measured ceilings when it has them."""

    phase: str = "prefill"
    batch: int = 1
    model: str = "llama-7b"
    tokens: int = 2048

    def command(self, at: Where) -> list[str]:
        size = ["--seq", str(self.tokens)] if self.phase == "prefill" else ["--context", str(self.tokens)]
        ceilings = at.out / "ceilings.json"
        extra = ["--ceilings", str(ceilings)] if ceilings.is_file() else []
        return at.cli("layer", self.model, "--phase", self.phase, *size, "--batch", str(self.batch), *extra,
                      "--out", str(at.out / f"{self.name}.json"))  # fmt: skip

    def outputs(self, at: Where) -> list[str]:
        return [f"{self.name}.json", *self.keep]

    def cost(self, at: Where) -> Cost:
        from gpubench.transformer.configs import get_model
        from gpubench.transformer.measured.compose import plan_layer, registry_info
        from gpubench.transformer.operators import layer_operators
        from gpubench.transformer.scenario import Scenario

        seq = self.tokens if self.phase == "prefill" else 1
        sc = Scenario(self.phase, self.batch, seq, self.tokens)
        plan = plan_layer(layer_operators(get_model(self.model), sc), sc, registry_info())
        return pack_costs.layer_cost([len(p.variants) for p in plan])
