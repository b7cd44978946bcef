"""Optuna storage from one string, shared by the sweeper and its trials' processes.

`sqlite:///optuna.db` (any SQLAlchemy URL) is an RDB storage; `journal:PATH` is Optuna's
journal file storage, which processes on one machine or on cluster nodes with a shared
filesystem can append to. Relative paths are made absolute, so that a job started in another
working directory (submitit, SLURM) opens the same study.
"""

from __future__ import annotations

from pathlib import Path

import optuna

JOURNAL_PREFIX = "journal:"
SQLITE_PREFIX = "sqlite:///"


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
    SQLAlchemy URL, None for an in-memory study (what `optuna.create_study` takes)."""
    if spec is None:
        return None
    if spec.startswith(JOURNAL_PREFIX):
        from optuna.storages.journal import JournalFileBackend

        path = Path(spec.removeprefix(JOURNAL_PREFIX))
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    return optuna.storages.RDBStorage(spec)
