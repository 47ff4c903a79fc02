"""The package's layout: everything installs under `gpubench` (no top-level `kernels`, `bench`, `roofline`,
`reports`, `systolic` or `transformer`), and the rooms import in one direction only, as ALLOWED says.

Rooms, bottom up (a room may import the rooms listed for it, never one above it):
    base          gpubench/{fmt,exits,opcount,outpath,cliargs,dtypes,roles}.py: standard library only
    results       gpubench/results: the results and ceilings formats
    kernels       the workloads
    roofline      spec database, ceilings, placement, the performance model (no torch)
    systolic      the systolic-array accelerator model (no torch)
    transformer   transformer and training models from the operators' counts (no torch)
    reports       reads results files: tables, plots, gate, history (no torch, kernels or bench)
    bench.*       measure < cpucheck, run, micro < fleet, ncu < commands (bench's argparse layer) < packs
    transformer.measured   transformer layers and modules measured with the suite's timer
    top           gpubench/{cli,api,call,fixture}.py: the entry points, may import anything
"""

import ast
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOPS = {"gpubench": "gpubench", "kernels": "gpubench.kernels", "bench": "gpubench.bench",
        "roofline": "gpubench.roofline", "reports": "gpubench.reports", "systolic": "gpubench.systolic",
        "transformer": "gpubench.transformer"}  # fmt: skip
BASE = ("fmt", "exits", "opcount", "outpath", "cliargs", "dtypes", "roles")
TOP = ("cli", "api", "call", "fixture", "__init__")
BENCH_ROOMS = ("measure", "cpucheck", "run", "micro", "fleet", "ncu", "packs", "commands", "comm")
TRANSFORMER_ROOMS = ("measured", "training")
_low = {"base", "results"}
ALLOWED = {
    "base": set(),
    "results": {"base"},
    "kernels": {"base"},
    "roofline": _low,
    "systolic": _low | {"roofline"},
    "transformer": _low | {"roofline"},
    "transformer.training": _low | {"roofline", "transformer"},
    "reports": _low | {"roofline"},
    "bench.measure": _low | {"kernels", "roofline"},
    "bench.cpucheck": _low | {"kernels", "bench.measure"},
    "bench.run": _low | {"kernels", "roofline", "bench.measure"},
    "bench.micro": _low | {"kernels", "roofline", "bench.measure"},
    "bench.comm": _low | {"roofline", "bench.measure", "bench.run"},
    "bench.fleet": _low | {"kernels", "roofline", "bench.measure", "bench.run"},
    "bench.ncu": _low | {"kernels", "bench.measure", "bench.run"},
    "transformer.measured": _low | {"kernels", "roofline", "transformer", "transformer.training",
                                    "bench.measure"},
    "bench": set(),  # bench/__init__.py only
}  # fmt: skip
_bench = [r for r in ALLOWED if r.startswith("bench.")]
ALLOWED["bench.commands"] = set().union(*(ALLOWED[r] | {r} for r in _bench)) | {"reports"}
# The GPU packs run every other part's measurements (kernels, layers, training steps, collectives).
ALLOWED["bench.packs"] = ALLOWED["bench.commands"] | {"transformer", "transformer.measured",
                                                    "transformer.training"}
GPU_LIBS = {"torch", "triton", "cupy"}
PLOTTING = {"numpy", "matplotlib", "jinja2", "pandas"}
# Libraries a room must not import (at any depth, lazily included).
NO_LIBS = {
    "base": GPU_LIBS | PLOTTING,
    "results": GPU_LIBS | {"numpy", "matplotlib", "jinja2"},  # pandas: Run.to_frame, imported lazily
    "roofline": GPU_LIBS,
    "systolic": GPU_LIBS,
    "transformer": GPU_LIBS,
    "transformer.training": GPU_LIBS,
    "reports": GPU_LIBS,
}


def room_of(dotted: str) -> str | None:
    """The room of a gpubench.* module name (None for anything else)."""
    parts = dotted.split(".")
    if parts[0] != "gpubench" or len(parts) == 1:
        return None
    second = parts[1]
    if second in BASE:
        return "base"
    if second in TOP:
        return "top"
    if second == "results":
        return "results"
    if second == "bench" and len(parts) > 2 and parts[2] in BENCH_ROOMS:
        return f"bench.{parts[2]}"
    if second == "transformer" and len(parts) > 2 and parts[2] in TRANSFORMER_ROOMS:
        return f"transformer.{parts[2]}"
    return second


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def _modules() -> dict[str, Path]:
    """Every module of the suite by its installed name."""
    out = {}
    for folder, prefix in TOPS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(REPO / folder).with_suffix("").parts
            name = ".".join([prefix, *rel]).removesuffix(".__init__")
            if folder == "gpubench" and rel and rel[0] in TOPS:
                continue
            out[name] = path
    return out


