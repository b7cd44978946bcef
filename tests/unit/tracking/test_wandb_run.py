"""W&B run set-up without a real run: how long a start may wait before the job ends with one
line (wandb.init faked), which wandb-core service a job uses and the run record
(wandb_run.json) a resumed attempt reads back."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import wandb

from qa_experiments.tracking.wandb_run import (
    INIT_TIMEOUT_S,
    TrackingError,
    earlier_run,
    own_service,
    start_run,
)


@pytest.mark.parametrize("environ, waits",
                         [({}, INIT_TIMEOUT_S), ({"WANDB_INIT_TIMEOUT": "7"}, 7.0)])
def test_a_w_and_b_start_that_times_out_ends_the_job_after_the_set_wait(
        tmp_path, monkeypatch, environ, waits):
    """wandb waits 90 s (plus retries) by default; the job gives it INIT_TIMEOUT_S, or what
    WANDB_INIT_TIMEOUT says, and then ends with one line that names the wait."""
    given = []

    def init(**kwargs):
        given.append(kwargs["settings"].init_timeout)
        raise wandb.errors.CommError("Run initialization has timed out")

    monkeypatch.setattr(wandb, "init", init)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    logger = SimpleNamespace(name="wandb", mode="online", project="p", entity=None, group=None,
                             tags=[])
    with pytest.raises(TrackingError, match=f"timed out after {waits:.0f} s; WANDB_INIT_TIMEOUT"):
        start_run(logger, config={}, run_dir=tmp_path, name="job", group=None, tags=[])
    assert given == [waits] and waits < 90


def test_a_service_started_by_another_process_is_dropped(tmp_path):
    """A launcher's service would hold a killed job's run, and the resume could not continue it."""
    for token in (f"3-123-unix-{tmp_path}/service.sock", "3-123-tcp-localhost-40000"):
        environ = {"WANDB_SERVICE": token, "OTHER": "1"}
        own_service(environ, pid=456)
        assert environ == {"OTHER": "1"}


def test_the_service_this_process_started_is_kept(tmp_path):
    """The jobs of an in-process multirun share the service the first one started."""
    environ = {"WANDB_SERVICE": f"3-456-unix-{tmp_path}/service.sock"}
    own_service(environ, pid=456)
    assert environ == {"WANDB_SERVICE": f"3-456-unix-{tmp_path}/service.sock"}


@pytest.mark.parametrize("environ", [{}, {"WANDB_SERVICE": ""}, {"WANDB_SERVICE": "not-a-token"}])
def test_absent_or_unparsable_token_is_left_to_wandb(environ):
    before = dict(environ)
    own_service(environ, pid=456)
    assert environ == before


@pytest.mark.parametrize("content", [
    None,  # no file: the first attempt
    "",  # truncated
    "[1, 2]",
    '{"id": "../../x", "last_step": 3}',
    '{"id": "' + "a" * 129 + '", "last_step": 3}',
    '{"id": "abc", "last_step": true}',
    '{"id": "abc", "last_step": -1}',
    '{"id": "abc", "last_step": 2.5}',
    '{"id": null, "last_step": 3}',
])
def test_a_w_and_b_run_record_that_is_not_ours_starts_a_new_run(tmp_path, content):
    record = tmp_path / "wandb_run.json"
    if content is not None:
        record.write_text(content)
    assert earlier_run(record) is None


def test_the_w_and_b_run_record_names_the_run_and_its_last_step(tmp_path):
    record = tmp_path / "wandb_run.json"
    record.write_text('{"id": "z3anex10", "last_step": 40}')
    assert earlier_run(record) == ("z3anex10", 40)
