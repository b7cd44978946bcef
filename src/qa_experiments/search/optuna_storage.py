"""Optuna storage from one string, shared by the sweeper and its trials' processes.

`sqlite:///optuna.db` (any SQLAlchemy URL) is an RDB storage; `journal:PATH` is Optuna's
journal file storage, which processes on one machine or on cluster nodes with a shared
filesystem can append to. Relative paths are made absolute, so that a job started in another
working directory (submitit, SLURM) opens the same study.

A storage that cannot be opened is a `StorageError`, one line naming it, before any trial
runs: an unknown URL scheme, a missing database driver, a file that is not an SQLite
database, a journal file that is damaged. Optuna skips a journal's last line when it is cut
off (a writer still at work, or one that died) and would append after it, gluing the next
record to the fragment; here the file is checked under the journal's lock when it is opened,
and again before every record is appended, so nothing is ever appended after damage.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
from optuna.storages.journal import JournalFileSymlinkLock

from qa_experiments.errors import UserError, one_line

JOURNAL_PREFIX = "journal:"
SQLITE_PREFIX = "sqlite:///"
SQLITE_HEADER = b"SQLite format 3\x00"
STORAGE_HINT = "use journal:PATH, sqlite:///PATH or another SQLAlchemy database URL"


class StorageError(UserError, ValueError):
    """A study storage that cannot be opened, or whose file is damaged."""


def absolute_storage(spec: str | None) -> str | None:
    """`spec` with a relative journal or SQLite file path made absolute (None stays None)."""
    if spec is None:
        return None
    for prefix in (JOURNAL_PREFIX, SQLITE_PREFIX):
        if spec.startswith(prefix) and spec != "sqlite:///:memory:":
            return prefix + str(Path(spec.removeprefix(prefix)).resolve())
    return spec


def open_storage(spec: str | None) -> optuna.storages.BaseStorage | None:
    """The storage `spec` names: a JournalStorage for `journal:PATH`, an RDBStorage for an
    SQLAlchemy URL, None for an in-memory study (what `optuna.create_study` takes);
    StorageError when it cannot be opened or is damaged."""
    if spec is None:
        return None
    if spec.startswith(JOURNAL_PREFIX):
        return open_journal(Path(spec.removeprefix(JOURNAL_PREFIX)))
    return open_database(spec)


def shown_url(spec: str | None) -> str:
    """The storage for a message: its password hidden; "memory" for None."""
    import sqlalchemy

    if spec is None:
        return "memory"
    try:
        return sqlalchemy.engine.make_url(spec).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return spec


def open_database(spec: str) -> optuna.storages.RDBStorage:
    """An RDBStorage of the SQLAlchemy URL `spec`, its SQLite file checked first."""
    import sqlalchemy

    try:
        url = sqlalchemy.engine.make_url(spec)
    except sqlalchemy.exc.ArgumentError as error:
        raise StorageError(f"study storage {spec!r} is neither journal:PATH nor a database URL "
                           f"({STORAGE_HINT})") from error
    shown = url.render_as_string(hide_password=True)
    try:
        url.get_dialect()
    except sqlalchemy.exc.NoSuchModuleError as error:
        raise StorageError(f"study storage {shown!r}: unknown kind of storage "
                           f"{url.drivername!r} ({STORAGE_HINT})") from error
    except ImportError as error:
        raise StorageError(f"study storage {shown!r} needs a database driver that is not "
                           f"installed: {one_line(error)}") from error
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        check_sqlite_file(Path(url.database))
    try:
        return optuna.storages.RDBStorage(spec)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, RuntimeError, ValueError) as error:
        cause = error.__cause__ if isinstance(error, ImportError) and error.__cause__ else error
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise StorageError(f"cannot open the study storage {shown!r}: {reason}") from error


def check_sqlite_file(path: Path) -> None:
    """StorageError unless `path` is an SQLite database, an empty file or a new file in an
    existing directory."""
    where = f"study storage {SQLITE_PREFIX + str(path)!r}"
    if path.is_dir():
        raise StorageError(f"{where}: {path} is a directory, not an SQLite database file")
    if not path.exists():
        if not path.parent.is_dir():
            raise StorageError(f"{where}: the directory {path.parent} does not exist")
        return
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as error:
        raise StorageError(f"{where}: cannot read {path}: {error.strerror}") from error
    if header and header != SQLITE_HEADER:
        raise StorageError(f"{where}: {path} is not an SQLite database; name a new file or the "
                           "database an earlier search wrote")


def open_journal(path: Path) -> optuna.storages.JournalStorage:
    """A JournalStorage on the journal file `path` (created if missing), checked whole under
    its lock now and its end before every append."""
    from optuna.storages.journal import JournalFileBackend

    where = journal_storage(path)
    if path.is_dir():
        raise StorageError(f"{where}: {path} is a directory, not a journal file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with held(JournalFileSymlinkLock(str(path))):  # no record is half written meanwhile
            check_journal(path)
        backend = JournalFileBackend(str(path), lock_obj=CheckedJournalLock(path))
        return optuna.storages.JournalStorage(backend)
    except StorageError:
        raise
    except OSError as error:
        raise StorageError(f"{where}: cannot use {path}: {error.strerror or one_line(error)}"
                           ) from error
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise StorageError(f"{where}: the journal holds a record Optuna cannot replay "
                           f"({type(error).__name__}: {one_line(error)}); restore the file from "
                           "a copy") from error


def journal_storage(path: Path) -> str:
    return f"study storage {JOURNAL_PREFIX + str(path)!r}"


def check_journal(path: Path) -> None:
    """StorageError when a line of the journal file is cut off or is not a JSON record."""
    if not path.exists():
        return
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                raise StorageError(damaged(path, f"its last line ({number}) is cut off"))
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                raise StorageError(damaged(path, f"line {number} is not a JSON record"))


def damaged(path: Path, problem: str) -> str:
    return (f"{journal_storage(path)}: the journal file is damaged: {problem} (a writer was "
            "interrupted, or the file was edited); nothing is appended to it. Restore it from a "
            "copy or remove the damaged line, then run again")


@contextmanager
def held(lock: JournalFileSymlinkLock) -> Iterator[None]:
    """Hold a journal file lock for the block."""
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


class CheckedJournalLock(JournalFileSymlinkLock):
    """Optuna's lock of the journal file, which (once held) refuses to let a record be
    appended when the file's last line is cut off: the record would be glued to it."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path

    def acquire(self) -> bool:
        super().acquire()
        try:
            ends_cleanly = self.ends_with_newline()
        except BaseException:
            self.release()
            raise
        if not ends_cleanly:
            self.release()
            raise StorageError(damaged(self.path, "its last line is cut off"))
        return True

    def ends_with_newline(self) -> bool:
        """Whether the file is empty or ends with a whole line."""
        with self.path.open("rb") as handle:
            size = handle.seek(0, 2)
            if size == 0:
                return True
            handle.seek(size - 1)
            return handle.read(1) == b"\n"
