"""W&B run set-up: the inherited wandb-core service address, the run record (wandb_run.json) a
resumed attempt reads back, and where a resumed offline run continues (real offline runs, no
training)."""

from __future__ import annotations

import logging
import shutil
import socket

import pytest
import wandb
from omegaconf import OmegaConf

from qa_experiments.tracking.wandb_history import last_written_step
from qa_experiments.tracking.wandb_run import earlier_run, forget_unreachable_service, start_run

LOGGER = {"name": "wandb", "mode": "offline", "project": "test", "entity": None, "group": None,
          "tags": []}


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


def offline_attempt(run_dir, steps, resume=False):
    """A job attempt's offline W&B run in `run_dir` that logs a loss at each of `steps`."""
    job_run = start_run(OmegaConf.create(LOGGER), config={"lr": 1.0}, run_dir=run_dir,
                        name="job", group=None, tags=[], resume=resume)
    for step in steps:
        job_run.log({"train/loss": 1.0 / step}, step)
    job_run.run.finish()
    wandb.teardown()  # W&B's service writes the run's log after finish() returns
    return job_run


def test_the_last_written_step_is_read_from_the_run_s_log_also_when_cut_off(tmp_path):
    offline_attempt(tmp_path, range(1, 8))
    (attempt,) = (tmp_path / "wandb").glob("offline-run-*")
    assert last_written_step([attempt]) == 7
    (log,) = attempt.glob("*.wandb")
    cut = tmp_path / "cut" / attempt.name
    cut.mkdir(parents=True)
    shutil.copy(log, cut)
    data = log.read_bytes()
    (cut / log.name).write_bytes(data[:len(data) * 2 // 3])  # a kill while writing
    assert 0 < last_written_step([cut]) < 7
    assert last_written_step([tmp_path / "missing"]) == 0


def test_a_resumed_run_continues_from_the_step_its_history_holds_not_from_its_record(
        tmp_path, caplog):
    offline_attempt(tmp_path, [1, 2, 3])
    record = tmp_path / "wandb_run.json"
    record.write_text(record.read_text().replace('"last_step": 3', '"last_step": 1000000'))
    with caplog.at_level(logging.INFO, logger="qa_experiments.tracking.wandb_run"):
        resumed = offline_attempt(tmp_path, [3, 4], resume=True)  # 3: already in the run
    assert resumed.floor == 3
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "holds steps up to 3, not 1000000" in warning
    first, second = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert (last_written_step([first]), last_written_step([second])) == (3, 4)
