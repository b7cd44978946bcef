"""Tests for qa_experiments.scoring.squad_metric and the bundled SQuAD evaluate modules."""

from __future__ import annotations

import random
import socket

import pytest

from qa_experiments.scoring.squad_metric import (
    exact_match,
    normalize_answer,
    score_squad,
    score_squad_v2,
    token_f1,
    token_f1_v1,
)

# --------------------------------------------------------------------------- #
# normalisation
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The  Eiffel\tTower!", "eiffel tower"),  # case, article, punctuation, whitespace
        ("A cat, an apple & the dog.", "cat apple dog"),
        ("theater of the absurd", "theater of absurd"),  # "the" only as a whole word
        ("Anna and a man", "anna and man"),
        ("the-end", "theend"),  # punctuation goes first, so "the" is glued on
        ("U.S.A.", "usa"),
        ("  \n the \t ", ""),
        ("", ""),
        ("Don't   STOP", "dont stop"),
        ("1,000–2,000", "1000–2000"),  # only ASCII punctuation is removed
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_exact_match() -> None:
    assert exact_match("The Eiffel Tower.", "eiffel   tower") == 1.0
    assert exact_match("Eiffel", "Eiffel Tower") == 0.0
    assert exact_match("", "the") == 1.0  # both normalise to ""
    assert isinstance(exact_match("a", "b"), float)


# --------------------------------------------------------------------------- #
# token F1, worked by hand
# --------------------------------------------------------------------------- #


def test_token_f1_partial_overlap() -> None:
    # pred -> [quick, brown, fox] (3), gold -> [quick, fox, jumps, over] (4)
    # common = {quick, fox} = 2; P = 2/3, R = 2/4; F1 = 2PR/(P+R) = (2/3)/(7/6) = 4/7
    assert token_f1("The quick brown fox", "a quick fox jumps over") == pytest.approx(4 / 7)
    # pred [new, york, city] vs gold [city, of, new, york]: common 3; P = 1, R = 3/4 -> 6/7
    assert token_f1("New York City", "city of New York") == pytest.approx(6 / 7)


def test_token_f1_counts_repeated_tokens_once_per_match() -> None:
    # pred [paris, paris, paris] vs gold [paris]: common = min(3, 1) = 1; P = 1/3, R = 1 -> 1/2
    assert token_f1("Paris, Paris, Paris", "paris") == pytest.approx(0.5)


def test_token_f1_no_overlap_and_identity() -> None:
    assert token_f1("blue whale", "red fox") == 0.0
    assert token_f1("The Blue Whale!", "blue whale") == 1.0


def test_token_f1_empty_rule() -> None:
    # v2 rule: if either side has no tokens, F1 = 1 iff both are empty
    assert token_f1("", "") == 1.0
    assert token_f1("the", "a .") == 1.0  # both normalise to ""
    assert token_f1("", "Paris") == 0.0
    assert token_f1("Paris", "") == 0.0
    assert token_f1("an", "Paris") == 0.0


# --------------------------------------------------------------------------- #
# score_squad (v1.1)
# --------------------------------------------------------------------------- #


def test_score_squad_max_over_gold_answers() -> None:
    refs = {"q": ["a quick fox jumps over", "brown fox", "dog"]}
    # F1 vs each gold: 4/7, then [quick, brown, fox] vs [brown, fox]: P = 2/3, R = 1 -> 4/5, then 0
    # EM: no gold matches -> 0
    result = score_squad({"q": "quick brown fox"}, refs)
    assert result == pytest.approx({"exact_match": 0.0, "f1": 80.0})
    # adding an exactly matching gold answer anywhere in the list gives 100/100
    refs["q"].append("Quick brown fox!")
    assert score_squad({"q": "quick brown fox"}, refs) == {"exact_match": 100.0, "f1": 100.0}


def test_score_squad_average_and_missing_predictions() -> None:
    refs = {"q1": ["Paris"], "q2": ["1976", "in 1976"], "q3": ["blue whale"], "q4": ["x"]}
    preds = {"q1": "paris", "q2": "1976.", "q3": "the whale", "not-a-question": "ignored"}
    # q1: EM 1, F1 1; q2: EM 1, F1 1; q3: [whale] vs [blue, whale]: EM 0, P 1, R 1/2 -> F1 2/3;
    # q4: no prediction -> 0, 0.   EM = 2/4 = 50 %, F1 = (1 + 1 + 2/3 + 0) / 4 = 2/3 -> 66.67 %
    result = score_squad(preds, refs)
    assert set(result) == {"exact_match", "f1"}
    assert result["exact_match"] == pytest.approx(50.0)
    assert result["f1"] == pytest.approx(200 / 3)


