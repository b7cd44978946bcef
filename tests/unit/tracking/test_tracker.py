"""The job's tracker runs told the same: one that fails is dropped with a warning, the others
go on; the status a stopped job's runs get."""

from __future__ import annotations

import logging

import pytest

from qa_experiments.tracking.tracker import FAILED, FINISHED, KILLED, Trackers, ending


class Recorder:
    """A tracker that records what it is told, or fails from the `fails_at`-th call on."""

    def __init__(self, name: str, floor: int = 0, fails_at: int | None = None) -> None:
        self.name, self.floor, self.fails_at, self.calls = name, floor, fails_at, []

    def _call(self, *what) -> None:
        if self.fails_at is not None and len(self.calls) >= self.fails_at:
            raise ConnectionError("server gone")
        self.calls.append(what)

    def log(self, row, step):
        self._call("log", step)

    def finish(self, status, summary, tags=(), unset=()):
        self._call("finish", status)


def test_a_tracker_that_fails_is_dropped_with_one_warning_and_the_others_go_on(caplog):
    healthy, failing = Recorder("A"), Recorder("B", fails_at=1)
    trackers = Trackers([healthy, failing])
    with caplog.at_level(logging.WARNING):
        for step in (1, 2, 3):
            trackers.log({"loss": 1.0}, step)
        trackers.finish(FINISHED)
    assert healthy.calls == [("log", 1), ("log", 2), ("log", 3), ("finish", FINISHED)]
    assert failing.calls == [("log", 1)]
    (warning,) = caplog.messages
    assert warning.startswith("B failed while logging (ConnectionError: server gone)")
    assert not trackers  # all closed


def test_rows_are_logged_again_after_the_last_step_every_run_holds():
    assert Trackers([Recorder("A", floor=40), Recorder("B", floor=35)]).floor == 35
    assert Trackers([]).floor == 0


@pytest.mark.parametrize(("error", "status"), [
    (RuntimeError("x"), FAILED), (ValueError("x"), FAILED),
    (SystemExit(0), KILLED),  # SLURM's preemption handler exits for a requeue
    (KeyboardInterrupt(), KILLED),
])
def test_a_job_stopped_from_outside_is_killed_one_that_raised_failed(error, status):
    assert ending(error) == status
