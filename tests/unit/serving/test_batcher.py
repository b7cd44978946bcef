"""chunks: a request's pairs cut into the batcher's units of work, in order."""

from qa_experiments.serving.batcher import chunks

PAIRS = [("q0", "c0"), ("q1", "c1"), ("q2", "c2"), ("q3", "c3")]


def test_pairs_are_grouped_in_order_up_to_the_token_limit():
    assert list(chunks(PAIRS, [300, 300, 500, 100], limit=600)) == [
        ([("q0", "c0"), ("q1", "c1")], 600), ([("q2", "c2"), ("q3", "c3")], 600)]


def test_a_pair_over_the_limit_is_a_chunk_of_its_own():
    assert list(chunks(PAIRS, [100, 5000, 100, 100], limit=600)) == [
        ([("q0", "c0")], 100), ([("q1", "c1")], 5000), ([("q2", "c2"), ("q3", "c3")], 200)]