def test_score_squad_rejects_bad_references() -> None:
    with pytest.raises(ValueError, match="empty"):
        score_squad({}, {})
    with pytest.raises(ValueError, match="score_squad_v2"):
        score_squad({"q": "x"}, {"q": []})


def test_score_squad_empty_prediction_vs_punctuation_gold() -> None:
    # As the official v1.1 script: an empty prediction and a gold answer that normalises to ""
    # (dev-v1.1 has three "." golds) are an exact match but share no token, so F1 0.
    assert score_squad({"q": ""}, {"q": [".", "Paris"]}) == {"exact_match": 100.0, "f1": 0.0}


def test_token_f1_v1_scores_no_shared_token_zero() -> None:
    assert token_f1_v1("", "") == 0.0 and token_f1_v1("the", ".") == 0.0
    assert token_f1_v1("", "Paris") == 0.0
    assert token_f1_v1("The quick brown fox", "a quick fox jumps over") == pytest.approx(4 / 7)


# --------------------------------------------------------------------------- #
# score_squad_v2
# --------------------------------------------------------------------------- #

V2_REFERENCES = {
    "a1": ["Denver Broncos", "the Broncos"],
    "a2": ["1976"],
    "a3": ["blue whale"],
    "n1": [],
    "n2": [],
}
V2_PREDICTIONS = {
    "a1": "Broncos",  # == "the Broncos" after normalisation: EM 1, F1 1
    "a2": "",  # abstains on an answerable question: EM 0, F1 0
    # [blue, whale, species] vs [blue, whale]: P 2/3, R 1 -> F1 0.8, EM 0
    "a3": "the blue whale species",
    "n1": "",  # correctly abstains: EM 1, F1 1
    "n2": "some answer",  # answers an unanswerable question: EM 0, F1 0
}
# HasAns (a1-a3): EM 1/3 = 33.33 %, F1 (1 + 0 + 0.8) / 3 = 60 %
# NoAns  (n1-n2): EM 1/2 = 50 %,    F1 1/2 = 50 %
# all five:       EM 2/5 = 40 %,    F1 (1 + 0 + 0.8 + 1 + 0) / 5 = 56 %
V2_EXPECTED = {
    "exact_match": 40.0,
    "f1": 56.0,
    "total": 5,
    "HasAns_exact_match": 100 / 3,
    "HasAns_f1": 60.0,
    "HasAns_total": 3,
    "NoAns_exact_match": 50.0,
    "NoAns_f1": 50.0,
    "NoAns_total": 2,
}


def test_score_squad_v2_breakdown() -> None:
    result = score_squad_v2(V2_PREDICTIONS, V2_REFERENCES)
    assert result == pytest.approx(V2_EXPECTED)
    assert set(result) == set(V2_EXPECTED)
    assert all(isinstance(result[k], int) for k in ("total", "HasAns_total", "NoAns_total"))


def test_score_squad_v2_empty_vs_empty_and_nonempty() -> None:
    assert score_squad_v2({"n": ""}, {"n": []}) == {
        "exact_match": 100.0,
        "f1": 100.0,
        "total": 1,
        "NoAns_exact_match": 100.0,
        "NoAns_f1": 100.0,
        "NoAns_total": 1,
    }
    assert score_squad_v2({"n": "the ."}, {"n": []})["f1"] == 100.0  # normalises to ""
    assert score_squad_v2({"n": "Paris"}, {"n": []})["f1"] == 0.0
    assert score_squad_v2({"a": ""}, {"a": ["Paris"]})["f1"] == 0.0


def test_score_squad_v2_omits_empty_groups() -> None:
    only_has = score_squad_v2({"a": "Paris"}, {"a": ["Paris"]})
    assert set(only_has) == {
        "exact_match",
        "f1",
        "total",
        "HasAns_exact_match",
        "HasAns_f1",
        "HasAns_total",
    }
    only_no = score_squad_v2({"n": ""}, {"n": []})
    assert set(only_no) == {
        "exact_match",
        "f1",
        "total",
        "NoAns_exact_match",
        "NoAns_f1",
        "NoAns_total",
    }


def test_score_squad_v2_drops_golds_that_normalise_to_nothing() -> None:
    # As in evaluate-v2.0.py: the "." gold is dropped, so "" is scored against ["Paris"] only ...
    result = score_squad_v2({"q": ""}, {"q": [".", "Paris"]})
    assert (result["exact_match"], result["f1"], result["HasAns_total"]) == (0.0, 0.0, 1)
    # ... and a question whose only golds normalise to nothing is scored against [""] but is
    # still counted as HasAns (that follows the raw answer list).
    result = score_squad_v2({"q": ""}, {"q": ["."]})
    assert (result["exact_match"], result["f1"], result["HasAns_total"]) == (100.0, 100.0, 1)
    assert "NoAns_total" not in result


