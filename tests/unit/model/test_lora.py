"""LoRA (model/lora.py) on every tiny family: the family's own QA head is trained, a target
that is no module of the model is refused (also from its config alone, before any weights are
read), and merging the adapters changes no answer."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from qa_experiments.config.schema import ConfigError, LoraConfig, ModelConfig
from qa_experiments.errors import MissingPackageError
from qa_experiments.model.lora import (
    DEFAULT_TARGETS,
    check_lora,
    head_modules,
    merged,
    trainable_share,
    with_lora,
)
from qa_experiments.model.tiny_models import ARCHITECTURES, MODEL_TYPES, cached_tiny_model

HEADS = {"modernbert": ["classifier", "head"]}  # every other family: qa_outputs
LORA = OmegaConf.structured(LoraConfig(enabled=True))


def tiny(architecture):
    path = cached_tiny_model(architecture)
    return AutoModelForQuestionAnswering.from_pretrained(path), AutoTokenizer.from_pretrained(path)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_the_family_head_is_trainable_and_the_backbone_frozen(architecture):
    model, _ = tiny(architecture)
    assert head_modules(model) == HEADS.get(architecture, ["qa_outputs"])
    lora = with_lora(model, LORA)
    trainable = {name for name, p in lora.named_parameters() if p.requires_grad}
    for head in HEADS.get(architecture, ["qa_outputs"]):
        assert any(f".{head}.modules_to_save." in name for name in trainable), head
    assert any("lora_A" in name for name in trainable)
    assert all("lora_" in name or "modules_to_save" in name for name in trainable)
    share = trainable_share(lora)
    assert 0 < share["trainable_share"] < 0.2


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_merged_model_answers_exactly_as_the_adapter_model(architecture):
    model, tokenizer = tiny(architecture)
    lora = with_lora(model, LORA).eval()
    with torch.no_grad():  # trained-looking adapters and head: nothing is zero
        for parameter in lora.parameters():
            if parameter.requires_grad:
                parameter.add_(torch.randn_like(parameter) * 0.5)
    inputs = tokenizer(["Who wrote Hamlet?", "Where is Paris?"],
                       ["William Shakespeare wrote Hamlet around 1600.",
                        "Paris is the capital of France, on the Seine."],
                       padding=True, return_tensors="pt")
    with torch.no_grad():
        before = lora(**inputs)
        plain = merged(lora)
        after = plain(**inputs)
    assert not any("lora" in name for name, _ in plain.named_parameters())
    for a, b in ((before.start_logits, after.start_logits), (before.end_logits, after.end_logits)):
        assert torch.equal(a.argmax(-1), b.argmax(-1))
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_a_target_that_is_no_module_is_refused():
    model, _ = tiny("modernbert")
    bad = OmegaConf.structured(LoraConfig(enabled=True, target_modules=["query"]))
    with pytest.raises(ConfigError, match=r"query is not a module of modernbert.*Wqkv"):
        with_lora(model, bad)


def test_lora_without_peft_says_what_to_install(monkeypatch):
    model, _ = tiny("bert")
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(MissingPackageError) as missing:
        with_lora(model, LORA)
    assert str(missing.value) == ("model.lora.enabled=true needs the package 'peft', which is "
                                  "not installed: pip install 'qa-experiments[lora]'")


def config_only(architecture, tmp_path, **lora):
    """model.* for a directory holding only the tiny model's config.json (no weights)."""
    shutil.copy(Path(cached_tiny_model(architecture)) / "config.json", tmp_path)
    return OmegaConf.structured(ModelConfig(name=architecture, name_or_path=str(tmp_path),
                                            lora=LoraConfig(enabled=True, **lora)))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_the_pre_flight_check_reads_the_config_alone(architecture, tmp_path):
    check_lora(config_only(architecture, tmp_path))  # the family's default targets exist
    model_type = MODEL_TYPES[architecture]
    targets = DEFAULT_TARGETS[model_type]
    check_lora(config_only(architecture, tmp_path, target_modules=targets))
    with pytest.raises(ConfigError, match=f"nope is not a module of {model_type}"):
        check_lora(config_only(architecture, tmp_path, target_modules=[*targets, "nope"]))


def test_the_pre_flight_check_needs_peft_only_when_lora_is_on(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "peft", None)
    model_cfg = config_only("bert", tmp_path)
    with pytest.raises(MissingPackageError, match="pip install 'qa-experiments\\[lora\\]'"):
        check_lora(model_cfg)
    model_cfg.lora.enabled = False
    check_lora(model_cfg)
