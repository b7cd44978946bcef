"""Load any extractive-QA backbone and its tokenizer from the Hub or a local directory."""

from __future__ import annotations

from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from qa_experiments.hub import resolve_local_files_only


def load_tokenizer(model_cfg):
    """The backbone's fast tokenizer, padding on the right.

    Answer labels are token positions counted from the left, so windows are always padded on
    the right, also for tokenizers that default to left padding.
    """
    name = model_cfg.tokenizer_name_or_path or model_cfg.name_or_path
    tokenizer = AutoTokenizer.from_pretrained(
        name,
        revision=model_cfg.revision,
        trust_remote_code=model_cfg.trust_remote_code,
        local_files_only=resolve_local_files_only(name, "model", "tokenizer"),
    )
    if not tokenizer.is_fast:
        raise ValueError(
            f"Tokenizer of {name!r} is not a fast (Rust) tokenizer; QA windows need its "
            "offset mappings. Choose a model with a tokenizer.json."
        )
    tokenizer.padding_side = "right"
    return tokenizer


def load_model(model_cfg):
    """The backbone with a (possibly new) span-prediction head."""
    name = model_cfg.name_or_path
    return AutoModelForQuestionAnswering.from_pretrained(
        name,
        revision=model_cfg.revision,
        trust_remote_code=model_cfg.trust_remote_code,
        attn_implementation=model_cfg.attn_implementation,
        local_files_only=resolve_local_files_only(name, "model", "model"),
    )
