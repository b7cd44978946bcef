"""Load any extractive-QA backbone and its tokenizer from the Hub or a local directory."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn
from transformers import AutoConfig, AutoModelForQuestionAnswering, AutoTokenizer

from qa_experiments.config.schema import ConfigError
from qa_experiments.errors import UserError
from qa_experiments.hub import resolve_local_files_only

# Model types whose position ids start after the padding index (RoBERTa's scheme): the first
# pad_token_id + 1 position embeddings never hold a token.
PADDING_OFFSET_MODEL_TYPES = frozenset({
    "roberta", "roberta-prelayernorm", "xlm-roberta", "xlm-roberta-xl", "camembert",
    "data2vec-text", "ibert", "longformer", "luke", "markuplm", "mpnet", "xmod", "lilt",
    "layoutlmv3",
})

log = logging.getLogger(__name__)

# What Transformers raises while it reads a tokenizer.json of the wrong shape (e.g. `{}`: a
# KeyError for "added_tokens"); the file comes from the user, so these are the file's fault.
_DAMAGED_TOKENIZER_FILE = (LookupError, TypeError, AttributeError)


class ModelLoadError(UserError, ValueError):
    """A model or tokenizer that cannot be loaded or used: its files are damaged, incomplete or
    of a kind QA windows cannot use."""


def load_tokenizer(model_cfg):
    """The backbone's fast tokenizer, padding on the right; ModelLoadError when it does not
    load or is not a fast one.

    Answer labels are token positions counted from the left, so windows are always padded on
    the right, also for tokenizers that default to left padding.
    """
    name = model_cfg.tokenizer_name_or_path or model_cfg.name_or_path
    local_files_only = resolve_local_files_only(name, "model", "tokenizer")
    with _load_errors("tokenizer", name, also=_DAMAGED_TOKENIZER_FILE):
        tokenizer = AutoTokenizer.from_pretrained(
            name,
            revision=model_cfg.revision,
            trust_remote_code=model_cfg.trust_remote_code,
            local_files_only=local_files_only,
        )
    if not tokenizer.is_fast:
        raise ModelLoadError(
            f"Tokenizer of {name!r} is not a fast (Rust) tokenizer; QA windows need its "
            "offset mappings. Choose a model with a tokenizer.json."
        )
    tokenizer.padding_side = "right"
    return tokenizer


def load_model(model_cfg, *, trained: bool = False):
    """The backbone with a (possibly new) span-prediction head; says in one line what was
    initialised instead of Transformers' load report; ModelLoadError when its files do not
    load. A `trained` model (one to answer with) must load whole: ModelLoadError when any
    weight is missing or has another shape than its config says, which would otherwise
    answer from random values."""
    name = model_cfg.name_or_path
    local_files_only = resolve_local_files_only(name, "model", "model")
    with _without_load_report(), _load_errors("model", name):
        model, info = AutoModelForQuestionAnswering.from_pretrained(
            name,
            revision=model_cfg.revision,
            trust_remote_code=model_cfg.trust_remote_code,
            attn_implementation=model_cfg.attn_implementation,
            local_files_only=local_files_only,
            output_loading_info=True,
        )
    if trained:
        check_complete(info, name)
    report_loading(model, name, info)
    if not trained and model_cfg.get("num_hidden_layers"):
        keep_layers(model, model_cfg.num_hidden_layers)
    return model


def evenly_spaced(total: int, count: int) -> list[int]:
    """`count` of `total` layer indices, evenly spaced from the first to the last (12 -> 6
    keeps 0, 2, 4, 7, 9, 11, as DistilBERT was initialised from BERT)."""
    if count == 1:
        return [0]
    return [math.floor(i * (total - 1) / (count - 1) + 0.5) for i in range(count)]


def keep_layers(model, count: int) -> None:
    """Shrink `model` to `count` evenly spaced layers of its encoder, in place (its config
    says so too, so that the saved model is a plain one of `count` layers)."""
    total = model.config.num_hidden_layers
    if count > total:
        raise ConfigError(f"model.num_hidden_layers={count} is out of range: the checkpoint has "
                          f"{total} layers; choose at most {total}, or null to keep them all.")
    stacks = [(name, module) for name, module in model.base_model.named_modules()
              if isinstance(module, nn.ModuleList) and len(module) == total]
    if len(stacks) != 1:
        raise ModelLoadError(f"model.num_hidden_layers cannot shrink a {model.config.model_type} "
                             "model: its layer stack was not found; leave it null.")
    name, layers = stacks[0]
    parent_name, _, attribute = name.rpartition(".")
    parent = model.base_model.get_submodule(parent_name)
    keep = evenly_spaced(total, count)
    setattr(parent, attribute, nn.ModuleList([layers[i] for i in keep]))
    model.config.num_hidden_layers = count
    log.info("Kept layers %s of %d (model.num_hidden_layers=%d).", keep, total, count)


def check_complete(info: dict, name: str) -> None:
    """ModelLoadError naming the weights a trained model's files lack or hold in another
    shape."""
    problems = sorted(info["missing_keys"]) + sorted(
        f"{key[0]} (shape)" for key in info["mismatched_keys"])
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise ModelLoadError(
            f"Cannot load the model in {name!r}: its weights do not match its config.json "
            f"({len(problems)} missing or of another shape: {', '.join(problems[:3])}{more})")


def report_loading(model, name: str, info: dict) -> None:
    """Info when only the task head is new (what fine-tuning expects); a warning when backbone
    weights are missing or had the wrong shape (they start from random values)."""
    heads = {child for child, _ in model.named_children()} - {model.base_model_prefix}
    missing = sorted(info["missing_keys"])
    new_heads = sorted({k.split(".")[0] for k in missing if k.split(".")[0] in heads})
    backbone = [k for k in missing if k.split(".")[0] not in heads]
    backbone += sorted(f"{k[0]} (shape)" for k in info["mismatched_keys"])
    if backbone:
        more = f" and {len(backbone) - 5} more" if len(backbone) > 5 else ""
        log.warning("%s lacks %d backbone weight(s), now random: %s%s. Check that it is the "
                    "model you meant.", name, len(backbone), ", ".join(backbone[:5]), more)
    if new_heads:
        log.info("New question-answering head (%s) initialised from the seed, as fine-tuning a "
                 "pretrained backbone expects.", ", ".join(new_heads))


@contextlib.contextmanager
def _load_errors(what: str, name: str, also: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """What Transformers raises for files it cannot load (and the exception types in `also`),
    as a ModelLoadError naming them."""
    try:
        yield
    except (OSError, ValueError, RuntimeError, *also) as error:  # RuntimeError: size mismatch
        first_line = (str(error).strip().splitlines() or [repr(error)])[0]
        if isinstance(error, LookupError):
            first_line = f"an entry {first_line} is missing or out of range"
        raise ModelLoadError(f"Cannot load the {what} in {name!r}: {first_line}") from error


@contextlib.contextmanager
def _without_load_report() -> Iterator[None]:
    """Drop Transformers' table of UNEXPECTED/MISSING weights (report_loading sums it up)."""
    logger = logging.getLogger("transformers.modeling_utils")
    drop = logging.Filter()
    drop.filter = lambda record: "LOAD REPORT" not in str(record.msg)
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def load_config(model_cfg):
    """The backbone's config (config.json only, no weights); ConfigError when it does not
    load."""
    name = model_cfg.name_or_path
    local_files_only = resolve_local_files_only(name, "model", "model")
    try:
        return AutoConfig.from_pretrained(
            name, revision=model_cfg.revision, trust_remote_code=model_cfg.trust_remote_code,
            local_files_only=local_files_only,
        )
    except (OSError, ValueError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ConfigError(f"model.name_or_path={name!r} holds no usable model config: "
                          f"{first_line}") from error


def model_skeleton(model_cfg):
    """The QA model its config describes, on the meta device: its modules with no weights
    (neither loaded nor allocated), to check names against before any work."""
    config = load_config(model_cfg)
    with torch.device("meta"):
        return AutoModelForQuestionAnswering.from_config(
            config, trust_remote_code=model_cfg.trust_remote_code)


def max_input_length(model_cfg) -> int | None:
    """The most tokens the backbone's absolute position embeddings hold; None without a limit.

    Reads only the model's config (no weights).
    """
    config = load_config(model_cfg)
    positions = getattr(config, "max_position_embeddings", None)
    if not isinstance(positions, int) or getattr(config, "position_biased_input", True) is False:
        return None  # relative positions (e.g. DeBERTa-v2): no fixed limit
    if config.model_type in PADDING_OFFSET_MODEL_TYPES:
        positions -= (config.pad_token_id or 0) + 1
    return positions


def check_window_room(model_cfg, data_cfg) -> None:
    """ConfigError when a window of data.max_seq_length tokens leaves no new context after the
    longest question, the special tokens of a question/context pair (the tokenizer's own
    count: 3 for BERT, 4 for RoBERTa) and the stride."""
    special = load_tokenizer(model_cfg).num_special_tokens_to_add(pair=True)
    room = data_cfg.max_seq_length - data_cfg.max_question_length - special
    if data_cfg.doc_stride >= room:
        raise ConfigError(
            f"data.doc_stride={data_cfg.doc_stride} leaves no room for new context in a window "
            f"of data.max_seq_length={data_cfg.max_seq_length} with data.max_question_length="
            f"{data_cfg.max_question_length} and model={model_cfg.name}'s {special} special "
            f"tokens; lower the stride below {room} or raise the length."
        )


def check_max_seq_length(model_cfg, max_seq_length: int) -> None:
    """ConfigError when windows of `max_seq_length` tokens do not fit the backbone."""
    limit = max_input_length(model_cfg)
    if limit is not None and max_seq_length > limit:
        raise ConfigError(
            f"data.max_seq_length={max_seq_length} is out of range for model={model_cfg.name}: "
            f"allowed <= {limit} (its position embeddings); lower data.max_seq_length."
        )


def weights_problem(model_dir: Path) -> str | None:
    """Why a safetensors weight file in `model_dir` cannot be read, or None when all can."""
    for shard in sorted(Path(model_dir).glob("*.safetensors")):
        try:
            with safe_open(str(shard), framework="pt") as handle:
                handle.keys()
        except Exception as error:  # safetensors raises its own error type for damaged files
            return f"{shard.name} is damaged ({' '.join(str(error).split())})"
    return None
