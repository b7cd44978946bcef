"""qa-serve under hostile use, as a real process over HTTP: start-up mistakes are one line and
exit 2 before the model loads; SIGTERM stops it at once and leaves nothing behind; a long
request does not hold back a short one and overload is a 503; the OpenAPI schema is the
truth (Schemathesis: every generated request gets a documented status, never a 500); the page
highlights the right span after astral characters."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest
from serve_process import CONTEXT, QUESTION, SERVE, post, start

from qa_experiments.inference.answerer import QuestionAnswerer
from qa_experiments.serving.app import STOPPING

# about 6,000 tokens: four of them are a long request within the limits (several rounds)
LONG_CONTEXT = " ".join(f"Word{i} was written by Ada in {1800 + i % 200}." for i in range(600))
# one context of about 85,000 characters (about 24,000 tokens), within the limits
ONE_LONG_CONTEXT = " ".join(f"Word{i} was written by Ada in {1800 + i % 200}."
                            for i in range(2400))


@pytest.fixture(scope="module")
def server(tiny_run):
    """One server for the tests below: a queue of 2 requests, so that overload is reachable."""
    process, url = start(tiny_run, "--max-queue", "2")
    yield url
    process.terminate()
    process.wait(timeout=30)


def health(url: str) -> dict:
    return json.loads(urllib.request.urlopen(f"{url}/health", timeout=10).read())


@pytest.mark.parametrize("options,reason", [
    (["--port", "70000"], "--port: must be a port number from 1 to 65535"),
    (["--batch-window-ms", "inf"], "--batch-window-ms: must be a number of milliseconds"),
    (["--batch-window-ms", "nan"], "--batch-window-ms: must be a number of milliseconds"),
    (["--batch-window-ms", "-1"], "--batch-window-ms: must be a number of milliseconds"),
    (["--host", "no-such-host.invalid"], "--host 'no-such-host.invalid' is not a known host"),
    (["--port", "BUSY"], "is in use (another server?); give another --port"),
])
def test_start_up_mistakes_are_one_line_and_exit_2_before_the_model_loads(tiny_run, options,
                                                                           reason):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        options = [str(busy.getsockname()[1]) if o == "BUSY" else o for o in options]
        result = subprocess.run([*SERVE, str(tiny_run), *options], capture_output=True,
                                text=True, timeout=120)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("qa-serve: error: ") and result.stderr.count("\n") == 1
    assert reason in result.stderr


@pytest.mark.slow
def test_sigterm_stops_at_once_with_a_half_sent_body_and_leaves_no_scratch_folder(tiny_run,
                                                                                  tmp_path):
    process, url = start(tiny_run, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert list(tmp_path.glob("qa-predict-*"))  # the answerer's scratch folder, while serving
    assert post(url, {"question": QUESTION, "context": CONTEXT})[0] == 200
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=60)
    connection.putrequest("POST", "/answer")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", "100")
    connection.endheaders(b'{"question": ')  # and never the rest
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)  # not waiting for the client
    response = connection.getresponse()  # what the server sent before it stopped
    assert (response.status, json.loads(response.read())) == (503, {"error": STOPPING})
    connection.close()
    assert "Traceback" not in stderr and " 500 " not in stderr, stderr
    assert not list(tmp_path.glob("qa-predict-*"))
    assert stdout.startswith("Serving ") and stdout.count("\n") == 1, stdout  # no banner
    assert '"POST /answer HTTP/1.1" 200' in stderr  # the access log, on stderr
    assert "Running in WANDB" not in stdout and "Tokenizing" not in stderr


@pytest.mark.slow
def test_a_short_request_is_not_held_back_by_a_long_one_and_overload_is_503(server):
    """Completion order, not durations: the short request is answered while the long one (one
    context of about 24,000 tokens, within the limits, answered in many rounds of windows) is
    still being answered; with --max-queue 2 and two long ones in progress, the next request
    is refused at once."""
    url = server
    long = {"question": QUESTION, "context": ONE_LONG_CONTEXT}
    assert len(ONE_LONG_CONTEXT) < 100_000
    finished: list[tuple[str, int]] = []

    def send(name: str) -> threading.Thread:
        thread = threading.Thread(target=lambda: finished.append((name, post(url, long)[0])))
        thread.start()
        return thread

    def wait_for_queue(size: int) -> None:
        while health(url)["queued"] < size:
            time.sleep(0.01)

    first = send("first long")
    wait_for_queue(1)
    status, _ = post(url, {"question": QUESTION, "context": CONTEXT})
    finished.append(("short", status))
    second = send("second long")
    wait_for_queue(2)
    status, body = post(url, {"question": QUESTION, "context": CONTEXT})
    first.join()
    second.join()
    assert status == 503 and "busy" in body["error"], body
    assert finished[0] == ("short", 200)
    assert sorted(finished[1:]) == [("first long", 200), ("second long", 200)]


def test_a_request_over_the_token_limit_or_without_tokens_is_refused(server):
    status, body = post(server, {"pairs": [{"question": QUESTION, "context": LONG_CONTEXT}] * 8})
    assert status == 413 and "at most 32768" in body["error"], body
    status, body = post(server, {"question": QUESTION, "context": "\u200b\u200b\x00"})
    assert status == 422 and "has no tokens" in body["error"], body


@pytest.mark.slow
def test_every_generated_request_gets_a_documented_status_never_a_500(server, tmp_path):
    """Schemathesis against the published schema, on the real server: positive and negative
    requests; fixed seed and bounded examples (CONTRIBUTING.md, Generative tests). Valid-looking
    text the model cannot read (only zero-width characters) is a documented 422, so
    positive_data_acceptance is left out."""
    result = subprocess.run(
        [shutil.which("schemathesis") or "schemathesis", "run", f"{server}/openapi.json",
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
         "response_schema_conformance,negative_data_rejection,unsupported_method",
         "--mode", "all", "--seed", "1", "--max-examples", "40",
         "--generation-database", "none", "--no-color"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)  # its .schemathesis/ there
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


@pytest.mark.slow
def test_a_client_that_leaves_stops_costing(tiny_run):
    """The long request's remaining windows are dropped once its client has gone (said on
    stderr), instead of being answered for nobody."""
    process, url = start(tiny_run)
    body = json.dumps({"pairs": [{"question": QUESTION, "context": LONG_CONTEXT}] * 4}).encode()
    try:
        connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=60)
        connection.request("POST", "/answer", body, {"Content-Type": "application/json"})
        while health(url)["queued"] < 1:
            time.sleep(0.01)
        connection.sock.shutdown(socket.SHUT_RDWR)
        connection.close()
        while health(url)["queued"]:
            time.sleep(0.05)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert re.search(r"a client left: ([1-9][0-9]* windows of its request|its request) dropped",
                     stderr), stderr


@pytest.mark.skipif(not shutil.which("chromedriver"), reason="needs Debian's chromium-driver "
                    "(.ci/run installs it)")
def test_the_page_highlights_the_answer_after_astral_characters(server, tiny_run):
    """Offsets count code points; an emoji is two UTF-16 units in the page's JavaScript."""
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    browser = webdriver.Chrome(options=options, service=service)
    context = "\U0001F600\U0001F4D6\U0001F9D0 " + CONTEXT
    with QuestionAnswerer.load(tiny_run) as answerer:
        expected = answerer.answer(QUESTION, context, top_k=3)
    assert expected.text and context[expected.start:expected.end] == expected.text
    try:
        browser.get(server + "/")
        # set as a value: chromedriver's send_keys types only the Basic Multilingual Plane
        browser.execute_script("document.getElementById('context').value = arguments[0]",
                               context)
        browser.find_element(By.ID, "question").send_keys(QUESTION)
        browser.find_element(By.ID, "submit").click()
        WebDriverWait(browser, 60).until(
            expected_conditions.visibility_of_element_located((By.ID, "answer")))
        assert browser.find_element(By.CSS_SELECTOR, "#passage mark").text == expected.text
        assert browser.find_element(By.ID, "passage").text == context
    finally:
        browser.quit()
