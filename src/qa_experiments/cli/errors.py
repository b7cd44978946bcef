"""The one error path of every command: `PROG: error: MESSAGE` on stderr, exit 2.

Results go to stdout, errors to stderr, in one format. `run_command` turns a `UserError` (see
`qa_experiments.errors`) into that line and exit status 2, a `Failure` into that line and exit
status 1; Hydra's own mistakes (`hydra_errors`) and bad arguments (`arguments.ArgumentParser`)
become UserErrors first. Anything else is a program failure and propagates (exit 1).
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Callable
from pathlib import Path

from qa_experiments.errors import Failure, PassingError, UserError, one_line, report_error


def run_command(prog: str, command: Callable[[], int]) -> int:
    """Run a command; a UserError becomes one line on stderr and exit status 2, a Failure
    one line and exit status 1 (also when a PassingError carries them)."""
    try:
        return command()
    except PassingError as carrier:
        error = carrier.error
    except (UserError, Failure) as raised:
        error = raised
    report_error(prog, one_line(error))
    return 2 if isinstance(error, UserError) else 1


def report_skipped(prog: str, where: str, error: UserError) -> None:
    """The error line for a mistake a command skips and reads on past (a bad input line)."""
    report_error(prog, f"{where}: {one_line(error)}; skipped it")


LOW_SPACE_BYTES = 1 << 20  # a write that failed for want of space leaves less than this free


def storage_problem(error: BaseException, directory: Path) -> str | None:
    """What a failure has to do with the disk holding `directory`, said plainly: full (ENOSPC
    or EDQUOT anywhere in the error's chain, or, for libraries that lose the errno, such as
    torch.save's "unexpected pos", under LOW_SPACE_BYTES free there now) or read-only (EROFS).
    None when it has nothing to do with it."""
    codes, seen, current = set(), set(), error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            codes.add(current.errno)
        current = current.__cause__ or current.__context__
    if errno.EROFS in codes:
        return f"{directory} is on a read-only file system"
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        free = None
    if codes & {errno.ENOSPC, errno.EDQUOT} or (free is not None and free < LOW_SPACE_BYTES):
        room = f" ({free:,} bytes free)" if free is not None else ""
        return f"no space left on the disk holding {directory}{room}"
    return None
