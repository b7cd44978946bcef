"""Tests for the tiny offline QA model factory."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from qa_experiments.model.tiny_models import (
    ARCHITECTURES,
    MODEL_TYPES,
    build_tiny_model,
    cached_tiny_model,
)

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Paris is the capital and most populous city of France.",
    "William Shakespeare wrote Hamlet around the year 1600.",
    "The river Thames flows through London before reaching the sea.",
    "Water boils at one hundred degrees Celsius at sea level.",
    "Marie Curie won two Nobel prizes, in physics and in chemistry.",
    "The Great Wall of China is thousands of kilometres long.",
    "Mount Everest is the highest mountain above sea level.",
    "Photosynthesis turns sunlight, water and carbon dioxide into sugar.",
    "The Pacific Ocean is the largest and deepest ocean on Earth.",
    "Who discovered penicillin? Alexander Fleming did, in 1928.",
    "When did the first person walk on the Moon? It was in 1969.",
    "What is the capital of Japan? The capital of Japan is Tokyo.",
    "Where is the Eiffel Tower? It stands in Paris, France.",
    "How many legs does a spider have? A spider has eight legs.",
    "The human heart pumps blood through the whole body.",
    "Computers store information as long sequences of bits.",
    "The library opens at nine in the morning on weekdays.",
    "Students answered questions about the history of Rome.",
    "The Amazon rainforest covers much of northern Brazil.",
    "A triangle has three sides and three angles.",
    "Light travels faster than sound through the air.",
    "The orchestra played a symphony by Ludwig van Beethoven.",
    "Bees collect nectar from flowers to make honey.",
    "The train to Edinburgh leaves from platform four.",
    "Gold is a dense, soft and shiny metal.",
    "The Nile is often described as the longest river in the world.",
    "Children learned to read and write at the village school.",
    "The committee will publish its report next Tuesday.",
    "Rain fell steadily across the valley for three days.",
]
QUESTION = "What is the capital of France?"
CONTEXT = "Paris is the capital and most populous city of France."
SENTENCE = "Marie Curie won two Nobel prizes, in physics and in chemistry."
BYTE_LEVEL = ("roberta", "modernbert")
UNIGRAM = ("deberta_v3", "xlm_roberta")
UNCASED = ("bert", "distilbert", "electra")
WITH_TOKEN_TYPES = ("bert", "electra")


@pytest.fixture(scope="module", params=ARCHITECTURES)
def built(request, tmp_path_factory):
    arch = request.param
    out = build_tiny_model(arch, tmp_path_factory.mktemp(arch), CORPUS)
    tokenizer = AutoTokenizer.from_pretrained(out, local_files_only=True)
    model = AutoModelForQuestionAnswering.from_pretrained(out, local_files_only=True)
    return arch, out, tokenizer, model


def _token_text(arch, tokenizer, token):
    """Surface text of one token, as it should appear in the (normalised) input."""
    if arch in BYTE_LEVEL:
        return tokenizer.convert_tokens_to_string([token]).strip()
    if arch in UNIGRAM:  # "▁" marks a word start; whether its offsets hold the space varies
        return token.replace("▁", " ").strip()
    return token.removeprefix("##")


def test_loads_matching_classes(built):
    arch, _, tokenizer, model = built
    assert model.config.model_type == MODEL_TYPES[arch]
    assert tokenizer.is_fast
    assert tokenizer.padding_side == "right"
    assert len(tokenizer) == model.config.vocab_size


def test_vocabulary_is_not_all_unknown(built):
    arch, _, tokenizer, _ = built
    ids = tokenizer(SENTENCE, add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids
    if arch in UNIGRAM:
        # A Unigram vocabulary grows from repeated substrings only: this corpus's frequent words.
        assert "▁in" in tokenizer.convert_ids_to_tokens(ids)
    else:
        # Learned merges: corpus words are whole tokens, not spelled out character by character.
        assert len(ids) <= len(SENTENCE.split()) + 2


def test_round_trip(built):
    arch, _, tokenizer, _ = built
    decoded = tokenizer.decode(tokenizer(SENTENCE)["input_ids"], skip_special_tokens=True)
    if arch not in UNCASED:
        assert decoded == SENTENCE
    else:
        assert decoded.replace(" ,", ",").replace(" .", ".") == SENTENCE.lower()


def test_offsets_point_into_context(built):
    arch, _, tokenizer, _ = built
    enc = tokenizer(QUESTION, CONTEXT, return_offsets_mapping=True)
    seq_ids = enc.sequence_ids()
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"])
    context_tokens = [i for i, s in enumerate(seq_ids) if s == 1]
    assert context_tokens
    for i in context_tokens:
        start, end = enc["offset_mapping"][i]
        expected = CONTEXT[start:end].lower() if arch in UNCASED else CONTEXT[start:end]
        if arch == "xlm_roberta" and tokens[i] == "▁":
            # XLM-R's quirk (transformers #17454): a lone "▁" gets the next character's offsets.
            assert end - start == 1 and not expected.isspace()
            continue
        assert _token_text(arch, tokenizer, tokens[i]) == expected.strip()
    if arch not in UNIGRAM:  # (this corpus is too small for Unigram to learn "capital")
        spans = {enc["offset_mapping"][i] for i in context_tokens}
        start = CONTEXT.index("capital")
        assert (start, start + len("capital")) in spans


def test_token_type_ids_only_where_the_model_has_them(built):
    arch, _, tokenizer, model = built
    enc = tokenizer(QUESTION, CONTEXT)
    assert ("token_type_ids" in enc) == (arch in WITH_TOKEN_TYPES)
    assert (getattr(model.config, "type_vocab_size", 0) > 1) == (arch in WITH_TOKEN_TYPES)
    if arch in WITH_TOKEN_TYPES:
        assert set(enc["token_type_ids"]) == {0, 1}


def test_overflowing_windows_and_forward(built):
    _, _, tokenizer, model = built
    context = " ".join(CORPUS)
    enc = tokenizer(
        [QUESTION],
        [context],
        truncation="only_second",
        max_length=48,
        stride=16,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
        return_tensors="pt",
    )
    n_windows, seq_len = enc["input_ids"].shape
    assert n_windows > 1 and seq_len == 48
    assert enc["overflow_to_sample_mapping"].tolist() == [0] * n_windows
    # Consecutive windows overlap: each one starts before the previous one ends.
    spans = []
    for w in range(n_windows):
        offsets = enc["offset_mapping"][w].tolist()
        ctx = [o for o, s in zip(offsets, enc.sequence_ids(w), strict=True) if s == 1]
        spans.append((ctx[0][0], ctx[-1][1]))
    assert all(spans[w + 1][0] < spans[w][1] for w in range(n_windows - 1))

    inputs = {k: v for k, v in enc.items() if k in tokenizer.model_input_names}
    with torch.no_grad():
        out = model(**inputs)
    assert out.start_logits.shape == (n_windows, seq_len)
    assert out.end_logits.shape == (n_windows, seq_len)


def test_seed_is_deterministic(built, tmp_path):
    arch, out, _, model = built
    again = build_tiny_model(arch, tmp_path, CORPUS)
    reloaded = AutoModelForQuestionAnswering.from_pretrained(again, local_files_only=True)
    for a, b in zip(model.state_dict().values(), reloaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert (out / "tokenizer.json").read_text() == (again / "tokenizer.json").read_text()


def test_rejects_unknown_architecture(tmp_path):
    with pytest.raises(ValueError, match="architecture"):
        build_tiny_model("gpt2", tmp_path, CORPUS)


def test_the_first_build_of_a_tiny_model_prints_nothing(tmp_path, monkeypatch, capfd):
    """A job's first lines are its own (an error, the run's log), not a "Writing model shards"
    bar from the tiny model it built on the way."""
    monkeypatch.setenv("QA_EXPERIMENTS_CACHE", str(tmp_path))
    path = cached_tiny_model("bert")
    assert AutoTokenizer.from_pretrained(path, local_files_only=True).is_fast
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")
