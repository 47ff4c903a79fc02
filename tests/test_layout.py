"""The package's layout: everything installs under `gpubench` (no top-level `kernels`, `bench`, `roofline`
or `reports`), and the parts import in one direction only: `kernels` nothing of the others, `reports`
neither torch nor `kernels` nor `bench`, `roofline` no torch, the results format and the base modules
(fmt, exits, opcount) only the standard library.
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
PARTS = {"kernels": "kernels", "bench": "bench", "roofline": "roofline", "reports": "reports",
         "results": "gpubench/results", "base": "gpubench"}  # fmt: skip
# The base modules every part may import: standard library only.
BASE = ("fmt.py", "exits.py", "opcount.py")
GPU_LIBS = {"torch", "triton", "cupy"}
# What each part must not import: other parts of the suite (by their gpubench.* name) and libraries.
FORBIDDEN = {
    "kernels": {"gpubench.bench", "gpubench.roofline", "gpubench.reports"},
    "roofline": {"gpubench.kernels", "gpubench.bench", "gpubench.reports", *GPU_LIBS},
    "reports": {"gpubench.kernels", "gpubench.bench", *GPU_LIBS},
    "results": {"gpubench.kernels", "gpubench.bench", "gpubench.roofline", "gpubench.reports", *GPU_LIBS,
                "numpy", "matplotlib", "jinja2"},
    "base": {"gpubench.kernels", "gpubench.bench", "gpubench.roofline", "gpubench.reports", *GPU_LIBS,
             "numpy", "matplotlib", "jinja2", "pandas"},
}  # fmt: skip


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


def _modules(part: str) -> list[Path]:
    if part == "base":
        return [REPO / PARTS[part] / name for name in BASE]
    return sorted(p for p in (REPO / PARTS[part]).rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_each_part_imports_only_what_it_may(part):
    bad = []
    for path in _modules(part):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[part]):
                bad.append(f"{path.relative_to(REPO)} imports {name}")
    assert not bad, "\n".join(bad)


def test_no_module_uses_the_bare_top_level_names():
    bad = []
    for part in ("kernels", "bench", "roofline", "reports"):
        others = [*sorted((REPO / "tests").rglob("*.py")), *sorted((REPO / "gpubench").rglob("*.py"))]
        for path in [*_modules(part), *others]:
            for name in _imports(path):
                if name.split(".")[0] in ("kernels", "bench", "roofline", "reports"):
                    bad.append(f"{path.relative_to(REPO)} imports {name}")
    assert not bad, "\n".join(sorted(set(bad)))


def test_the_readers_run_with_the_gpu_libraries_blocked():
    """Importing every module of reports and roofline with torch, triton and cupy made unimportable."""
    tops = [(part, p) for part in ("reports", "roofline") for p in _modules(part) if p.parent == REPO / part]
    mods = [f"gpubench.{part}" + (f".{p.stem}" if p.stem != "__init__" else "") for part, p in tops]
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


def test_the_wheel_installs_only_the_gpubench_namespace(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = "-".join(wheel.name.split("-")[:2]) + ".dist-info"
    assert {n.split("/")[0] for n in names} == {"gpubench", dist_info}
    for data in ("gpubench/kernels/vector_add/vector_add.cu", "gpubench/roofline/data/gpus.toml",
                 "gpubench/reports/templates/report.html.j2", "gpubench/bench/micro/memory.cu",
                 "gpubench/kernels/cuda_include/gpubench/types.cuh"):  # fmt: skip
        assert data in names
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "gpubench = gpubench.cli:main" in entry


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
        "for name in ('kernels', 'bench', 'roofline', 'reports'):\n"
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
