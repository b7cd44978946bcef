"""Tokenize once: windows are cached on disk and reused by later runs and sweep jobs.

The cache key covers everything the windows depend on: the examples' content, the tokenizer
(its full serialised definition), the window settings and the preprocessing code version.
Jobs of a sweep that differ only in optimizer or trainer settings share one entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable

import datasets

from qa_experiments.config.paths import cache_dir

log = logging.getLogger(__name__)

PREPROCESSING_VERSION = "2"  # bump when data/windows.py changes what it writes
WINDOW_SETTINGS = ("max_seq_length", "doc_stride", "max_question_length", "pad_to_max_length",
                   "max_train_features")


def cached_features(
    kind: str, examples: datasets.Dataset, tokenizer, data_cfg,
    build: Callable[[datasets.Dataset, object, object], datasets.Dataset],
) -> datasets.Dataset:
    """`build(examples, tokenizer, data_cfg)`, or its cached result from an earlier run."""
    if not data_cfg.cache_features:
        return build(examples, tokenizer, data_cfg)
    target = cache_dir() / "features" / feature_key(kind, examples, tokenizer, data_cfg)
    cached = cached_dataset(target)
    if cached is not None:
        log.info("Reusing cached %s windows from %s", kind, target)
        return cached
    return store_dataset(build(examples, tokenizer, data_cfg), target)


def cached_dataset(target) -> datasets.Dataset | None:
    """The dataset stored at `target` by `store_dataset`, or None."""
    if (target / "dataset_info.json").is_file():
        return datasets.load_from_disk(str(target))
    return None


def store_dataset(dataset: datasets.Dataset, target) -> datasets.Dataset:
    """Store `dataset` at `target` whole (renamed into place) and return it read back."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        dataset.save_to_disk(os.path.join(scratch, "features"))
        try:
            os.rename(os.path.join(scratch, "features"), target)
        except OSError:  # another job stored the same dataset first
            pass
    return datasets.load_from_disk(str(target))


def feature_key(kind: str, examples: datasets.Dataset, tokenizer, data_cfg) -> str:
    """A hash of everything the windows depend on."""
    digest = hashlib.sha256()
    settings = {key: data_cfg[key] for key in WINDOW_SETTINGS}
    digest.update(json.dumps([kind, PREPROCESSING_VERSION, settings], sort_keys=True).encode())
    definition = json.loads(tokenizer.backend_tokenizer.to_str())
    for state in ("truncation", "padding"):  # call settings left behind by the last call
        definition.pop(state, None)
    digest.update(json.dumps(definition, sort_keys=True).encode())
    digest.update(tokenizer.padding_side.encode())
    for column in ("id", "question", "context", "answers"):
        digest.update(json.dumps(examples[column][:], default=str).encode())
    return f"{kind}-{digest.hexdigest()[:24]}"
