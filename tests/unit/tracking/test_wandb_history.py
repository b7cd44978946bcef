"""Which rows of a checkpoint's log history a resumed attempt logs again to its W&B run."""

from __future__ import annotations

from qa_experiments.tracking.wandb_history import FILE_HEADER, log_records, rows_to_relog

# A checkpoint at step 20's log_history: training logs every 5 steps, an evaluation at 10.
HISTORY = [
    {"loss": 4.0, "learning_rate": 1e-4, "epoch": 0.2, "step": 5},
    {"loss": 3.0, "learning_rate": 9e-5, "epoch": 0.4, "step": 10},
    {"eval_loss": 2.5, "epoch": 0.4, "step": 10},
    {"loss": 2.0, "learning_rate": 8e-5, "epoch": 0.6, "step": 15},
    {"loss": 1.0, "learning_rate": 7e-5, "epoch": 0.8, "step": 20},
]


def test_the_rows_after_the_last_step_the_run_holds_up_to_the_checkpoint_are_logged_again():
    assert rows_to_relog(HISTORY, held=5, checkpoint_step=15) == [
        (10, {"loss": 3.0, "learning_rate": 9e-5, "epoch": 0.4, "eval_loss": 2.5}),
        (15, {"loss": 2.0, "learning_rate": 8e-5, "epoch": 0.6}),
    ]


def test_a_run_that_holds_nothing_gets_every_row_of_the_checkpoint():
    assert [step for step, _ in rows_to_relog(HISTORY, 0, 20)] == [5, 10, 15, 20]


def test_a_run_that_holds_the_checkpoints_steps_gets_nothing_again():
    assert rows_to_relog(HISTORY, held=20, checkpoint_step=20) == []
    assert rows_to_relog(HISTORY, held=27, checkpoint_step=20) == []  # logged past it


def test_entries_without_a_whole_step_are_left_out():
    history = [{"loss": 1.0}, {"loss": 2.0, "step": "7"}, {"loss": 3.0, "step": 7.0}]
    assert rows_to_relog(history, 0, 10) == []


def test_a_file_that_is_not_a_w_and_b_log_holds_no_records():
    assert log_records(b"") == []
    assert log_records(b"not a W&B log at all") == []
    assert log_records(FILE_HEADER + b"\x00\x01") == []  # cut off inside the first header
