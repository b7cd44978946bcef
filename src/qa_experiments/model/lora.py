"""LoRA fine-tuning (PEFT) that always trains the family's own question-answering head.

PEFT's QUESTION_ANS task type trains and saves a module named `qa_outputs`, which ModernBERT
does not have (its head is `head` + `classifier`): its head would stay random and frozen. So
the adapters are added without a task type, and the head is named by the model itself: every
top-level module with weights that is not the backbone goes into `modules_to_save`.
"""

from __future__ import annotations

from qa_experiments.config.schema import ConfigError
from qa_experiments.errors import extra, needs_package
from qa_experiments.model.loading import model_skeleton

# Attention projections LoRA adapts when model.lora.target_modules is null (the query and
# value projections of the LoRA paper; ModernBERT fuses them into Wqkv).
DEFAULT_TARGETS = {
    "bert": ["query", "value"],
    "electra": ["query", "value"],
    "roberta": ["query", "value"],
    "xlm-roberta": ["query", "value"],
    "distilbert": ["q_lin", "v_lin"],
    "deberta-v2": ["query_proj", "value_proj"],
    "modernbert": ["Wqkv"],
}


def head_modules(model) -> list[str]:
    """The model's task head: its top-level modules with weights other than the backbone."""
    return sorted(name for name, child in model.named_children()
                  if name != model.base_model_prefix and any(True for _ in child.parameters()))


def target_modules(model, lora_cfg) -> list[str]:
    """model.lora.target_modules, or the family's default; ConfigError for a name that is no
    module of the model's backbone."""
    model_type = model.config.model_type
    targets = lora_cfg.target_modules
    if targets is None:
        if model_type not in DEFAULT_TARGETS:
            raise ConfigError(f"model type {model_type!r} has no default LoRA target; set "
                              "model.lora.target_modules=[NAME,...] (its attention projections)")
        return list(DEFAULT_TARGETS[model_type])
    leaves = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    unknown = [t for t in targets if t not in leaves]
    if unknown or not targets:
        raise ConfigError(
            f"model.lora.target_modules={list(targets)}: {', '.join(unknown) or 'empty'} is not "
            f"a module of {model_type}; choose among its linear layers, e.g. "
            f"{DEFAULT_TARGETS.get(model_type, sorted(leaves)[:4])}")
    return list(targets)


def check_lora(model_cfg) -> None:
    """Before any data or weights are loaded: MissingPackageError without PEFT, ConfigError
    for a target that is no module of the model (checked on its config's skeleton)."""
    if not model_cfg.lora.enabled:
        return
    with needs_package("model.lora.enabled=true", extra("lora")):
        import peft  # noqa: F401

    target_modules(model_skeleton(model_cfg), model_cfg.lora)


def with_lora(model, lora_cfg):
    """`model` with LoRA adapters on its attention and its QA head fully trainable."""
    with needs_package("model.lora.enabled=true", extra("lora")):
        from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=lora_cfg.rank, lora_alpha=lora_cfg.alpha, lora_dropout=lora_cfg.dropout,
        target_modules=target_modules(model, lora_cfg), modules_to_save=head_modules(model),
    )
    return get_peft_model(model, config)


def trainable_share(model) -> dict[str, float | int]:
    """How many of the model's weights training updates, and their share."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable_parameters": trainable, "total_parameters": total,
            "trainable_share": round(trainable / total, 6) if total else 0.0}


def merged(model):
    """A LoRA model's adapters merged into plain weights (any other model as it is)."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
