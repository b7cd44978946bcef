"""qa-serve, started as a real process on 127.0.0.1 and called over HTTP (and, for its web page,
from a real headless Chromium): valid requests are answered as the Python API answers; every
bad request gets a 4xx with a one-line reason, and the next valid request still works."""

from __future__ import annotations

import http.client
import json
import shutil
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from serve_process import CONTEXT, QUESTION, post, start

from qa_experiments.inference.answerer import QuestionAnswerer


@pytest.fixture(scope="module")
def server(tiny_run):
    process, url = start(tiny_run)
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def answerer(tiny_run):
    with QuestionAnswerer.load(tiny_run) as loaded:
        yield loaded


def test_health_says_what_is_served(server, tiny_run):
    health = json.loads(urllib.request.urlopen(f"{server}/health").read())
    assert health["status"] == "ok" and health["model"] == str(tiny_run / "model")
    assert health["version_2"] is False and health["calibrated"] is False


def test_single_and_batch_requests_are_answered_as_the_python_api_answers(server, answerer):
    status, body = post(server, {"question": QUESTION, "context": CONTEXT, "top_k": 3})
    assert status == 200
    assert body["answer"] == answerer.answer(QUESTION, CONTEXT, top_k=3).to_dict()
    pairs = [{"question": QUESTION, "context": CONTEXT},
             {"question": "When was it published?", "context": CONTEXT}]
    status, body = post(server, {"pairs": pairs})
    assert status == 200
    assert body["answers"] == [a.to_dict() for a in answerer.answer_batch(
        [(p["question"], p["context"]) for p in pairs])]


def test_concurrent_requests_each_get_their_own_answer(server, answerer):
    questions = [f"{QUESTION} ({i})" for i in range(12)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        replies = list(pool.map(lambda q: post(server, {"question": q, "context": CONTEXT}),
                                questions))
    expected = answerer.answer_batch([(q, CONTEXT) for q in questions])
    assert [status for status, _ in replies] == [200] * 12
    assert [body["answer"] for _, body in replies] == [a.to_dict() for a in expected]


@pytest.mark.parametrize(
    "body,status,reason",
    [
        (b"not json", 422, "the body is not valid JSON"),
        (b"", 422, ""),
        ({"question": QUESTION}, 422, "give both question and context"),
        ({"question": 5, "context": CONTEXT}, 422, "question: Input should be a valid string"),
        ({"question": None, "context": CONTEXT}, 422, "give both question and context"),
        ({"question": "   ", "context": CONTEXT}, 422, "The question is empty"),
        ({"question": QUESTION, "context": ""}, 422, "context: String should have at least 1 "
                                                     "character"),
        ({"question": QUESTION, "context": "x" * 100_001}, 422, "context: String should have at "
                                                                 "most 100000 characters"),
        ({"question": QUESTION, "context": "Ada \ud800 wrote it."}, 422, "context: Input "
                                                                        "should be a valid string"),
        ({"question": QUESTION, "context": CONTEXT, "top_k": 21}, 422, "top_k: Input should be "
                                                                        "less than or equal to 20"),
        ({"question": QUESTION, "context": CONTEXT, "top_k": -1}, 422, "top_k"),
        ({"question": QUESTION, "context": CONTEXT, "top_k": "3"}, 422, "top_k"),
        ({"question": QUESTION, "context": CONTEXT, "min_confidence": 0.5}, 422,
         "min_confidence needs a calibration"),
        ({"question": QUESTION, "context": CONTEXT, "min_confidence": 2}, 422, "min_confidence"),
        ({"question": QUESTION, "context": CONTEXT, "extra": 1}, 422, "extra: Extra inputs"),
        ({"pairs": []}, 422, "pairs: List should have at least 1 item"),
        ({"pairs": [{"question": QUESTION, "context": CONTEXT}] * 33}, 422, "pairs: List should "
                                                                            "have at most 32"),
        ({"pairs": [{"question": QUESTION, "context": CONTEXT}], "question": QUESTION,
          "context": CONTEXT}, 422, "give question and context, or pairs"),
        ([QUESTION, CONTEXT], 422, ""),
    ],
    ids=lambda value: None,
)
def test_bad_requests_get_a_4xx_with_one_line_and_the_server_keeps_serving(server, body, status,
                                                                           reason):
    got, reply = post(server, body)
    assert got == status, reply
    assert isinstance(reply["error"], str) and "\n" not in reply["error"] and reason in reply[
        "error"], reply
    assert post(server, {"question": QUESTION, "context": CONTEXT})[0] == 200


def test_a_body_over_the_limit_is_refused_before_it_is_read(server):
    """413 on the declared length: the server does not wait for 3 MB to arrive."""
    host, port = server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", "/answer")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(3 * 2**20))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read()) == {"error": "the body is over 2097152 bytes"}
    connection.close()
    assert post(server, {"question": QUESTION, "context": CONTEXT})[0] == 200


@pytest.mark.skipif(not shutil.which("chromedriver"), reason="needs Debian's chromium-driver "
                    "(.ci/run installs it)")
def test_web_page_in_a_real_browser_shows_the_answer_highlighted(server, answerer, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--window-size=1000,1100"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    browser = webdriver.Chrome(options=options, service=service)
    try:
        browser.get(server + "/")
        context = CONTEXT + " <b>not bold</b>"  # typed text is shown as text, never as HTML
        browser.find_element(By.ID, "context").send_keys(context)
        browser.find_element(By.ID, "question").send_keys(QUESTION)
        browser.find_element(By.ID, "submit").click()
        WebDriverWait(browser, 60).until(
            expected_conditions.visibility_of_element_located((By.ID, "answer")))
        expected = answerer.answer(QUESTION, context, top_k=3)
        assert browser.find_element(By.ID, "answer").text == expected.text
        assert browser.find_element(By.CSS_SELECTOR, "#passage mark").text == expected.text
        assert "<b>not bold</b>" in browser.find_element(By.ID, "passage").text
        rows = browser.find_elements(By.CSS_SELECTOR, "#alternatives tr")
        assert len(rows) == 1 + len(expected.alternatives)
        browser.save_screenshot(str(tmp_path / "page.png"))
    finally:
        browser.quit()
