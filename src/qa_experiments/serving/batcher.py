"""The fair scheduler between HTTP requests and the model.

One worker task owns the model. A request becomes a job; each round of the worker takes the
waiting jobs in arrival order and gives each the next windows of its pairs (cut into windows
by `QuestionAnswerer.prepare` at its first round), up to `chunk_tokens` tokens in the round
(the first job at least one window), and runs them through the model together
(`QuestionAnswerer.predict`); a job whose windows all have their logits is decoded
(`QuestionAnswerer.decode`) and answered, one with windows left goes to the back of the queue.
So a long request, even a single pair with a long context, never holds back a short one for
more than a round; a job whose client disconnected is dropped before its next windows, and a
job past `max_jobs` waiting is refused at once (Busy). The rounds run `answer_batch`'s own
stages, so a request gets the answers `answer_batch` gives it (exactly so for an ONNX export,
whose windows run one by one; with a PyTorch model the windows batched together differ, which
may change logits in the last bits, as when requests shared a batch before). With
`batching=False` each round serves one job (the unbatched baseline of
benchmarks/serve_load.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from qa_experiments.inference.answerer import Answer, Pending, QuestionAnswerer

logger = logging.getLogger(__name__)
Pair = tuple[str, str]


class Busy(Exception):
    """The queue is full: the request is refused rather than left waiting (HTTP 503)."""


class Disconnected(Exception):
    """The client went away before its answers were ready; its remaining work was dropped."""


@dataclass
class _Job:
    pairs: list[Pair]
    options: tuple[int, float | None]  # top_k, min_confidence
    disconnected: Callable[[], Awaitable[bool]] = field(repr=False)
    future: asyncio.Future = field(repr=False)
    pending: Pending | None = None  # its windows, once prepared


def windows_within(tokens: list[int], budget: int, at_least_one: bool) -> int:
    """How many of the next windows (`tokens`: each one's tokens, in order) fit in `budget`
    tokens; one at least when `at_least_one` and there is one."""
    count = used = 0
    for size in tokens:
        if used + size > budget and not (at_least_one and count == 0):
            break
        count, used = count + 1, used + size
    return count


class Batcher:
    """Answers requests through one worker task (see the module docstring)."""

    def __init__(self, answerer: QuestionAnswerer, *, batching: bool = True,
                 window_s: float = 0.005, chunk_tokens: int = 4096, max_jobs: int = 64):
        self.answerer = answerer
        self.batching = batching
        self.window_s = window_s if batching else 0.0
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

    async def answer(self, pairs: list[Pair], top_k: int, min_confidence: float | None,
                     disconnected: Callable[[], Awaitable[bool]]) -> list[Answer]:
        """The answers to `pairs`; Busy when the queue is full, Disconnected when
        `disconnected()` says the client left meanwhile."""
        if self.queued >= self.max_jobs:
            raise Busy(f"the server is busy ({self.queued} requests queued); try again later")
        job = _Job(pairs, (top_k, min_confidence), disconnected,
                   asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self._wake.set()
        return await job.future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self.window_s:
                await asyncio.sleep(self.window_s)
            round_ = await self._next_round()
            self._in_round = len(round_)
            try:
                if round_:
                    await self._answer(round_)
            finally:
                self._in_round = 0
            self._jobs.extend(job for job, _ in round_ if not job.future.done())
            if not self._jobs:
                self._wake.clear()

    async def _next_round(self) -> list[tuple[_Job, int]]:
        """The jobs of this round with how many windows each gets (see the module
        docstring), taken off the queue; jobs whose client left are dropped, and a job is
        prepared (cut into windows) when first reached."""
        round_: list[tuple[_Job, int]] = []
        budget = self.chunk_tokens
        for job in list(self._jobs):
            if round_ and not self.batching:
                break
            if not await self._live(job) or not await self._prepared(job):
                continue
            pending = job.pending
            count = windows_within(
                pending.window_tokens[pending.predicted:].tolist(), budget, not round_)
            if count == 0 and pending.windows_left:
                continue  # its next window does not fit: first in the next round
            self._jobs.remove(job)
            round_.append((job, count))
            budget -= int(pending.window_tokens[pending.predicted:][:count].sum())
        return round_

    async def _live(self, job: _Job) -> bool:
        """Whether `job` is still wanted; else it is taken off the queue."""
        if job.future.done():  # its handler was cancelled (the server is stopping)
            self._jobs.remove(job)
            return False
        if await job.disconnected():
            self._jobs.remove(job)
            if job.pending is None:
                logger.info("a client left: its request dropped before its windows were made")
            else:
                logger.info("a client left: %d windows of its request dropped",
                            job.pending.windows_left)
            job.future.set_exception(Disconnected())
            return False
        return True

    async def _prepared(self, job: _Job) -> bool:
        """Cut `job`'s pairs into windows if not yet done; False (the job answered with the
        error and taken off the queue) when its pairs or options are refused."""
        if job.pending is not None:
            return True
        top_k, min_confidence = job.options
        try:
            job.pending = await asyncio.to_thread(self.answerer.prepare, job.pairs,
                                                  top_k=top_k, min_confidence=min_confidence)
        except Exception as error:
            self._jobs.remove(job)
            if not job.future.done():
                job.future.set_exception(error)
            return False
        return True

    async def _answer(self, round_: list[tuple[_Job, int]]) -> None:
        """Predict the round's windows together and answer the jobs that have all theirs;
        when the prediction fails (nothing of it is kept), each job alone, so that one
        request's error is not another's."""
        try:
            outcomes = await asyncio.to_thread(self._step, round_)
        except Exception as error:
            if len(round_) > 1:
                for part in round_:
                    await self._answer([part])
            elif not round_[0][0].future.done():
                round_[0][0].future.set_exception(error)
            return
        for job, outcome in outcomes:
            if job.future.done():  # its handler was cancelled
                continue
            if isinstance(outcome, Exception):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)

    def _step(self, round_: list[tuple[_Job, int]]
              ) -> list[tuple[_Job, list[Answer] | Exception]]:
        """One round's model work (in a worker thread): the logits of its windows, then the
        answers (or the error) of each job that has all its windows."""
        self.answerer.predict([(job.pending, count) for job, count in round_])
        outcomes: list[tuple[_Job, list[Answer] | Exception]] = []
        for job, _ in round_:
            if not job.pending.windows_left:
                try:
                    outcomes.append((job, self.answerer.decode(job.pending)))
                except Exception as error:
                    outcomes.append((job, error))
        return outcomes
