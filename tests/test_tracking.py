"""W&B run set-up that does not need a run: the inherited wandb-core service address."""

from __future__ import annotations

import socket

import pytest

from qa_experiments.tracking.wandb_run import forget_unreachable_service


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
