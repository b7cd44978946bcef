"""`run_command`, the one error path of every command: what reaches stderr and the exit
status for each kind of error."""

from __future__ import annotations

import errno

import pytest

from qa_experiments.cli.errors import run_command, storage_problem
from qa_experiments.errors import Failure, PassingError, UserError


def _raising(error: BaseException):
    def command() -> int:
        raise error
    return command


@pytest.mark.parametrize("error,status,line", [
    (UserError("no such run:\n  /x"), 2, "qa-x: error: no such run: /x\n"),
    (Failure("cannot write /x: disk full"), 1, "qa-x: error: cannot write /x: disk full\n"),
    (PassingError(UserError("job 0 differs")), 2, "qa-x: error: job 0 differs\n"),
    (PassingError(Failure("OSError: boom (see train.log)")), 1,
     "qa-x: error: OSError: boom (see train.log)\n"),
])
def test_each_reported_error_is_one_line_on_stderr_with_its_status(error, status, line,
                                                                    capsys):
    assert run_command("qa-x", _raising(error)) == status
    assert capsys.readouterr() == ("", line)


def test_a_bug_keeps_its_traceback_and_a_success_its_status(capsys):
    with pytest.raises(KeyError):
        run_command("qa-x", _raising(KeyError("bug")))
    assert run_command("qa-x", lambda: 0) == 0
    assert capsys.readouterr().err == ""


def test_a_bad_argument_is_a_user_error_reported_like_the_rest(capsys):
    from qa_experiments.cli.arguments import ArgumentParser, positive_int

    parser = ArgumentParser(prog="qa-x")
    parser.add_argument("--n", type=positive_int)
    assert run_command("qa-x", lambda: parser.parse_args(["--n", "0"]) and 0) == 2
    err = capsys.readouterr().err
    assert err == "qa-x: error: argument --n: must be a positive count, got 0 (see qa-x --help)\n"


def test_storage_problems_are_named_from_the_errno_or_the_disk(tmp_path):
    def chained(inner: BaseException) -> RuntimeError:
        try:
            try:
                raise inner
            except OSError:
                raise RuntimeError("unexpected pos 777600 vs 777492")  # noqa: B904 - as torch
        except RuntimeError as error:
            return error

    full = storage_problem(chained(OSError(errno.ENOSPC, "No space left on device")), tmp_path)
    assert full.startswith(f"no space left on the disk holding {tmp_path}")
    read_only = storage_problem(OSError(errno.EROFS, "Read-only file system"), tmp_path)
    assert read_only == f"{tmp_path} is on a read-only file system"
    assert storage_problem(ValueError("a bug"), tmp_path) is None  # a disk with room
