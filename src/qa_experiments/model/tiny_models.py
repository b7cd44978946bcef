"""Tiny randomly-initialised extractive-QA models for offline tests and smoke runs.

``build_tiny_model`` trains a tokenizer of the family's own kind on a small corpus (WordPiece
for BERT, DistilBERT and ELECTRA; byte-level BPE for RoBERTa and ModernBERT; SentencePiece-style
Unigram for DeBERTa-v3 and XLM-R), pairs it with a tiny question-answering model of that family
and saves both, so that ``AutoTokenizer``/``AutoModelForQuestionAnswering.from_pretrained`` can
load the directory without network access.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import torch
from huggingface_hub.constants import CONFIG_NAME
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import (
    AutoModelForQuestionAnswering,
    BertConfig,
    BertTokenizer,
    DebertaV2Config,
    DebertaV2Tokenizer,
    DistilBertConfig,
    DistilBertTokenizer,
    ElectraConfig,
    ModernBertConfig,
    PretrainedConfig,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaTokenizer,
    XLMRobertaConfig,
    XLMRobertaTokenizer,
)

from qa_experiments.config.paths import bundled_data_path, cache_dir
from qa_experiments.data.squad_files import read_squad_file
from qa_experiments.model.progress import no_progress_bars

# Architecture -> the Transformers model type it builds.
MODEL_TYPES = {
    "bert": "bert",
    "distilbert": "distilbert",
    "roberta": "roberta",
    "deberta_v3": "deberta-v2",
    "modernbert": "modernbert",
    "xlm_roberta": "xlm-roberta",
    "electra": "electra",
}
ARCHITECTURES = tuple(MODEL_TYPES)

MAX_POSITIONS = 512
WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Same order as roberta-base and xlm-roberta-base: <s>=0, <pad>=1, </s>=2, <unk>=3, <mask>=4.
BPE_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
# Same order as deberta-v3-base: [PAD]=0, [CLS]=1, [SEP]=2, [UNK]=3.
DEBERTA_SPECIALS = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]


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


def _train_byte_bpe(
    corpus: list[str], vocab_size: int, specials: list[str]
) -> tuple[dict[str, int], list]:
    """Train a RoBERTa-style byte-level BPE; returns (vocab, merges)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    merges = json.loads(tok.to_str())["model"]["merges"]
    return tok.get_vocab(), [tuple(m) for m in merges]


def _train_unigram(
    corpus: list[str], vocab_size: int, specials: list[str], unk_token: str
) -> list[tuple[str, float]]:
    """Train a SentencePiece-style Unigram model over "▁"-marked words; returns its
    (piece, log-probability) list, specials first with score 0, the same on every run."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=specials, unk_token=unk_token, show_progress=False
    )
    tok.train_from_iterator(corpus, trainer)
    # The trainer's scores vary by about 1e-3 between runs (its pieces and the segmentation
    # they give do not): score each piece by how often that segmentation uses it instead.
    counts = Counter(t for encoding in tok.encode_batch(corpus) for t in encoding.tokens)
    pieces = [p for p, _ in json.loads(tok.to_str())["model"]["vocab"] if p not in specials]
    total = sum(counts.values()) + len(pieces)
    scored = sorted(
        ((p, round(math.log((counts[p] + 1) / total), 6)) for p in pieces),
        key=lambda item: (-item[1], item[0]),
    )
    return [(s, 0.0) for s in specials] + scored


def _modernbert_tokenizer(corpus: list[str], vocab_size: int, common: dict):
    """ModernBERT's kind: byte-level BPE with BERT's special tokens, [CLS] A [SEP] B [SEP],
    and no token_type_ids (its model has no token-type embeddings)."""
    vocab, merges = _train_byte_bpe(corpus, vocab_size, WORDPIECE_SPECIALS)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=True),  # offsets without the leading space
        processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B [SEP]",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
        ),
    ])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]",
        unk_token="[UNK]", mask_token="[MASK]",
        model_input_names=["input_ids", "attention_mask"], **common,
    )


def _build_tokenizer(
    architecture: str, corpus: list[str], vocab_size: int
) -> PreTrainedTokenizerBase:
    """Train a tokenizer and wrap it in the matching transformers class.

    The vocabulary is passed via ``vocab=``/``merges=`` (transformers 5 ignores
    ``vocab_file=``), letting the class assemble its canonical pipeline.
    """
    common = {"model_max_length": MAX_POSITIONS}
    if architecture == "roberta":
        vocab, merges = _train_byte_bpe(corpus, vocab_size, BPE_SPECIALS)
        return RobertaTokenizer(vocab=vocab, merges=merges, add_prefix_space=False, **common)
    if architecture == "modernbert":
        return _modernbert_tokenizer(corpus, vocab_size, common)
    if architecture == "xlm_roberta":
        vocab = _train_unigram(corpus, vocab_size, BPE_SPECIALS, "<unk>")
        return XLMRobertaTokenizer(vocab=vocab, **common)
    if architecture == "deberta_v3":
        vocab = _train_unigram(corpus, vocab_size, DEBERTA_SPECIALS, "[UNK]")
        # deberta-v3 has no token-type embeddings (type_vocab_size 0): no token_type_ids.
        return DebertaV2Tokenizer(
            vocab=vocab, model_input_names=["input_ids", "attention_mask"], **common
        )
    # ELECTRA's tokenizer is BERT's (uncased WordPiece), as on the Hub.
    cls = DistilBertTokenizer if architecture == "distilbert" else BertTokenizer
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
    if architecture == "electra":
        return ElectraConfig(embedding_size=32, max_position_embeddings=MAX_POSITIONS, **sizes,
                             **ids)
    if architecture == "deberta_v3":
        # deberta-v3-base's attention: relative positions only, shared keys, log buckets.
        return DebertaV2Config(
            max_position_embeddings=MAX_POSITIONS, type_vocab_size=0, relative_attention=True,
            position_biased_input=False, pos_att_type=["p2c", "c2p"], position_buckets=256,
            max_relative_positions=-1, norm_rel_ebd="layer_norm", share_att_key=True,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            **sizes, **ids,
        )
    if architecture == "modernbert":
        return ModernBertConfig(
            max_position_embeddings=MAX_POSITIONS, hidden_activation="gelu",
            bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
            cls_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id,
            **sizes, **ids,
        )
    # RoBERTa and XLM-R offset positions by padding_idx + 1, hence the two extra slots.
    config_class = RobertaConfig if architecture == "roberta" else XLMRobertaConfig
    return config_class(
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
        with no_progress_bars():  # no "Writing model shards" bar before a job's first lines
            build_tiny_model(architecture, built, corpus, vocab_size=3000)
        try:
            os.rename(built, target)
        except OSError:  # another process finished first: its model is identical
            pass
    return str(target)
