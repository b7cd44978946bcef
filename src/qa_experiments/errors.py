"""Mistakes a user can fix and failures said in one line: the exceptions every command reports,
and the one function that prints the line.

A `UserError` is what the user asked for that cannot work (a setting, a file, a path, a
missing package); its message says what was wrong, where, and what to do. A `Failure` is a
failure of the program or its environment summed up in one line (a full disk, a crashed job
whose traceback is in its log). Every command reports both through
`qa_experiments.cli.errors.run_command`, which calls `report_error`: one line on stderr, exit
status 2 for a UserError, 1 for a Failure; any other exception keeps its traceback (exit 1).
This module imports nothing of the package, so every layer may raise these.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


class UserError(Exception):
    """A mistake in the command, its settings or its input files; the message says how to fix
    it."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or directory the user named (or a bundled one the package needs) is not there."""


class MissingPackageError(UserError, ModuleNotFoundError):
    """A package that a command or setting needs is not installed; the message gives the pip
    command that installs it."""


class Failure(Exception):
    """A failure that is not a mistake in the command, said in one line (exit status 1): an
    output the disk would not take, a job that failed (its traceback in its log)."""


class PassingError(BaseException):
    """Carries a UserError or Failure past code that handles every Exception its own way
    (Hydra warns about a callback's, prints a line of its own for a task function's);
    `run_command` reports the error it carries."""

    def __init__(self, error: UserError | Failure) -> None:
        super().__init__(error)
        self.error = error


def extra(name: str) -> str:
    """What pip installs for the optional extra `name` of qa-experiments."""
    return f"'qa-experiments[{name}]'"


@contextlib.contextmanager
def needs_package(user: str, install: str) -> Iterator[None]:
    """Imports in the block that find a module missing raise MissingPackageError: `USER needs
    the package 'MODULE', which is not installed: pip install INSTALL` (e.g. `extra("serve")`)."""
    try:
        yield
    except ModuleNotFoundError as error:
        raise missing_package(user, error, install) from error


def missing_package(user: str, error: ModuleNotFoundError, install: str) -> MissingPackageError:
    """The MissingPackageError for a failed import (see `needs_package`)."""
    return MissingPackageError(f"{user} needs the package {error.name!r}, which is not "
                               f"installed: pip install {install}")


def one_line(error: BaseException) -> str:
    """The error's message on one line (its type's name when it has none)."""
    return " ".join(str(error).split()) or type(error).__name__


def report_error(prog: str, message: str) -> None:
    """Print `PROG: error: MESSAGE` on stderr (the message folded into one line): the one
    format of every user error and one-line failure, whichever command or hook reports it."""
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)
