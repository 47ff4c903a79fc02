"""Exit statuses, the same for every `gpubench` command (docs/cli.md), and the usage-error line.

    0    done: the command did what was asked and found nothing wrong
    1    the command's "found something" answer: a regression (gate), a failed or wrong kernel (run),
         nothing to report (report with no reference data)
    2    usage or input error: a bad argument, a missing or malformed file, a missing dependency, an
         output that cannot be written (a full disk); one line on stderr names it, and nothing was measured
    130  interrupted (Ctrl-C, SIGTERM): what finished is kept
    141  its standard output was closed before it finished (`gpubench list | head -1`): it stops quietly,
         with the status a shell gives a program that SIGPIPE ends (128 + 13), so that a pipeline under
         `set -o pipefail` treats it as it treats `cat`, and a cut-short `gate` never reads as a pass (0)

Standard library only, so every part of the suite may import it.
"""

from __future__ import annotations

import sys

__all__ = ["EXIT_FOUND", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PIPE", "EXIT_USAGE", "usage_error"]

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141


def usage_error(prog: str, message: str) -> int:
    """Print `prog: error: message` on stderr (argparse's own form) and return EXIT_USAGE."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_USAGE