def test_score_squad_v2_missing_prediction_counts_as_zero() -> None:
    preds = dict(V2_PREDICTIONS)
    del preds["n1"]  # was EM 1 / F1 1
    result = score_squad_v2(preds, V2_REFERENCES)
    assert result["total"] == 5
    assert result["exact_match"] == pytest.approx(20.0)  # 1/5
    assert result["NoAns_exact_match"] == pytest.approx(0.0)
    assert result["NoAns_total"] == 2


# --------------------------------------------------------------------------- #
# agreement with an independent implementation (torchmetrics)
# --------------------------------------------------------------------------- #

_VOCAB = [
    "the", "The", "THE", "a", "A", "an", "An", "theater", "another", "Anna",
    "paris", "Paris", "tower", "Tower", "eiffel", "1976", "1,000", "U.S.", "don't",
    "new", "york", "city", "of", "blue", "whale", "e-mail", "the-end", "café",
    ",", ".", "!", "?", "(", ")", "'s", "--", "–", "\"",
]  # fmt: skip
_SEPARATORS = [" ", " ", " ", "  ", "\t", "\n", ""]


def _random_text(rng: random.Random, max_tokens: int = 5) -> str:
    n = rng.randint(0, max_tokens)
    parts = []
    for _ in range(n):
        parts.append(rng.choice(_VOCAB))
        parts.append(rng.choice(_SEPARATORS))
    return "".join(parts).strip() if rng.random() < 0.8 else "".join(parts)


def _perturb(rng: random.Random, text: str) -> str:
    """A near-copy of ``text``: case change, stray article or punctuation, or a dropped token."""
    choice = rng.randrange(5)
    if choice == 0:
        return text.upper()
    if choice == 1:
        return rng.choice(["the ", "A ", "an  "]) + text
    if choice == 2:
        return text + rng.choice([".", "!", " ,", "'s"])
    if choice == 3:
        tokens = text.split()
        if tokens:
            tokens.pop(rng.randrange(len(tokens)))
        return " ".join(tokens + [rng.choice(_VOCAB)])
    return text


def _random_dataset(
    seed: int = 1234, size: int = 300
) -> tuple[dict[str, str], dict[str, list[str]]]:
    rng = random.Random(seed)
    preds: dict[str, str] = {}
    refs: dict[str, list[str]] = {}
    for i in range(size):
        qid = f"q{i:04d}"
        refs[qid] = [_random_text(rng) for _ in range(rng.randint(1, 3))]
        r = rng.random()
        if r < 0.05:
            continue  # no prediction for this question
        if r < 0.55:
            preds[qid] = _perturb(rng, rng.choice(refs[qid]))
        else:
            preds[qid] = _random_text(rng)
    return preds, refs


def _torchmetrics_squad(preds: dict[str, str], refs: dict[str, list[str]]) -> dict[str, float]:
    import torch
    from torchmetrics.functional.text import squad

    tm_preds = [{"id": qid, "prediction_text": text} for qid, text in preds.items()]
    tm_target = [
        {"id": qid, "answers": {"text": golds, "answer_start": [0] * len(golds)}}
        for qid, golds in refs.items()
    ]
    # torchmetrics accumulates in the default float dtype; float64 makes a 1e-6 check meaningful
    old_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        out = squad(tm_preds, tm_target)
    finally:
        torch.set_default_dtype(old_dtype)
    return {key: float(value) for key, value in out.items()}


def test_random_dataset_exercises_normalisation() -> None:
    preds, refs = _random_dataset()
    ems = [max(exact_match(preds[q], g) for g in refs[q]) for q in preds]
    f1s = [max(token_f1(preds[q], g) for g in refs[q]) for q in preds]
    raw_equal = sum(preds[q] in refs[q] for q in preds)
    assert sum(ems) > raw_equal + 30  # many matches only after normalisation
    assert sum(0 < f < 1 for f in f1s) > 30  # plenty of partial overlaps
    # answers that are empty after normalisation
    assert sum(normalize_answer(p) == "" for p in preds.values()) > 10
    assert len(preds) < len(refs)  # some questions without a prediction


def _official_v1_scores(preds: dict[str, str], refs: dict[str, list[str]]) -> dict[str, float]:
    """The algorithm of the official evaluate-v1.1.py, written out independently: max over
    gold answers of EM and of token F1, whose shared-token count of 0 scores 0; an unanswered
    question scores 0."""
    from collections import Counter

    def f1(prediction, gold):
        p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
        same = sum((Counter(p) & Counter(g)).values())
        return 0.0 if same == 0 else 2 * same / (len(p) + len(g))

    em = f1_total = 0.0
    for qid, golds in refs.items():
        if qid in preds:
            em += max(normalize_answer(preds[qid]) == normalize_answer(g) for g in golds)
            f1_total += max(f1(preds[qid], g) for g in golds)
    return {"exact_match": 100 * em / len(refs), "f1": 100 * f1_total / len(refs)}


