"""Cut (question, context) pairs into doc-stride windows the model can read.

Long contexts become several overlapping windows ("features"). Training features carry the
token positions of the answer (or of the CLS token when the window does not contain it);
evaluation features carry the character offsets of their context tokens, so that predicted
token spans can be mapped back to answer text.

Every training answer is checked against the tokenizer's offsets: its token span, mapped back
through them, must cover the answer text (`answer_check`, one verdict per question). A tokenizer
whose offsets are off (one that drops each answer's first letter, say) would otherwise teach
the model wrong spans in silence; above MAX_MISALIGNED_SHARE the run stops before training.
"""

from __future__ import annotations

import os
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any

import datasets

from qa_experiments.data.squad_files import DataError

NO_CONTEXT = (-1, -1)  # offset stored for tokens outside the context (question, specials, pad)
# Below this many examples, starting worker processes costs about what they save.
PARALLEL_MIN_EXAMPLES = 10_000
MAX_AUTO_WORKERS = 8
# Training answers whose tokens cover other text than the answer: more than this share of a
# split and the tokenizer's offsets are taken to be broken (correct offsets give none).
MAX_MISALIGNED_SHARE = 0.02
ALIGNED = "ok"  # answer_check of a question whose answer the tokens cover


def prepare_train_features(examples: datasets.Dataset, tokenizer, data_cfg) -> datasets.Dataset:
    """Tokenize training examples into labelled windows (one row per window)."""
    features = examples.map(
        _train_batch,
        batched=True,
        remove_columns=examples.column_names,
        num_proc=tokenization_workers(data_cfg, len(examples)),
        fn_kwargs={"tokenizer": tokenizer, "data_cfg": data_cfg},
        desc="Tokenizing train windows",
    )
    if data_cfg.max_train_features:
        features = features.select(range(min(data_cfg.max_train_features, len(features))))
    return features


def prepare_eval_features(examples: datasets.Dataset, tokenizer, data_cfg) -> datasets.Dataset:
    """Tokenize evaluation examples into windows that remember their example and offsets."""
    return examples.map(
        _eval_batch,
        batched=True,
        with_indices=True,
        remove_columns=examples.column_names,
        num_proc=tokenization_workers(data_cfg, len(examples)),
        fn_kwargs={"tokenizer": tokenizer, "data_cfg": data_cfg},
        desc="Tokenizing eval windows",
    )


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def tokenization_workers(data_cfg, num_examples: int) -> int | None:
    """Processes for `Dataset.map`: `data.preprocessing_num_workers` when set, else one per
    available CPU core (at most 8) for a large split and a single process for a small one.

    Measured on 2 cores: the approximate full train set (87,636 questions) takes 24.5 s in 2
    processes instead of 44 s in one.
    """
    workers = data_cfg.preprocessing_num_workers
    if workers is None and num_examples >= PARALLEL_MIN_EXAMPLES:
        workers = min(usable_cores(), MAX_AUTO_WORKERS)
    return workers if workers and workers > 1 else None


def tokenize_windows(questions: list[str], contexts: list[str], tokenizer, data_cfg):
    """Tokenize pairs into overlapping windows with offsets (question first, right padding)."""
    questions = truncate_questions(questions, tokenizer, data_cfg.max_question_length)
    return tokenizer(
        questions,
        contexts,
        truncation="only_second",
        max_length=data_cfg.max_seq_length,
        stride=data_cfg.doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length" if data_cfg.pad_to_max_length else False,
    )


def truncate_questions(questions: list[str], tokenizer, max_tokens: int) -> list[str]:
    """Strip leading space and cut questions longer than `max_tokens` tokens (rare, but a very
    long question would otherwise leave no room for the context)."""
    questions = [q.lstrip() for q in questions]
    encoded = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
    return [
        q if len(offsets) <= max_tokens else q[: offsets[max_tokens - 1][1]]
        for q, offsets in zip(questions, encoded["offset_mapping"])
    ]


def _train_batch(batch: dict[str, list], tokenizer, data_cfg) -> dict[str, list]:
    encoded = tokenize_windows(batch["question"], batch["context"], tokenizer, data_cfg)
    sample_map = encoded.pop("overflow_to_sample_mapping")
    starts, ends, covered = [], [], {}
    for i, offsets in enumerate(encoded.pop("offset_mapping")):
        answers = batch["answers"][sample_map[i]]
        span = answer_token_span(encoded, i, offsets, answers)
        cls_index = cls_position(encoded["input_ids"][i], tokenizer)
        starts.append(span[0] if span else cls_index)
        ends.append(span[1] if span else cls_index)
        if span:
            text = batch["context"][sample_map[i]][offsets[span[0]][0]:offsets[span[1]][1]]
            covered.setdefault(sample_map[i], []).append(text)
    encoded["start_positions"] = starts
    encoded["end_positions"] = ends
    encoded["length"] = [sum(mask) for mask in encoded["attention_mask"]]
    encoded["answer_check"] = [
        answer_verdict(batch["answers"][sample], covered.get(sample, []))
        if i == 0 or sample_map[i - 1] != sample else ""
        for i, sample in enumerate(sample_map)
    ]
    return encoded.data


