"""The HTTP application of `qa-serve` (FastAPI): POST /answer, GET /health, the web page at /,
and the OpenAPI description at /openapi.json (/docs renders it), which states every limit
below and every status the server answers.

Every error is a JSON body {"error": "one line"} with its status, never a 500 for a bad
request: 413 for a body over MAX_BODY_BYTES or a request over MAX_REQUEST_TOKENS tokens; 415
for a body that is not JSON; 422 for a body that is not JSON in UTF-8, a missing, wrong-typed
or unknown field, an empty question, a context longer than MAX_CONTEXT_CHARS or without
tokens, more than MAX_PAIRS pairs, top_k or min_confidence out of range; 503 when more than
`max_queue` requests are waiting. The server keeps serving after each.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException

from qa_experiments.data.splits import MAX_CONTEXT_CHARS
from qa_experiments.errors import UserError, one_line
from qa_experiments.inference.answerer import Answer, QuestionAnswerer, check_text
from qa_experiments.serving.batcher import Batcher, Busy, Disconnected

MAX_BODY_BYTES = 2 * 2**20
MAX_QUESTION_CHARS = 2_000
MAX_PAIRS = 32
MAX_TOP_K = 20
MAX_REQUEST_TOKENS = 32_768  # questions and contexts together, by the model's tokenizer
CHUNK_TOKENS = 4_096  # the work of one round of the batcher (about 10 windows of 384)


class Pair(BaseModel):
    """One question about one context."""

    model_config = ConfigDict(extra="forbid", strict=True)
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    context: str = Field(min_length=1, max_length=MAX_CONTEXT_CHARS)


def _one_or_a_batch_schema(schema: dict[str, Any]) -> None:
    """The published schema: question and context, or pairs, never null (the validator's
    rule, which pydantic cannot derive from optional fields)."""
    for name in ("question", "context", "pairs"):
        field = schema["properties"][name]
        (given,) = [choice for choice in field.pop("anyOf") if choice.get("type") != "null"]
        field.pop("default", None)
        field.update(given)
    schema["oneOf"] = [
        {"required": ["question", "context"], "not": {"required": ["pairs"]}},
        {"required": ["pairs"],
         "not": {"anyOf": [{"required": ["question"]}, {"required": ["context"]}]}},
    ]


class AnswerRequest(BaseModel):
    """One pair (`question` and `context`) or a batch (`pairs`), with the answer options."""

    model_config = ConfigDict(extra="forbid", strict=True,
                              json_schema_extra=_one_or_a_batch_schema)
    question: str | None = Field(default=None, min_length=1, max_length=MAX_QUESTION_CHARS)
    context: str | None = Field(default=None, min_length=1, max_length=MAX_CONTEXT_CHARS)
    pairs: list[Pair] | None = Field(default=None, min_length=1, max_length=MAX_PAIRS)
    top_k: int = Field(default=0, ge=0, le=MAX_TOP_K)
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def one_or_a_batch(self) -> AnswerRequest:
        given = self.model_fields_set & {"question", "context", "pairs"}
        null = sorted(name for name in given if getattr(self, name) is None)
        if null:
            raise ValueError(f"{null[0]} is null; give both question and context, or pairs")
        single = bool(given & {"question", "context"})
        if single == ("pairs" in given):
            raise ValueError("give question and context, or pairs: [{question, context}, ...]")
        if single and given != {"question", "context"}:
            raise ValueError("give both question and context")
        return self

    def as_pairs(self) -> list[tuple[str, str]]:
        if self.pairs is None:
            return [(self.question, self.context)]
        return [(pair.question, pair.context) for pair in self.pairs]


class SingleAnswer(BaseModel):
    answer: Answer


class BatchAnswers(BaseModel):
    answers: list[Answer]


class Health(BaseModel):
    status: str
    model: str
    version_2: bool
    calibrated: bool
    queued: int
    max_question_chars: int
    max_context_chars: int
    max_pairs: int
    max_request_tokens: int


class ErrorBody(BaseModel):
    """Every error: what was wrong, on one line."""

    error: str


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ANSWER_ERRORS = {
    413: _error(f"The body is over {MAX_BODY_BYTES} bytes, or the questions and contexts "
                f"over {MAX_REQUEST_TOKENS} tokens"),
    415: _error("The body is not sent as JSON (Content-Type: application/json)"),
    422: _error("The body is not JSON in UTF-8, or not a valid request (the reason says why)"),
    503: _error("The server is busy (more than its queue of requests waiting); retry later"),
}


class TooMuchWork(UserError):
    """A request over MAX_REQUEST_TOKENS tokens (HTTP 413)."""


class TokenCheck:
    """A request's tokens checked against the limits, counted by the model's tokenizer (a copy
    of its fast backend: the answering thread uses the original, and a tokenizer is not safe
    to share)."""

    def __init__(self, tokenizer):
        self.backend = copy.deepcopy(tokenizer.backend_tokenizer)
        self.backend.no_truncation()
        self.backend.no_padding()

    def __call__(self, pairs: list[tuple[str, str]], batch: bool) -> None:
        """UserError for a text without tokens, TooMuchWork past MAX_REQUEST_TOKENS."""
        encoded = self.backend.encode_batch([text for pair in pairs for text in pair],
                                            add_special_tokens=False)
        counts = [len(encoding.ids) for encoding in encoded]
        for i, name in enumerate(("question", "context") * len(pairs)):
            if not counts[i]:
                where = f" of pair {i // 2}" if batch else ""
                raise UserError(f"The {name}{where} has no tokens (only spaces, control or "
                                "zero-width characters); give text the model can read.")
        if sum(counts) > MAX_REQUEST_TOKENS:
            raise TooMuchWork(f"the request has {sum(counts)} tokens; at most "
                              f"{MAX_REQUEST_TOKENS} are answered per request: split it")


def create_app(answerer: QuestionAnswerer, *, batching: bool = True,
               window_s: float = 0.005, max_queue: int = 64) -> FastAPI:
    """The application answering with `answerer` (loaded once, before the server starts)."""
    batcher = Batcher(answerer, batching=batching, window_s=window_s,
                      chunk_tokens=CHUNK_TOKENS, max_jobs=max_queue)
    check_tokens = TokenCheck(answerer.run.tokenizer)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="qa-serve", summary="Extractive question answering with a model "
                  "trained by qa-experiments", lifespan=lifespan)
    app.add_middleware(JsonBody, limit=MAX_BODY_BYTES, paths=("/answer",))
    add_error_handlers(app)

    @app.post("/answer", response_model=SingleAnswer | BatchAnswers, responses=ANSWER_ERRORS)
    async def answer(body: AnswerRequest, request: Request) -> dict[str, Any]:
        """Answers to one question (`answer`) or to a batch of pairs (`answers`)."""
        pairs = body.as_pairs()
        for i, (question, context) in enumerate(pairs):
            where = f" of pair {i}" if body.pairs is not None else ""
            check_text("question", question, where)
            check_text("context", context, where, MAX_CONTEXT_CHARS)
        await asyncio.to_thread(check_tokens, pairs, body.pairs is not None)
        answers = await batcher.answer(pairs, body.top_k, body.min_confidence,
                                       request.is_disconnected)
        if body.pairs is None:
            return {"answer": answers[0].to_dict()}
        return {"answers": [a.to_dict() for a in answers]}

    @app.get("/health")
    async def health() -> Health:
        """Whether the server is up, what it serves, its queue and its limits."""
        return Health(status="ok", model=str(answerer.run.model_dir),
                      version_2=answerer.version_2, calibrated=answerer.calibrated,
                      queued=batcher.queued, max_question_chars=MAX_QUESTION_CHARS,
                      max_context_chars=MAX_CONTEXT_CHARS, max_pairs=MAX_PAIRS,
                      max_request_tokens=MAX_REQUEST_TOKENS)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")

    return app


def add_error_handlers(app: FastAPI) -> None:
    """Every error in the one form {"error": "one line"}, with its status."""

    def error(status: int, message: str, **headers: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        return error(422, describe(exc.errors()))

    @app.exception_handler(UserError)
    async def refused(request: Request, exc: UserError):
        return error(413 if isinstance(exc, TooMuchWork) else 422, one_line(exc))

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy):
        return error(503, one_line(exc), **{"Retry-After": "1"})

    @app.exception_handler(Disconnected)
    async def gone(request: Request, exc: Disconnected):
        return error(499, "the client closed the connection")  # nobody reads it; logged

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return error(exc.status_code, one_line(Exception(exc.detail)), **(exc.headers or {}))

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception):
        return error(500, f"the server failed ({type(exc).__name__}); see its log")


def describe(errors: list[dict[str, Any]]) -> str:
    """Pydantic's first validation error as one line: where, and what was wrong."""
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    if not where and first.get("type") in ("model_attributes_type", "dict_type", "missing"):
        return "the body must be a JSON object: {question, context} or {pairs: [...]}"
    reason = first.get("ctx", {}).get("error") if first.get("type") == "value_error" else None
    message = " ".join(str(reason or first.get("msg", "invalid request")).split())
    return f"{where}: {message}" if where else message


