"""W&B run set-up without a real run: how long a start may wait before the job ends with one
line (wandb.init faked), the inherited wandb-core service address and the run record
(wandb_run.json) a resumed attempt reads back."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest
import wandb

from qa_experiments.tracking.wandb_run import (
    INIT_TIMEOUT_S,
    TrackingError,
    earlier_run,
    forget_unreachable_service,
    init_retrying,
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


@pytest.fixture
def listening_socket(tmp_path):
    """A unix socket path that accepts connections, as a live wandb-core service's does."""
    path = tmp_path / "service.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen()
        yield path


def test_service_that_answers_is_kept(listening_socket):
    environ = {"WANDB_SERVICE": f"3-123-unix-{listening_socket}"}
    forget_unreachable_service(environ)
    assert environ == {"WANDB_SERVICE": f"3-123-unix-{listening_socket}"}


@pytest.mark.parametrize("token", ["3-123-unix-{tmp}/gone.sock", "3-123-tcp-localhost-{port}"])
def test_service_that_does_not_answer_is_forgotten(tmp_path, token):
    with socket.socket() as unused:  # a port with nothing listening on it once closed
        unused.bind(("localhost", 0))
        port = unused.getsockname()[1]
    environ = {"WANDB_SERVICE": token.format(tmp=tmp_path, port=port), "OTHER": "1"}
    forget_unreachable_service(environ)
    assert environ == {"OTHER": "1"}


@pytest.mark.parametrize("environ", [{}, {"WANDB_SERVICE": ""}, {"WANDB_SERVICE": "not-a-token"}])
def test_absent_or_unparsable_token_is_left_to_wandb(environ):
    before = dict(environ)
    forget_unreachable_service(environ)
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


class HeldRun(Exception):
    pass


def held_for(calls: int):
    """An init that says the run ID is in use for its first `calls` calls, then starts."""
    seen = []

    def init():
        seen.append(1)
        if len(seen) <= calls:
            raise HeldRun("run ID abc123 is in use")
        return "run"
    return init, seen


def test_a_resume_waits_while_the_killed_attempts_service_holds_the_run():
    init, seen = held_for(2)
    assert init_retrying(init, wait_s=5.0, pause_s=0.01) == "run" and len(seen) == 3


def test_a_run_held_past_the_wait_and_other_errors_are_raised_at_once():
    init, seen = held_for(1000)
    with pytest.raises(HeldRun):
        init_retrying(init, wait_s=0.05, pause_s=0.01)
    assert 1 < len(seen) < 1000

    def failing():
        seen.append(1)
        raise ValueError("bad project name")
    seen.clear()
    with pytest.raises(ValueError):
        init_retrying(failing, wait_s=5.0, pause_s=0.01)
    assert len(seen) == 1