def answer_verdict(answers: dict[str, Any], covered: list[str]) -> str:
    """The question's check, kept on its first window: "" without an answer, ALIGNED when a
    window's answer tokens cover the answer text (whitespace aside; tokens may reach past it
    into a word), else what they covered instead."""
    if not answers["text"]:
        return ""
    answer = " ".join(answers["text"][0].split())
    if any(answer in " ".join(text.split()) for text in covered):
        return ALIGNED
    shown = repr(covered[0]) if covered else "no window"
    return f"answer {answers['text'][0]!r} at character {answers['answer_start'][0]} -> {shown}"


@dataclass(frozen=True)
class AlignmentReport:
    """How many training answers the tokenizer's offsets map back to their text."""

    answers: int
    misaligned: int
    example: str | None  # the first misaligned answer and what its tokens covered

    @property
    def share(self) -> float:
        return self.misaligned / self.answers if self.answers else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"answers_checked": self.answers, "misaligned_answers": self.misaligned,
                "misaligned_example": self.example}


def alignment_report(features: datasets.Dataset) -> AlignmentReport:
    """Count the training answers whose tokens do not cover them (`answer_check`)."""
    checks = [c for c in features["answer_check"] if c]
    bad = [c for c in checks if c != ALIGNED]
    return AlignmentReport(len(checks), len(bad), bad[0] if bad else None)


def check_alignment(report: AlignmentReport, tokenizer_name: str) -> None:
    """DataError when more than MAX_MISALIGNED_SHARE of the answers are misaligned."""
    if report.share > MAX_MISALIGNED_SHARE:
        raise DataError(
            f"tokenizer {tokenizer_name!r} maps {report.misaligned} of {report.answers} "
            f"training answers ({report.share:.1%}, more than {MAX_MISALIGNED_SHARE:.0%}) to "
            f"other text, e.g. {report.example}; its offsets are wrong: choose another "
            "tokenizer (model.tokenizer_name_or_path) or fix its offsets"
        )


def _eval_batch(batch: dict[str, list], indices: list[int], tokenizer, data_cfg) -> dict[str, list]:
    encoded = tokenize_windows(batch["question"], batch["context"], tokenizer, data_cfg)
    sample_map = encoded.pop("overflow_to_sample_mapping")
    encoded["example_index"] = [indices[s] for s in sample_map]
    encoded["offset_mapping"] = [
        [without_leading_space(o, batch["context"][sample_map[i]]) if seq == 1 else NO_CONTEXT
         for o, seq in zip(offsets, encoded.sequence_ids(i))]
        for i, offsets in enumerate(encoded["offset_mapping"])
    ]
    encoded["cls_index"] = [cls_position(ids, tokenizer) for ids in encoded["input_ids"]]
    encoded["length"] = [sum(mask) for mask in encoded["attention_mask"]]
    return encoded.data


def without_leading_space(offset, context: str) -> tuple[int, int]:
    """A token's (start, end) in `context` after the whitespace it starts with: Metaspace
    tokenizers (DeBERTa-v3's) count the space before a word into its first token, which
    would start answers with a space."""
    start, end = offset
    while start < end and context[start].isspace():
        start += 1
    return start, end


def cls_position(input_ids: list[int], tokenizer) -> int:
    """Index of the CLS token (the no-answer position); 0 for tokenizers without one there."""
    try:
        return input_ids.index(tokenizer.cls_token_id)
    except ValueError:
        return 0


def answer_token_span(encoded, i: int, offsets: list, answers: dict[str, Any]) -> tuple | None:
    """Token (start, end) of the first answer inside window i, or None if it is not inside."""
    if not answers["text"]:
        return None
    start_char = answers["answer_start"][0]
    end_char = start_char + len(answers["text"][0])
    sequence_ids = encoded.sequence_ids(i)
    first = sequence_ids.index(1)
    last = len(sequence_ids) - 1 - sequence_ids[::-1].index(1)
    if offsets[first][0] > start_char or offsets[last][1] < end_char:
        return None
    token_ends = [offsets[t][1] for t in range(first, last + 1)]
    token_starts = [offsets[t][0] for t in range(first, last + 1)]
    start = first + bisect_right(token_ends, start_char)  # first token ending after start_char
    end = first + bisect_left(token_starts, end_char) - 1  # last token starting before end_char
    return start, end