STOPPING = "the server stopped before answering (it was shut down); send the request again"


class JsonBody:
    """ASGI middleware for the JSON endpoints (`paths`): the whole body is read first and
    refused with the documented error when it is not JSON (415), over `limit` bytes, counted
    as it arrives, so that a wrong or missing Content-Length cannot get past it (413), or not
    valid JSON in UTF-8 (422); then the application reads it as sent."""

    def __init__(self, app, limit: int, paths: tuple[str, ...]):
        self.app, self.limit, self.paths = app, limit, paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] not in self.paths or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        started = False

        async def tracked(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            return await self._checked(scope, receive, tracked)
        except asyncio.CancelledError:
            # SIGTERM's grace period ended with this request unfinished (its body still
            # arriving, or its answer not ready): uvicorn cancels it, and would log a traceback
            # and answer 500. The client gets the 503 a stopping server gives instead.
            if not started:
                await _refuse(503, STOPPING, scope, receive, send)
            return None

    async def _checked(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media_type != b"application/json":
            return await _refuse(415, "send the body as JSON (Content-Type: application/json)",
                                 scope, receive, send)
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await _refuse(413, self.too_large, scope, receive, send)
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client left before sending it all
            body += message.get("body", b"")
            if len(body) > self.limit:
                return await _refuse(413, self.too_large, scope, receive, send)
            if not message.get("more_body", False):
                break
        problem = json_problem(bytes(body))
        if problem:
            return await _refuse(422, problem, scope, receive, send)
        return await self.app(scope, _replay(bytes(body), receive), send)

    @property
    def too_large(self) -> str:
        return f"the body is over {self.limit} bytes"


def json_problem(body: bytes) -> str | None:
    """Why `body` is not valid JSON in UTF-8, or None."""
    try:
        json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return "the body is not UTF-8 text"
    except RecursionError:
        return "the body's JSON is nested too deeply"
    except ValueError:
        return "the body is not valid JSON"
    return None


def _replay(body: bytes, receive):
    """An ASGI `receive` giving `body` once, then what the client sends (its disconnect)."""
    sent = False

    async def replayed():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _refuse(status: int, message: str, scope, receive, send) -> None:
    await JSONResponse({"error": message}, status_code=status)(scope, receive, send)
