"""Doc-stride windows: answer labels decode back to the gold answer in every window."""

from __future__ import annotations

import datasets
import pytest
from omegaconf import OmegaConf
from transformers import AutoTokenizer

from helpers import data_cfg
from qa_experiments.config.paths import bundled_data_path, minilm_path
from qa_experiments.config.schema import ModelConfig
from qa_experiments.data.splits import SplitReport, check_records, read_squad_file
from qa_experiments.data.windows import (
    NO_CONTEXT,
    prepare_eval_features,
    prepare_train_features,
)
from qa_experiments.model.loading import load_tokenizer
from qa_experiments.model.tiny_models import cached_tiny_model as tiny_model_path
from qa_experiments.scoring.squad_metric import normalize_answer

BUNDLED_TRAIN = ("train-v1.1-subset.json.gz", "train-v2.0-subset.json.gz")


def bundled_examples(name: str) -> datasets.Dataset:
    report = SplitReport(source=name)
    records = check_records(
        read_squad_file(bundled_data_path(name)), report, version_2=True, is_train=True
    )
    return datasets.Dataset.from_list(records)


@pytest.fixture(scope="module")
def tokenizers():
    return {
        "bert": load_tokenizer(
            OmegaConf.structured(ModelConfig(name="m", name_or_path=minilm_path()))
        ),
        "roberta": AutoTokenizer.from_pretrained(tiny_model_path("roberta")),
    }


@pytest.mark.parametrize("arch", ["bert", "roberta"])
@pytest.mark.parametrize("file", BUNDLED_TRAIN)
def test_labels_decode_to_the_gold_answer(tokenizers, arch, file):
    tokenizer = tokenizers[arch]
    examples = bundled_examples(file)
    cfg = data_cfg(max_seq_length=192, doc_stride=64)  # short windows: many answers fall outside
    features = prepare_train_features(examples, tokenizer, cfg)
    # Recompute which example each window came from (the features do not store it).
    encoded = tokenizer(
        [q.lstrip() for q in examples["question"]], list(examples["context"]),
        truncation="only_second", max_length=192, stride=64,
        return_overflowing_tokens=True, return_offsets_mapping=True,
    )
    assert encoded["input_ids"] == features["input_ids"]
    inside = outside = 0
    for i, (start, end) in enumerate(zip(features["start_positions"], features["end_positions"])):
        example = examples[encoded["overflow_to_sample_mapping"][i]]
        offsets = encoded["offset_mapping"][i]
        cls = features["input_ids"][i].index(tokenizer.cls_token_id)
        if start == cls:
            assert end == cls
            outside += 1
            if example["answers"]["text"]:  # the answer must really not fit in this window
                a_start = example["answers"]["answer_start"][0]
                a_end = a_start + len(example["answers"]["text"][0])
                context_ids = [t for t, s in enumerate(encoded.sequence_ids(i)) if s == 1]
                assert (
                    offsets[context_ids[0]][0] > a_start or offsets[context_ids[-1]][1] < a_end
                )
            continue
        inside += 1
        assert encoded.sequence_ids(i)[start] == 1 and encoded.sequence_ids(i)[end] == 1
        gold = example["answers"]["text"][0]
        span = example["context"][offsets[start][0] : offsets[end][1]]
        assert gold.strip() in span, (gold, span)
        # The span adds at most the rest of the boundary words (sub-word tokenisation).
        assert normalize_answer(gold) in normalize_answer(span)
        assert len(span) - len(gold) < 20, (gold, span)
    assert inside > 1000 and outside > 100


def test_eval_features_keep_every_window_and_context_offsets(tokenizers):
    tokenizer = tokenizers["bert"]
    normalizer = tokenizer.backend_tokenizer.normalizer  # lowercases and strips accents
    examples = bundled_examples("train-v1.1-subset.json.gz").select(range(300))
    cfg = data_cfg(max_seq_length=128, doc_stride=32)
    features = prepare_eval_features(examples, tokenizer, cfg)
    indices = features["example_index"]
    assert sorted(set(indices)) == list(range(300)) and indices == sorted(indices)
    assert len(features) > 300  # long contexts need several windows
    for i in range(len(features)):
        context = examples[indices[i]]["context"]
        offsets = features[i]["offset_mapping"]
        ids = features[i]["input_ids"]
        assert features[i]["cls_index"] == ids.index(tokenizer.cls_token_id)
        for token, (start, end) in zip(ids, offsets):
            if (start, end) == NO_CONTEXT:
                continue
            piece = tokenizer.convert_ids_to_tokens(token).removeprefix("##")
            text = normalizer.normalize_str(context[start:end])
            assert piece in text or token == tokenizer.unk_token_id, (piece, text)


def test_long_questions_are_cut_and_fixed_padding_pads(tokenizers):
    tokenizer = tokenizers["bert"]
    long_question = "what is the name " * 40 + "?"
    examples = datasets.Dataset.from_list(
        [{"id": "q", "question": long_question, "context": "The name is Ada. " * 30,
          "answers": {"text": ["Ada"], "answer_start": [12]}, "title": ""}]
    )
    cfg = data_cfg(max_seq_length=64, doc_stride=16, max_question_length=10,
                   pad_to_max_length=True)
    features = prepare_train_features(examples, tokenizer, cfg)
    for ids in features["input_ids"]:
        assert len(ids) == 64
        assert ids.index(tokenizer.sep_token_id) <= 11  # [CLS] + at most 10 question tokens
    assert features["start_positions"][0] != 0  # the first window holds the answer


def test_max_train_features_cuts_after_tokenization(tokenizers):
    examples = bundled_examples("train-v1.1-subset.json.gz").select(range(50))
    features = prepare_train_features(
        examples, tokenizers["bert"], data_cfg(max_seq_length=128, doc_stride=32,
                                               max_train_features=70)
    )
    assert len(features) == 70


def test_parallel_tokenization_gives_the_same_windows(tokenizers):
    examples = bundled_examples("train-v1.1-subset.json.gz").select(range(300))
    settings = {"max_seq_length": 128, "doc_stride": 32}
    single = prepare_train_features(examples, tokenizers["bert"], data_cfg(**settings))
    parallel = prepare_train_features(
        examples, tokenizers["bert"], data_cfg(preprocessing_num_workers=2, **settings)
    )
    assert parallel.to_list() == single.to_list()