MODULES = _modules()


def _room_modules(room: str) -> list[tuple[str, Path]]:
    return [(n, p) for n, p in MODULES.items() if (room_of(n) or "top") == room]


def test_every_module_has_a_room():
    rooms = {room_of(n) or "top" for n in MODULES} - {"top"}
    assert rooms - set(ALLOWED) == set(), f"rooms without a rule: {rooms - set(ALLOWED)}"


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_each_room_imports_only_the_rooms_below_it(room):
    bad = []
    for _, path in _room_modules(room):
        for imported in _imports(path):
            target = room_of(imported)
            if target and target != room and target not in ALLOWED[room]:
                bad.append(f"{path.relative_to(REPO)} ({room}) imports {imported} ({target})")
            if imported.split(".")[0] in NO_LIBS.get(room, ()):
                bad.append(f"{path.relative_to(REPO)} ({room}) imports {imported}")
    assert not bad, "\n".join(sorted(set(bad)))


def test_no_module_imports_another_modules_private_names():
    """`from x import _y` across modules hides a seam that should be public and named."""
    bad = []
    files = [*MODULES.values(), *sorted((REPO / "tests").rglob("*.py"))]
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ImportFrom) and node.module or "").startswith(("gpubench", "tests")):
                continue
            names = [a.name for a in node.names]
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            if private or any(part.startswith("_") for part in node.module.split(".")):
                bad.append(f"{path.relative_to(REPO)}: from {node.module} import {', '.join(names)}")
    assert not bad, "\n".join(bad)


def test_no_module_uses_the_bare_top_level_names():
    bad = []
    others = [*sorted((REPO / "tests").rglob("*.py"))]
    for path in [*MODULES.values(), *others]:
        for name in _imports(path):
            if name.split(".")[0] in set(TOPS) - {"gpubench"}:
                bad.append(f"{path.relative_to(REPO)} imports {name}")
    assert not bad, "\n".join(sorted(set(bad)))


@pytest.mark.slow
def test_the_readers_run_with_the_gpu_libraries_blocked():
    """Importing every module of the torch-free rooms with torch, triton and cupy made unimportable."""
    mods = [n for room in NO_LIBS for n, _ in _room_modules(room)]
    code = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in GPU_LIBS)
    code += "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in mods)
    code += "import gpubench.results, gpubench.cli\n"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert p.returncode == 0, p.stderr


def test_pyproject_lists_every_package_folder():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = config["package-dir"]
    found = set()
    for name, folder in mapping.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            found.add(".".join([name, *rel.parts]))
    assert found - listed == set(), f"package folders missing from pyproject: {sorted(found - listed)}"
    assert listed - found == set(), f"pyproject lists packages that do not exist: {sorted(listed - found)}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    code = "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    p = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, cwd=REPO,
                       timeout=300)  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    return out / p.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_the_wheel_installs_only_the_gpubench_namespace(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = "-".join(wheel.name.split("-")[:2]) + ".dist-info"
    assert {n.split("/")[0] for n in names} == {"gpubench", dist_info}
    for data in ("gpubench/kernels/vector_add/vector_add.cu", "gpubench/roofline/data/gpus.toml",
                 "gpubench/reports/templates/report.html.j2", "gpubench/bench/micro/memory.cu",
                 "gpubench/kernels/cuda_include/gpubench/types.cuh",
                 "gpubench/systolic/data/default.toml"):  # fmt: skip
        assert data in names
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "gpubench = gpubench.cli:main" in entry


@pytest.mark.slow
def test_an_installed_copy_cannot_import_kernels(wheel, tmp_path):
    """Only the suite on the path (no site-packages, not the checkout): `kernels` is not importable."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys\n"
        "sys.path[:] = [sys.argv[1], *(p for p in sys.path if 'site-packages' not in p)]\n"
        "import gpubench.results, gpubench.roofline.specs\n"
        "assert gpubench.results.__file__.startswith(sys.argv[1]), gpubench.results.__file__\n"
        "assert len(gpubench.__path__) == 1, gpubench.__path__  # not extended to a checkout\n"
        "for name in ('kernels', 'bench', 'roofline', 'reports', 'systolic', 'transformer'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ModuleNotFoundError:\n"
        "        continue\n"
        "    raise SystemExit(f'{name} is importable')\n"
        "print(len(gpubench.roofline.specs.load_specs()))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.run([sys.executable, "-S", "-c", code, str(site)], capture_output=True, text=True,
                       cwd=tmp_path, env=env)  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    assert int(p.stdout) > 5
