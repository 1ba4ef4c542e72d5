"""Command line: ``czsim run | compare | targets | sweep | calibrate | break-even | what-it-takes | attribute | doc | diagram | counters``.

A thin layer: parse arguments, call the package, print or write. Each command is one module
with a ``register(subparsers)`` function; this is the only package that imports Rich. Bad
input prints one line (``czsim: error: <file>:<line> [<key>]: <what is wrong>``) and exits
with status 2; so does every operating-system error (a file that cannot be read or written,
a full disk). Ctrl-C prints one line and exits with status 130. Set ``CZSIM_DEBUG=1`` to see
the traceback of an unexpected error instead of its one line.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from czsim.cli.console import make_console
from czsim.errors import CzsimError, os_error_message

#: One module per command, in the order ``czsim --help`` lists them.
COMMANDS = (
    "run",
    "compare",
    "targets",
    "sweep",
    "calibrate",
    "decisions",
    "doc",
    "counters",
)

#: Exit status for bad input (argument, file, data) and for operating-system errors.
EXIT_BAD_INPUT = 2
#: Exit status after Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130
#: Exit status for an error czsim did not expect (a bug): still one line, no traceback.
EXIT_INTERNAL = 70

INTERRUPTED = "interrupted — rerun the same command to resume"


class UsageError(CzsimError):
    """The command line itself is malformed (unknown option, missing argument)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (raised, not printed with the usage)."""

    def error(self, message: str) -> NoReturn:
        hint = f" (see '{self.prog} --help')"
        raise UsageError(message + hint)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``czsim`` argument parser with every command registered.

    ``--lang`` is accepted before or after the command (``czsim --lang zh run plan`` and
    ``czsim run plan --lang zh``).
    """
    parser = _Parser(prog="czsim", description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=("en", "zh"), default="en", help="label language")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"czsim.cli.{name}").register(sub)
    for command in sub.choices.values():
        # SUPPRESS: a subcommand without --lang keeps the value given before it.
        command.add_argument(
            "--lang", choices=("en", "zh"), default=argparse.SUPPRESS, help="label language"
        )
    return parser


def _say(message: str) -> None:
    text = " ".join(str(message).split()) or "error"
    print(f"czsim: error: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``czsim`` console script; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        console = make_console()
        return args.func(args, console)
    except CzsimError as exc:
        _say(str(exc))
        return EXIT_BAD_INPUT
    except OSError as exc:
        _say(os_error_message(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"czsim: {INTERRUPTED}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except RecursionError:
        _say("input nested too deeply to process")
        return EXIT_BAD_INPUT
    except MemoryError:
        _say("out of memory; ask for fewer runs, times or variables")
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # --help and --version exit 0 through argparse
        return exc.code if isinstance(exc.code, int) else 0
    except Exception as exc:
        if os.environ.get("CZSIM_DEBUG"):
            raise
        _say(
            f"internal error ({type(exc).__name__}: {exc}); please report it "
            "(CZSIM_DEBUG=1 shows the traceback)"
        )
        return EXIT_INTERNAL
