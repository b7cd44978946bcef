"""The fair scheduler between HTTP requests and the model.

One worker task owns the model. A request becomes a job: its question/context pairs cut into
chunks of at most `chunk_tokens` tokens (a pair longer than that is a chunk of its own). Each
round answers one chunk of each waiting job with the same options (top_k, min_confidence), in
arrival order, up to `chunk_tokens` tokens and `max_pairs` pairs, after waiting `window_s` for
more requests to arrive; a job with chunks left goes to the back of the queue. So a long
request never holds back a short one for more than a round, a job whose client disconnected is
dropped before its next chunk, and a job past `max_jobs` waiting is refused at once (Busy).
With `batching=False` each round is one chunk of one job (the unbatched baseline of
benchmarks/serve_load.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from qa_experiments.inference.answerer import Answer, QuestionAnswerer

logger = logging.getLogger(__name__)
Pair = tuple[str, str]
Chunk = tuple[list[Pair], int]  # pairs, their tokens


class Busy(Exception):
    """The queue is full: the request is refused rather than left waiting (HTTP 503)."""


class Disconnected(Exception):
    """The client went away before its answers were ready; its remaining work was dropped."""


@dataclass
class _Job:
    chunks: deque[Chunk]
    options: tuple[int, float | None]  # top_k, min_confidence
    disconnected: Callable[[], Awaitable[bool]] = field(repr=False)
    future: asyncio.Future = field(repr=False)
    answers: list[Answer] = field(default_factory=list)


def chunks(pairs: list[Pair], tokens: list[int], limit: int) -> deque[Chunk]:
    """`pairs` in order, grouped into runs of at most `limit` tokens (a longer pair alone),
    each with its token count."""
    groups: deque[Chunk] = deque()
    for pair, count in zip(pairs, tokens, strict=True):
        if groups and groups[-1][1] + count <= limit:
            groups[-1] = (groups[-1][0] + [pair], groups[-1][1] + count)
        else:
            groups.append(([pair], count))
    return groups


class Batcher:
    """Answers requests through one worker task (see the module docstring)."""

    def __init__(self, answerer: QuestionAnswerer, *, batching: bool = True,
                 window_s: float = 0.005, max_pairs: int = 32, chunk_tokens: int = 4096,
                 max_jobs: int = 64):
        self.answerer = answerer
        self.batching = batching
        self.window_s = window_s if batching else 0.0
        self.max_pairs = max_pairs
        self.chunk_tokens = chunk_tokens
        self.max_jobs = max_jobs
        self._jobs: deque[_Job] = deque()
        self._in_round = 0
        self._wake = asyncio.Event()
        self._worker: asyncio.Task | None = None

    @property
    def queued(self) -> int:
        """Requests waiting or being answered."""
        return len(self._jobs) + self._in_round

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    async def answer(self, pairs: list[Pair], tokens: list[int], top_k: int,
                     min_confidence: float | None,
                     disconnected: Callable[[], Awaitable[bool]]) -> list[Answer]:
        """The answers to `pairs` (`tokens`: each pair's token count); Busy when the queue
        is full, Disconnected when `disconnected()` says the client left meanwhile."""
        if self.queued >= self.max_jobs:
            raise Busy(f"the server is busy ({self.queued} requests queued); try again later")
        job = _Job(chunks(pairs, tokens, self.chunk_tokens), (top_k, min_confidence),
                   disconnected, asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self._wake.set()
        return await job.future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self.window_s:
                await asyncio.sleep(self.window_s)
            batch = await self._next_round()
            self._in_round = len(batch)
            try:
                if batch:
                    await self._answer(batch)
            finally:
                self._in_round = 0
            self._jobs.extend(job for job in batch if job.chunks and not job.future.done())
            if not self._jobs:
                self._wake.clear()

    async def _next_round(self) -> list[_Job]:
        """The oldest live job and, when batching, the next ones with its options whose next
        chunk fits; taken off the queue (jobs whose client left are dropped)."""
        batch: list[_Job] = []
        pairs = tokens = 0
        for job in list(self._jobs):
            if batch and (not self.batching or job.options != batch[0].options):
                continue
            if job.future.done():  # its handler was cancelled (the server is stopping)
                self._jobs.remove(job)
                continue
            if await job.disconnected():
                self._jobs.remove(job)
                logger.info("a client left: %d chunks of its request dropped", len(job.chunks))
                job.future.set_exception(Disconnected())
                continue
            part, size = job.chunks[0]
            if batch and (pairs + len(part) > self.max_pairs or tokens + size > self.chunk_tokens):
                continue
            self._jobs.remove(job)
            batch.append(job)
            pairs, tokens = pairs + len(part), tokens + size
        return batch

    async def _answer(self, batch: list[_Job]) -> None:
        """Answer the next chunk of each job together; when that fails, each alone, so that
        one request's error is not another's."""
        parts = [job.chunks[0][0] for job in batch]
        top_k, min_confidence = batch[0].options
        try:
            answers: Any = await asyncio.to_thread(
                self.answerer.answer_batch, [p for part in parts for p in part],
                top_k=top_k, min_confidence=min_confidence)
        except Exception as error:
            if len(batch) > 1:
                for job in batch:
                    await self._answer([job])
            elif not batch[0].future.done():
                batch[0].future.set_exception(error)
            return
        start = 0
        for job, part in zip(batch, parts, strict=True):
            job.chunks.popleft()
            job.answers.extend(answers[start:start + len(part)])
            start += len(part)
            if not job.chunks and not job.future.done():  # done: its handler was cancelled
                job.future.set_result(job.answers)
