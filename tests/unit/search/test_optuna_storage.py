"""open_storage: a journal damaged while open gets no more records."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from qa_experiments.search.optuna_storage import StorageError, open_storage


def test_a_journal_damaged_while_open_gets_no_more_records(tmp_path):
    # Optuna skips a cut-off last line and would glue the next record to it.
    journal = tmp_path / "optuna.journal"
    storage = open_storage(f"journal:{journal}")
    study = optuna.create_study(study_name="qa", storage=storage)
    trial = study.ask()
    with journal.open("ab") as handle:  # a writer that died mid-record
        handle.write(b'{"op_code": 7, "worker_id": "w", "trial_id": 0, "st')
    damaged = journal.read_bytes()
    with pytest.raises(StorageError, match="its last line is cut off"):
        trial.report(1.0, 1)
    with pytest.raises(StorageError, match="its last line is cut off"):
        study.tell(trial, 1.0)
    assert journal.read_bytes() == damaged
    assert not Path(f"{journal}.lock").exists()  # the lock was given back
