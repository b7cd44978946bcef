"""Mistakes a user can fix: the one base class of every such error, and the one line that
reports it.

A `UserError` is what the user asked for that cannot work (a setting, a file, a path, a
missing optional package); its message says what was wrong, where, and what to do. Every
command reports one with `report_error` (through `qa_experiments.cli.errors.run_command`) as a
single line on stderr and exits with status 2; any other exception is a failure of the program
(exit 1, the traceback in the run's log). This module imports nothing of the package, so every
layer may raise these.
"""

import sys


class UserError(Exception):
    """A mistake in the command, its settings or its input files; the message says how to fix
    it."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or directory the user named (or a bundled one the package needs) is not there."""


def one_line(error: BaseException) -> str:
    """The error's message on one line (its type's name when it has none)."""
    return " ".join(str(error).split()) or type(error).__name__


def report_error(prog: str, message: str) -> None:
    """Print `PROG: error: MESSAGE` on stderr (the message folded into one line): the one
    format of every user error, whichever command or hook reports it."""
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)
