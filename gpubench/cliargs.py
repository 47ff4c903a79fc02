"""Command-line pieces shared by every command (standard library only).

- `Parser`: argparse with a usage error as the suite's one line on stderr (exit 2); gpubench.cli builds
  every subcommand's parser from it, and a command's `python -m` entry point (`standalone`) too.
- `number` / `count`: the one check of a number given on the command line: a number, finite, in range,
  the unit named when it is refused.
- `refuse_together` / `needs`: options that conflict, or that apply only with another one, refused
  naming both instead of one of them being ignored.
- `run_command`: a command's body with its stdout guarded: a closed pipe ends quietly with EXIT_PIPE, a
  full disk is exit 2 naming the output; the option rules above are checked first.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import sys
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from gpubench.exits import EXIT_INTERRUPTED, EXIT_PIPE, usage_error

__all__ = [
    "MAX_COUNT",
    "PLOT_SUFFIXES",
    "Parser",
    "add_workload_module_option",
    "count",
    "needs",
    "number",
    "output_file_problem",
    "parse_args",
    "refuse_together",
    "rule_problem",
    "run_command",
    "standalone",
]

# The largest whole number a command takes: every count the suite stores or hands to numpy, pandas or
# SQLite is a signed 64-bit integer, and a larger one cannot be held (or converted to a float) there.
MAX_COUNT = 2**63 - 1
# The picture formats the plotting options write (matplotlib's, by the file's suffix).
PLOT_SUFFIXES = (".png", ".svg", ".pdf")
# A file system that is full, over quota, or refuses the file's size: the output cannot be written.
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
RULES = "cli_option_rules"  # where refuse_together / needs keep their rules: the parser's defaults
PROG_DEST = "cli_prog"  # the name of the (sub)command that was parsed


class Parser(argparse.ArgumentParser):
    """argparse with its usage errors as one line on stderr, `prog: error: message`, exit 2 (no usage
    block: the line names the argument, and `--help` shows the rest). Subcommand parsers made from a
    Parser are Parsers too: argparse gives a subparser its parent's class."""

    def error(self, message: str):
        sys.exit(usage_error(self.prog, message))

    def parse_known_args(self, args=None, namespace=None):
        parsed, extras = super().parse_known_args(args, namespace)
        if not hasattr(parsed, PROG_DEST):  # the innermost (sub)command's parser is the first to set it
            setattr(parsed, PROG_DEST, self.prog)
        return parsed, extras

    def parse_args(self, args=None, namespace=None):
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:  # argparse leaves them to the outermost parser: name the subcommand that got them
            sys.exit(usage_error(getattr(parsed, PROG_DEST), f"unrecognized arguments: {' '.join(extras)}"))
        return parsed


# ------------------------------------------------------------------------------------------- numbers


def _bound(value, open_: bool, low: bool) -> str:
    shown = str(value) if isinstance(value, int) else f"{value:g}"
    if low:
        return f"{'above' if open_ else 'at least'} {shown}"
    return f"{'below' if open_ else 'at most'} {shown}"


def number(unit: str, low: float | None = None, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False, whole: bool = False) -> Callable[[str], float]:  # fmt: skip
    """An argparse `type`: a finite number within [low, high] (an open end with low_open / high_open);
    `whole` for an integer. A refusal names the value, the range and `unit` (NaN fails every
    comparison, so it is refused by name rather than slipping through a `> 0` check)."""
    kind = "whole number" if whole else "number"

    def parse(text: str):
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind} ({unit})") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite {kind} ({unit})")
        if low is not None and (value <= low if low_open else value < low):
            bound = _bound(low, low_open, low=True)
        elif high is not None and (value >= high if high_open else value > high):
            bound = _bound(high, high_open, low=False)
        else:
            return value
        raise argparse.ArgumentTypeError(f"{text} {unit} is out of range: it must be {bound} {unit}")

    parse.__name__ = kind  # argparse names the type in some of its own messages
    return parse


def count(unit: str, low: int = 1, high: int = MAX_COUNT) -> Callable[[str], int]:
    """An argparse `type`: a whole number of `unit` from `low` (default 1) to `high`."""
    return number(unit, low, high, whole=True)


# -------------------------------------------------------------------------------------- option rules


def _item(p: argparse.ArgumentParser, item) -> tuple[str, str, object]:
    """(dest, shown name, default) of an option string ("--tile": dest by argparse's own rule) or of a
    (dest, shown name) pair (a positional argument)."""
    dest, shown = item if isinstance(item, tuple) else (item.lstrip("-").replace("-", "_"), item)
    return dest, shown, p.get_default(dest)


def _add_rule(p: argparse.ArgumentParser, rule: tuple) -> None:
    p.set_defaults(**{RULES: [*(p.get_default(RULES) or []), rule]})


def refuse_together(p: argparse.ArgumentParser, first, *others, why: str = "") -> None:
    """`first` cannot be given with any of `others` (option strings, or (dest, shown name) for a
    positional). Declare it after the arguments: an argument counts as given when its value differs from
    its default."""
    for other in others:
        _add_rule(p, ("refuse", _item(p, first), _item(p, other), why))


def needs(p: argparse.ArgumentParser, option, required, why: str = "") -> None:
    """`option` applies only when `required` is given too (declared as for refuse_together); a list for
    `required` means any one of them (a GPU named by --gpu or by a --spec-file)."""
    alternatives = required if isinstance(required, list) else [required]
    _add_rule(p, ("needs", _item(p, option), [_item(p, r) for r in alternatives], why))


