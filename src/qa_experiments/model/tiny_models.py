"""Tiny randomly-initialised extractive-QA models for offline tests and smoke runs.

``build_tiny_model`` trains a tokenizer on a small corpus, pairs it with a tiny
BERT, DistilBERT or RoBERTa question-answering model and saves both, so that
``AutoTokenizer``/``AutoModelForQuestionAnswering.from_pretrained`` can load the
directory without network access.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import torch
from huggingface_hub.constants import CONFIG_NAME
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import (
    AutoModelForQuestionAnswering,
    BertConfig,
    BertTokenizer,
    DistilBertConfig,
    DistilBertTokenizer,
    PretrainedConfig,
    PreTrainedTokenizerBase,
    RobertaConfig,
    RobertaTokenizer,
)

from qa_experiments.config.paths import bundled_data_path, cache_dir
from qa_experiments.data.squad_files import read_squad_file

ARCHITECTURES = ("bert", "distilbert", "roberta")

MAX_POSITIONS = 512
WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Same order as roberta-base: <s>=0, <pad>=1, </s>=2, <unk>=3, <mask>=4.
BPE_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def _train_wordpiece(corpus: list[str], vocab_size: int) -> dict[str, int]:
    """Train an uncased BERT-style WordPiece vocabulary."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    # tokenizers#1794: the trainer numbers "##x" pieces in hash-map order and breaks merge
    # ties by id, so the vocabulary varies between runs. Registering them up front pins it.
    chars = sorted({c for text in corpus for c in tok.normalizer.normalize_str(text)})
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        special_tokens=WORDPIECE_SPECIALS + [f"##{c}" for c in chars if not c.isspace()],
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    return tok.get_vocab()


def _train_byte_bpe(corpus: list[str], vocab_size: int) -> tuple[dict[str, int], list]:
    """Train a RoBERTa-style byte-level BPE; returns (vocab, merges)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=BPE_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    merges = json.loads(tok.to_str())["model"]["merges"]
    return tok.get_vocab(), [tuple(m) for m in merges]


def _build_tokenizer(
    architecture: str, corpus: list[str], vocab_size: int
) -> PreTrainedTokenizerBase:
    """Train a tokenizer and wrap it in the matching transformers class.

    The vocabulary is passed via ``vocab=``/``merges=`` (transformers 5 ignores
    ``vocab_file=``), letting the class assemble its canonical pipeline.
    """
    common = {"model_max_length": MAX_POSITIONS}
    if architecture == "roberta":
        vocab, merges = _train_byte_bpe(corpus, vocab_size)
        return RobertaTokenizer(vocab=vocab, merges=merges, add_prefix_space=False, **common)
    cls = BertTokenizer if architecture == "bert" else DistilBertTokenizer
    return cls(vocab=_train_wordpiece(corpus, vocab_size), do_lower_case=True, **common)


def _build_config(architecture: str, tokenizer: PreTrainedTokenizerBase) -> PretrainedConfig:
    """A tiny config whose vocabulary and special ids match ``tokenizer``."""
    ids = {
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
    }
    if architecture == "distilbert":
        return DistilBertConfig(
            dim=32,
            n_layers=2,
            n_heads=2,
            hidden_dim=64,
            max_position_embeddings=MAX_POSITIONS,
            **ids,
        )
    sizes = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
    }
    if architecture == "bert":
        return BertConfig(max_position_embeddings=MAX_POSITIONS, **sizes, **ids)
    # RoBERTa offsets positions by padding_idx + 1, hence the two extra slots.
    return RobertaConfig(
        max_position_embeddings=MAX_POSITIONS + 2,
        type_vocab_size=1,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **sizes,
        **ids,
    )


def _check_vocabulary(tokenizer: PreTrainedTokenizerBase, corpus: list[str]) -> None:
    """Fail loudly if the tokenizer maps the corpus to unknown tokens only."""
    ids = tokenizer(corpus[0], add_special_tokens=False)["input_ids"]
    if not ids or all(i == tokenizer.unk_token_id for i in ids):
        raise RuntimeError("tokenizer maps the corpus to [UNK] only; vocabulary was lost")


def build_tiny_model(
    architecture: str,
    output_dir: str | Path,
    corpus: Iterable[str],
    *,
    vocab_size: int = 2000,
    seed: int = 0,
) -> Path:
    """Save a tiny random QA model plus a tokenizer trained on ``corpus``.

    ``architecture`` is one of :data:`ARCHITECTURES`. Returns ``output_dir``.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    texts = [t for t in corpus if t.strip()]
    if not texts:
        raise ValueError("corpus must contain at least one non-empty text")
    output_dir = Path(output_dir)

    tokenizer = _build_tokenizer(architecture, texts, vocab_size)
    _check_vocabulary(tokenizer, texts)
    config = _build_config(architecture, tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForQuestionAnswering.from_config(config)

    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir


def cached_tiny_model(architecture: str) -> str:
    """A tiny `architecture` model trained on the bundled contexts, built once per machine.

    Used by the `model=tiny_*` config choices (smoke tests and sweeps in seconds). Built into
    a temporary directory and renamed, so parallel jobs never see a half-written model.
    """
    target = cache_dir() / "tiny_models" / architecture
    if (target / CONFIG_NAME).is_file():
        return str(target)
    records = read_squad_file(bundled_data_path("train-v1.1-subset.json.gz"))
    corpus = list(dict.fromkeys(r["context"] for r in records))[:300]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / architecture
        build_tiny_model(architecture, built, corpus, vocab_size=3000)
        try:
            os.rename(built, target)
        except OSError:  # another process finished first: its model is identical
            pass
    return str(target)
