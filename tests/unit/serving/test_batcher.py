"""The batcher's rounds: a request's windows in parts of at most `chunk_tokens` tokens, the
waiting requests taking turns, so that a short request sent while a long one is being answered
is answered first (seen in the batcher's own rounds, not in timings)."""

from __future__ import annotations

import asyncio
import math

from qa_experiments.inference.answerer import QuestionAnswerer
from qa_experiments.serving.batcher import Batcher, windows_within

TEXT = ("The book was written by Jane Austen in 1813 and published in London. Ada Lovelace "
        "wrote the first program for the Analytical Engine. Paris is the capital of France. ")
LONG = [("Who wrote the book?", TEXT * 500)]  # one pair, 88,000 characters: many rounds
SHORT = [("Where is Paris?", "Paris is the capital of France.")]


def test_windows_fit_the_budget_and_the_first_of_a_round_gets_one_at_least():
    assert windows_within([300, 300, 500], budget=600, at_least_one=True) == 2
    assert windows_within([700, 100], budget=600, at_least_one=True) == 1
    assert windows_within([700, 100], budget=600, at_least_one=False) == 0
    assert windows_within([100, 100], budget=600, at_least_one=False) == 2
    assert windows_within([], budget=600, at_least_one=True) == 0


async def connected() -> bool:
    return False


def serve(answerer, submit_during_first_round):
    """Answer LONG, and SHORT submitted from inside the first round's model call; the
    requests in the order they were answered, each round's (request, windows) and the
    answers."""
    rounds: list[list[tuple[str, int, int]]] = []  # (request, windows, their tokens)
    finished: list[str] = []
    answers: dict[str, list] = {}

    async def scenario():
        loop = asyncio.get_running_loop()
        late = []

        class Recording(QuestionAnswerer):
            def predict(self, work):
                rounds.append([(names[id(pending)], count, int(sum(pending.window_tokens[
                    pending.predicted:pending.predicted + count]))) for pending, count in work])
                if len(rounds) == 1 and submit_during_first_round:
                    late.append(asyncio.run_coroutine_threadsafe(submit("short", SHORT), loop))
                super().predict(work)

            def prepare(self, pairs, **options):
                pending = super().prepare(pairs, **options)
                names[id(pending)] = "long" if pairs == LONG else "short"
                return pending

        names: dict[int, str] = {}
        batcher = Batcher(Recording(answerer.run), window_s=0.0, chunk_tokens=4096)
        batcher.start()

        async def submit(name, pairs):
            answers[name] = await batcher.answer(pairs, 0, None, connected)
            finished.append(name)

        await submit("long", LONG)
        for future in late:
            await asyncio.wrap_future(future)
        await batcher.stop()

    asyncio.run(scenario())
    return finished, rounds, answers


def test_a_short_request_sent_while_a_long_context_is_answered_is_answered_first(answerer):
    finished, rounds, answers = serve(answerer, submit_during_first_round=True)
    assert finished == ["short", "long"]
    long_rounds = [i for i, work in enumerate(rounds) if any(n == "long" for n, *_ in work)]
    (short_round,) = [i for i, work in enumerate(rounds) if any(n == "short" for n, *_ in work)]
    assert len(long_rounds) >= 3 and long_rounds[0] < short_round < long_rounds[-1], rounds
    assert sum(count for work in rounds for name, count, _ in work if name == "long") \
        == answerer.prepare(LONG).windows_left
    assert all(sum(tokens for *_, tokens in work) <= 4096 for work in rounds), rounds
    assert len(answers["short"]) == 1 and len(answers["long"]) == 1


def test_a_long_context_alone_is_answered_in_rounds_as_answer_batch_answers_it(answerer):
    finished, rounds, answers = serve(answerer, submit_during_first_round=False)
    assert finished == ["long"] and len(rounds) >= 3
    (served,), (alone,) = answers["long"], answerer.answer_batch(LONG)
    # Other batches of the same windows: the same span, logits equal but for the last bits.
    assert (served.text, served.start, served.end) == (alone.text, alone.start, alone.end)
    assert math.isclose(served.probability, alone.probability, rel_tol=1e-4)
