"""Command-line pieces shared by several commands (standard library only)."""

from __future__ import annotations


def add_workload_module_option(p) -> None:
    """--workload-module, shared by the commands that load workloads (`list`, `run`)."""
    p.add_argument(
        "--workload-module", nargs="+", metavar="PATH", default=[],
        help="also load the workloads of these files or package folders (each defines WORKLOAD or "
        "WORKLOADS, as the built-in ones do); installed plug-ins (entry points gpubench.workloads) "
        "load anyway",
    )  # fmt: skip