def rule_problem(args: argparse.Namespace) -> str | None:
    """The first declared rule that `args` breaks, as the message of a usage error; None when none."""
    given = lambda item: getattr(args, item[0]) != item[2]  # noqa: E731
    for kind, a, b, why in getattr(args, RULES, None) or ():
        if kind == "refuse" and given(a) and given(b):
            return f"{a[1]} and {b[1]} cannot be given together: {why or 'give one of them'}"
        if kind == "needs" and given(a) and not any(map(given, b)):
            return f"{a[1]} applies only with {' or '.join(r[1] for r in b)}" + (f": {why}" if why else "")
    return None


# -------------------------------------------------------------------------------------------- output


class _StdoutFailed(Exception):
    """Writing the command's standard output failed (`error` says how); not an OSError, so a command's
    own `except OSError` around its files does not take it for theirs."""

    def __init__(self, error: OSError):
        super().__init__(str(error))
        self.error = error


class _GuardedStdout:
    """sys.stdout while a command runs: an OSError writing it is raised as _StdoutFailed."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        try:
            return self.stream.write(text)
        except OSError as exc:
            raise _StdoutFailed(exc) from None

    def flush(self):
        try:
            self.stream.flush()
        except OSError as exc:
            raise _StdoutFailed(exc) from None

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _discard(stream) -> None:
    """Point the failed stream's descriptor at /dev/null, so the interpreter's last flush of what is
    still buffered does not fail again with a message of its own (Python's advice for SIGPIPE)."""
    with suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


class _Ended(Exception):
    """The command's output failed: it ends with `status` (its line, if any, already printed)."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def _output_error(prog: str, exc: OSError, name: str, stream) -> int:
    if isinstance(exc, BrokenPipeError):  # the reader went away (`| head`): nothing is worth saying
        _discard(stream)
        return EXIT_PIPE
    if exc.errno in _FULL:
        _discard(stream)
        return usage_error(prog, f"cannot write {name}: {exc.strerror or exc}")
    raise exc


def _guarded(body: Callable[[], object], prog: str):
    """body() with sys.stdout guarded, and flushed before it returns (also when body raises SystemExit,
    as argparse's --help does), so a failed output is known before the status is; _Ended when it failed."""
    real = sys.stdout
    sys.stdout = guarded = _GuardedStdout(real)
    try:
        try:
            return body()
        finally:
            guarded.flush()
    except _StdoutFailed as failed:
        raise _Ended(_output_error(prog, failed.error, "to standard output", real)) from None
    except BrokenPipeError as exc:  # written through another handle of the same pipe
        raise _Ended(_output_error(prog, exc, "to standard output", real)) from None
    except OSError as exc:
        if exc.errno not in _FULL:
            raise
        raise _Ended(_output_error(prog, exc, exc.filename or "an output file", real)) from None
    finally:
        sys.stdout = real


def parse_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace | int:
    """The parsed arguments, or the exit status when parsing ended the command: --help or --version (0),
    a usage error (2, its line printed), help into a closed pipe (EXIT_PIPE)."""
    try:
        return _guarded(lambda: parser.parse_args(argv), parser.prog)
    except SystemExit as exc:
        return int(exc.code or 0)
    except _Ended as ended:
        return ended.status


def run_command(func: Callable[[argparse.Namespace], int | None], args: argparse.Namespace, prog: str) -> int:
    """`func(args)` as a command: its option rules checked first (exit 2), its stdout guarded (a closed
    pipe: EXIT_PIPE, quietly; a full disk: exit 2 naming the output), Ctrl-C one line and EXIT_INTERRUPTED."""
    if problem := rule_problem(args):
        return usage_error(prog, problem)
    try:
        return int(_guarded(lambda: func(args), prog) or 0)
    except _Ended as ended:
        return ended.status
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def standalone(configure: Callable, run: Callable, prog: str, description: str | None = None,
               argv=None, **parser_options) -> int:  # fmt: skip
    """A command's `python -m` entry point: its own Parser (configure(p) adds the arguments), the same
    one-line usage errors and guarded output as `gpubench COMMAND`. Returns the exit status."""
    p = Parser(prog=prog, description=description, **parser_options)
    configure(p)
    args = parse_args(p, argv)
    return args if isinstance(args, int) else run_command(run, args, prog)


# ------------------------------------------------------------------------------------------- options


def add_workload_module_option(p) -> None:
    """--workload-module, shared by the commands that load workloads (`list`, `run`)."""
    p.add_argument(
        "--workload-module", nargs="+", metavar="PATH", default=[],
        help="also load the workloads of these files or package folders (each defines WORKLOAD or "
        "WORKLOADS, as the built-in ones do); installed plug-ins (entry points gpubench.workloads) "
        "load anyway",
    )  # fmt: skip


def output_file_problem(flag: str, path: str | None, suffixes: tuple[str, ...] = ()) -> str | None:
    """Why `path` cannot be the output file of `flag` (a suffix not in `suffixes`, a folder that does not
    exist, a folder in its place); None when it can, or when no path was given. Creates nothing."""
    if path is None:
        return None
    p = Path(path)
    if suffixes and p.suffix.lower() not in suffixes:
        return f"{flag} {path}: the file must end in {', '.join(suffixes)}"
    if p.is_dir():
        return f"{flag} {path}: is a folder; name a file"
    if not p.parent.is_dir():
        return f"{flag} {path}: no such folder {str(p.parent)!r}"
    return None
