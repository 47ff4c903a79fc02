"""No module over MAX_MODULE_LINES lines and no function over MAX_FUNCTION_LINES in the rooms below, unless
the code says why in one line: `# long module: <reason>` at the left margin of the module, or
`# long function: <reason>` on the line just above the function (above its decorators). That marker is
the only way past this test."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROOMS = ("bench", "reports", "roofline", "systolic", "transformer", "gpubench")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MODULE_MARK = "# long module:"
FUNCTION_MARK = "# long function:"

FILES = sorted(p for room in ROOMS for p in (REPO / room).rglob("*.py") if "__pycache__" not in p.parts)


def _reason(line: str, mark: str) -> bool:
    return line.startswith(mark) and bool(line[len(mark) :].strip())


def _long_functions(path: Path, root: Path = REPO) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for node in ast.walk(ast.parse("\n".join(lines), filename=str(path))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = node.end_lineno - node.lineno + 1
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        above = lines[first - 2].strip() if first >= 2 else ""
        if length > MAX_FUNCTION_LINES and not _reason(above, FUNCTION_MARK):
            out.append(f"{path.relative_to(root)}:{node.lineno} {node.name} is {length} lines")
    return out


def test_the_rooms_have_files():
    assert len(FILES) > 100


@pytest.mark.parametrize("room", ROOMS)
def test_modules_are_short_or_say_why(room):
    long = []
    for path in (p for p in FILES if p.relative_to(REPO).parts[0] == room):
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > MAX_MODULE_LINES and not any(_reason(x, MODULE_MARK) for x in lines):
            long.append(f"{path.relative_to(REPO)} is {len(lines)} lines")
    assert not long, "\n".join(long)


@pytest.mark.parametrize("room", ROOMS)
def test_functions_are_short_or_say_why(room):
    long = [f for p in FILES if p.relative_to(REPO).parts[0] == room for f in _long_functions(p)]
    assert not long, "\n".join(long)


def test_only_a_marker_with_a_reason_lets_a_long_function_pass(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))  # with the def: one line too many
    f = tmp_path / "m.py"
    cases = (("", 1), ("# long function:", 1), ("# long function: a table, one row a line", 0))
    for above, reported in cases:
        f.write_text(f"{above}\n@staticmethod\ndef f():\n{body}\n")
        assert len(_long_functions(f, tmp_path)) == reported, above