def test_agrees_with_the_official_v1_algorithm() -> None:
    preds, refs = _random_dataset()
    assert sum(normalize_answer(p) == "" for p in preds.values()) > 10  # the rule is exercised
    assert score_squad(preds, refs) == pytest.approx(_official_v1_scores(preds, refs), abs=1e-9)


def _without_empty_matches(preds, refs):
    """The questions where the v1.1 and v2.0 F1 rules agree: torchmetrics follows v2.0, which
    scores a prediction and a gold answer that both normalise to nothing F1 1 (v1.1: 0)."""
    kept = {q for q in refs
            if not (q in preds and normalize_answer(preds[q]) == ""
                    and any(normalize_answer(g) == "" for g in refs[q]))}
    return ({q: p for q, p in preds.items() if q in kept}, {q: refs[q] for q in kept})


@pytest.mark.filterwarnings("ignore:Unanswered question")
def test_agrees_with_torchmetrics_aggregate() -> None:
    preds, refs = _without_empty_matches(*_random_dataset())
    ours = score_squad(preds, refs)
    theirs = _torchmetrics_squad(preds, refs)
    assert ours["exact_match"] == pytest.approx(theirs["exact_match"], abs=1e-6)
    assert ours["f1"] == pytest.approx(theirs["f1"], abs=1e-6)


def test_agrees_with_torchmetrics_per_question() -> None:
    preds, refs = _without_empty_matches(*_random_dataset(seed=99, size=200))
    for qid, pred in preds.items():
        ours = score_squad({qid: pred}, {qid: refs[qid]})
        theirs = _torchmetrics_squad({qid: pred}, {qid: refs[qid]})
        assert ours == pytest.approx(theirs, abs=1e-6), (pred, refs[qid])


def test_v2_matches_v1_on_answerable_questions() -> None:
    preds, refs = _random_dataset(seed=7)
    # keep questions whose golds all have tokens, where the two scorers must agree
    refs = {q: g for q, g in refs.items() if all(normalize_answer(x) for x in g)}
    v1 = score_squad(preds, refs)
    v2 = score_squad_v2(preds, refs)
    assert v2["exact_match"] == pytest.approx(v1["exact_match"], abs=1e-9)
    assert v2["f1"] == pytest.approx(v1["f1"], abs=1e-9)
    assert v2["HasAns_f1"] == pytest.approx(v1["f1"], abs=1e-9)
    assert v2["total"] == v2["HasAns_total"] == len(refs)


# --------------------------------------------------------------------------- #
# the evaluate modules, end to end
# --------------------------------------------------------------------------- #


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to reach the network fail loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"unexpected network access: {args!r}")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _hub_format(
    preds: dict[str, str], refs: dict[str, list[str]], with_na_prob: bool
) -> tuple[list[dict], list[dict]]:
    predictions = []
    for qid, text in preds.items():
        item: dict = {"id": qid, "prediction_text": text}
        if with_na_prob:
            item["no_answer_probability"] = 0.0 if text else 1.0
        predictions.append(item)
    references = [
        {"id": qid, "answers": {"text": golds, "answer_start": list(range(len(golds)))}}
        for qid, golds in refs.items()
    ]
    return predictions, references


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_evaluate_module_squad(no_network: None) -> None:
    from qa_experiments.scoring.hf_evaluate import load_squad_metric

    metric = load_squad_metric(version_2_with_negative=False)
    assert "Rajpurkar" in metric.citation
    preds, refs = _random_dataset(seed=5, size=60)
    preds = {q: preds.get(q, "") for q in refs}  # the module needs one prediction per reference
    predictions, references = _hub_format(preds, refs, with_na_prob=False)
    result = metric.compute(predictions=predictions, references=references)
    assert set(result) == {"exact_match", "f1"}
    assert result == pytest.approx(score_squad(preds, refs), abs=1e-9)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_evaluate_module_squad_v2(no_network: None) -> None:
    from qa_experiments.scoring.hf_evaluate import load_squad_metric

    metric = load_squad_metric(version_2_with_negative=True)
    assert "Unanswerable" in metric.citation
    predictions, references = _hub_format(V2_PREDICTIONS, V2_REFERENCES, with_na_prob=True)
    # also feed it in two batches, as an evaluation loop would
    metric.add_batch(predictions=predictions[:2], references=references[:2])
    metric.add_batch(predictions=predictions[2:], references=references[2:])
    result = metric.compute()
    assert result == pytest.approx(V2_EXPECTED)
    assert set(result) == set(V2_EXPECTED)
