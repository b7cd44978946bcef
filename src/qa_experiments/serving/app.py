"""The HTTP application of `qa-serve` (FastAPI): POST /answer, GET /health, the web page at /,
and the OpenAPI description at /openapi.json (/docs renders it).

A bad request gets a 4xx with a one-line reason in {"error": ...} (never a 500), and the
server keeps serving: a body that is not JSON or over MAX_BODY_BYTES, a missing or wrong-typed
field, an unknown field, an empty question, a context longer than the training data's limit,
too many pairs, top_k or min_confidence out of range.
"""

from __future__ import annotations

import contextlib
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from qa_experiments.data.splits import MAX_CONTEXT_CHARS
from qa_experiments.errors import UserError, one_line
from qa_experiments.inference.answerer import QuestionAnswerer, check_text
from qa_experiments.serving.batcher import Batcher

MAX_BODY_BYTES = 2 * 2**20
MAX_QUESTION_CHARS = 2_000
MAX_PAIRS = 32
MAX_TOP_K = 20


class Pair(BaseModel):
    """One question about one context."""

    model_config = ConfigDict(extra="forbid", strict=True)
    question: str = Field(max_length=MAX_QUESTION_CHARS)
    context: str = Field(max_length=MAX_CONTEXT_CHARS)


class AnswerRequest(BaseModel):
    """One pair (`question` and `context`) or a batch (`pairs`), with the answer options."""

    model_config = ConfigDict(extra="forbid", strict=True)
    question: str | None = Field(default=None, max_length=MAX_QUESTION_CHARS)
    context: str | None = Field(default=None, max_length=MAX_CONTEXT_CHARS)
    pairs: list[Pair] | None = Field(default=None, min_length=1, max_length=MAX_PAIRS)
    top_k: int = Field(default=0, ge=0, le=MAX_TOP_K)
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def one_or_a_batch(self) -> AnswerRequest:
        single = self.question is not None or self.context is not None
        if single == (self.pairs is not None):
            raise ValueError("give question and context, or pairs: [{question, context}, ...]")
        if single and (self.question is None or self.context is None):
            raise ValueError("give both question and context")
        return self

    def as_pairs(self) -> list[tuple[str, str]]:
        if self.pairs is None:
            return [(self.question, self.context)]
        return [(pair.question, pair.context) for pair in self.pairs]


def create_app(answerer: QuestionAnswerer, *, batching: bool = True,
               window_s: float = 0.005) -> FastAPI:
    """The application answering with `answerer` (loaded once, before the server starts)."""
    batcher = Batcher(answerer, batching=batching, window_s=window_s, max_pairs=MAX_PAIRS)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="qa-serve", summary="Extractive question answering with a model "
                  "trained by qa-experiments", lifespan=lifespan)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError):
        return JSONResponse({"error": describe(error.errors())}, status_code=422)

    @app.exception_handler(UserError)
    async def refused(request: Request, error: UserError):
        return JSONResponse({"error": one_line(error)}, status_code=422)

    @app.post("/answer")
    async def answer(request: AnswerRequest) -> dict[str, Any]:
        """Answers to one question (`answer`) or to a batch of pairs (`answers`)."""
        pairs = request.as_pairs()
        for i, (question, context) in enumerate(pairs):
            where = f" of pair {i}" if request.pairs is not None else ""
            check_text("question", question, where)
            check_text("context", context, where, MAX_CONTEXT_CHARS)
        answers = await batcher.answer(pairs, request.top_k, request.min_confidence)
        if request.pairs is None:
            return {"answer": answers[0].to_dict()}
        return {"answers": [a.to_dict() for a in answers]}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Whether the server is up, and what it serves."""
        return {"status": "ok", "model": str(answerer.run.model_dir),
                "version_2": answerer.version_2, "calibrated": answerer.calibrated,
                "max_context_chars": MAX_CONTEXT_CHARS, "max_pairs": MAX_PAIRS}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")

    return app


def describe(errors: list[dict[str, Any]]) -> str:
    """Pydantic's first validation error as one line: where, and what was wrong."""
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = " ".join(str(first.get("msg", "invalid request")).split())
    if first.get("type") == "json_invalid":
        return "the body is not valid JSON"
    return f"{where}: {message}" if where else message


class BodyLimit:
    """ASGI middleware: 413 for a request body over `limit` bytes, counted as it arrives (a
    wrong or missing Content-Length cannot get past it)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise BodyTooLarge
            return message

        try:
            return await self.app(scope, counted, send)
        except BodyTooLarge:
            return await self._refuse(scope, receive, send)

    async def _refuse(self, scope, receive, send) -> None:
        response = JSONResponse({"error": f"the body is over {self.limit} bytes"},
                                status_code=413)
        await response(scope, receive, send)


class BodyTooLarge(Exception):
    """A request body grew past the limit while it arrived."""
