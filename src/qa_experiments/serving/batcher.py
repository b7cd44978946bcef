"""Group concurrent answer requests into one model call.

One worker task owns the model: requests queue up, and each round answers every queued request
with the same options (top_k, min_confidence) together, up to `max_pairs` question/context
pairs, after waiting `window_s` for more to arrive. With `batching=False` each request is a
round of its own (the unbatched baseline of benchmarks/serve_load.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from qa_experiments.inference.answerer import Answer, QuestionAnswerer


@dataclass
class _Request:
    pairs: list[tuple[str, str]]
    options: tuple[int, float | None]  # top_k, min_confidence
    future: asyncio.Future = field(repr=False)


class Batcher:
    """Answers requests through one worker task (see the module docstring)."""

    def __init__(self, answerer: QuestionAnswerer, *, batching: bool = True,
                 window_s: float = 0.005, max_pairs: int = 32):
        self.answerer = answerer
        self.batching = batching
        self.window_s = window_s if batching else 0.0
        self.max_pairs = max_pairs
        self._pending: list[_Request] = []
        self._wake = asyncio.Event()
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    async def answer(self, pairs: list[tuple[str, str]], top_k: int,
                     min_confidence: float | None) -> list[Answer]:
        request = _Request(pairs, (top_k, min_confidence),
                           asyncio.get_running_loop().create_future())
        self._pending.append(request)
        self._wake.set()
        return await request.future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self.window_s:
                await asyncio.sleep(self.window_s)
            batch = self._next_batch()
            if not self._pending:
                self._wake.clear()
            await self._answer(batch)

    def _next_batch(self) -> list[_Request]:
        """The oldest request and, when batching, the queued ones with its options that fit."""
        first = self._pending.pop(0)
        batch, size = [first], len(first.pairs)
        for request in list(self._pending) if self.batching else []:
            if request.options == first.options and size + len(request.pairs) <= self.max_pairs:
                self._pending.remove(request)
                batch.append(request)
                size += len(request.pairs)
        return batch

    async def _answer(self, batch: list[_Request]) -> None:
        top_k, min_confidence = batch[0].options
        pairs = [pair for request in batch for pair in request.pairs]
        try:
            answers: Any = await asyncio.to_thread(
                self.answerer.answer_batch, pairs, top_k=top_k, min_confidence=min_confidence)
        except Exception as error:  # handed to each waiting request (the server answers 4xx/500)
            for request in batch:
                request.future.set_exception(error)
            return
        start = 0
        for request in batch:
            request.future.set_result(answers[start:start + len(request.pairs)])
            start += len(request.pairs)
