"""The objective language of `gpubench dse`: arithmetic over a configuration's figures.

An objective is one expression: numbers, the names in `VARIABLES`, + - * / // % ** (and unary -), parentheses,
and the functions in `FUNCTIONS`. Nothing else is accepted (no attributes, calls of other names, comparisons
or strings), so evaluating a user's objective cannot run arbitrary code.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping

from .errors import SystolicInputError

VARIABLES = {
    "cycles": "total cycles of the topology (compute + stalls)",
    "compute_cycles": "cycles without memory stalls",
    "stall_cycles": "cycles the array waits for DRAM",
    "mapping_efficiency": "fraction of PEs mapped per fold, averaged over layers by compute cycles (0-1)",
    "compute_utilization": "useful MACs / (PEs x fold cycles), averaged like mapping_efficiency (0-1)",
    "overall_utilization": "useful MACs / (PEs x cycles) over the topology (0-1)",
    "macs": "multiply-accumulates of the topology",
    "rows": "array rows",
    "cols": "array columns",
    "pes": "rows x cols",
    "ifmap_kb": "input SRAM, KiB",
    "filter_kb": "filter SRAM, KiB",
    "ofmap_kb": "output SRAM, KiB",
    "sram_kb": "the three SRAMs together, KiB",
    "area": "pe_area x pes + sram_area_per_kb x sram_kb (mm^2, from --pe-area and --sram-area-per-kb)",
    "dram_bytes": "DRAM traffic of the topology, bytes",
    "time_us": "cycles at the config's clock, microseconds",
}
FUNCTIONS: dict[str, Callable] = {
    "min": min,
    "max": max,
    "abs": abs,
    "sqrt": math.sqrt,
    "log": math.log,
    "log2": math.log2,
    "log10": math.log10,
    "exp": math.exp,
}
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


class Objective:
    """A parsed objective; `evaluate(values)` computes it for one configuration's figures."""

    def __init__(self, text: str):
        self.text = text
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise SystolicInputError(
                f"objective {text!r}: invalid syntax at column {exc.offset or 0}"
            ) from None
        self._check(tree.body)
        self._tree = tree.body

    def _check(self, node: ast.AST) -> None:
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int | float)
            and not isinstance(node.value, bool)
        ):
            return
        if isinstance(node, ast.Name):
            if node.id not in VARIABLES:
                raise SystolicInputError(
                    f"objective {self.text!r}: unknown name {node.id!r}; known: {', '.join(VARIABLES)}"
                )
            return
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            self._check(node.left)
            self._check(node.right)
            return
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            self._check(node.operand)
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            if node.func.id not in FUNCTIONS:
                raise SystolicInputError(
                    f"objective {self.text!r}: unknown function {node.func.id!r}; known: "
                    f"{', '.join(FUNCTIONS)}"
                )
            if not node.args:
                raise SystolicInputError(f"objective {self.text!r}: {node.func.id}() needs an argument")
            for arg in node.args:
                self._check(arg)
            return
        raise SystolicInputError(
            f"objective {self.text!r}: {ast.unparse(node)!r} is not allowed "
            "(numbers, names, + - * / // % **, parentheses and functions only)"
        )

    def names(self) -> set[str]:
        return {n.id for n in ast.walk(self._tree) if isinstance(n, ast.Name) and n.id in VARIABLES}

    def evaluate(self, values: Mapping[str, float]) -> float:
        return float(self._eval(self._tree, values))

    def _eval(self, node: ast.AST, values: Mapping[str, float]):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.BinOp):
            left, right = self._eval(node.left, values), self._eval(node.right, values)
            if isinstance(node.op, ast.Pow):  # in floats: a huge power overflows at once instead of hanging
                return float(left) ** float(right)
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self._eval(node.operand, values))
        return FUNCTIONS[node.func.id](*(self._eval(a, values) for a in node.args))
