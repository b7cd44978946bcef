"""Loading a backbone: a tokenizer QA windows cannot use is a user error, raised where it is
found."""

from __future__ import annotations

import json

import pytest
import torch
from omegaconf import OmegaConf
from transformers import AutoConfig, AutoModelForQuestionAnswering

from qa_experiments.config.schema import ConfigError, ModelConfig
from qa_experiments.errors import UserError
from qa_experiments.model.loading import (
    ModelLoadError,
    evenly_spaced,
    load_model,
    load_tokenizer,
)


def test_a_tokenizer_without_offsets_is_a_model_load_error(tmp_path):
    """ByT5's tokenizer exists only in Python (no offset mappings)."""
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "ByT5Tokenizer"}))
    model_cfg = OmegaConf.structured(ModelConfig(name="byt5", name_or_path=str(tmp_path)))
    with pytest.raises(ModelLoadError, match="is not a fast \\(Rust\\) tokenizer") as raised:
        load_tokenizer(model_cfg)
    assert isinstance(raised.value, UserError)


def test_tokenizer_files_that_do_not_load_are_a_model_load_error_naming_them(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text("{not json")
    model_cfg = OmegaConf.structured(ModelConfig(name="bad", name_or_path=str(tmp_path)))
    with pytest.raises(ModelLoadError, match=f"Cannot load the tokenizer in '{tmp_path}'"):
        load_tokenizer(model_cfg)


@pytest.mark.parametrize("content", ["{}", "[]", "3", '{"added_tokens": 3}',
                                     '{"added_tokens": [{"x": 1}]}'])
def test_a_tokenizer_json_of_the_wrong_shape_is_a_model_load_error(tmp_path, content):
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "BertTokenizer"}))
    (tmp_path / "tokenizer.json").write_text(content)
    model_cfg = OmegaConf.structured(ModelConfig(name="bad", name_or_path=str(tmp_path)))
    with pytest.raises(ModelLoadError, match=f"Cannot load the tokenizer in '{tmp_path}'"):
        load_tokenizer(model_cfg)
@pytest.mark.parametrize("arch", ["bert", "roberta", "distilbert"])
def test_num_hidden_layers_keeps_evenly_spaced_layers_of_the_checkpoint(tmp_path, arch):
    source = AutoModelForQuestionAnswering.from_config(AutoConfig.for_model(
        arch, vocab_size=50, hidden_size=16, dim=16, hidden_dim=32, intermediate_size=32,
        num_attention_heads=2, n_heads=2, num_hidden_layers=5, n_layers=5))
    source.save_pretrained(tmp_path)
    model_cfg = OmegaConf.structured(ModelConfig(name=arch, name_or_path=str(tmp_path)))
    model_cfg.num_hidden_layers = 3
    student = load_model(model_cfg)

    assert student.config.num_hidden_layers == 3
    weights = source.state_dict()
    kept = student.state_dict()
    layer = "transformer.layer" if arch == "distilbert" else "encoder.layer"
    for index, chosen in enumerate([0, 2, 4]):
        prefix = f"{student.base_model_prefix}.{layer}."
        names = [k for k in kept if k.startswith(f"{prefix}{index}.")]
        assert names
        for key in names:
            source_key = key.replace(f"{prefix}{index}.", f"{prefix}{chosen}.")
            assert torch.equal(kept[key], weights[source_key]), key
    assert not any(k.startswith(f"{student.base_model_prefix}.{layer}.3.") for k in kept)
    student.save_pretrained(tmp_path / "student")  # a plain model of 3 layers
    reloaded = AutoModelForQuestionAnswering.from_pretrained(tmp_path / "student")
    assert all(torch.equal(reloaded.state_dict()[k], v) for k, v in kept.items())


def test_evenly_spaced_layers_match_distilbert_from_bert():
    assert evenly_spaced(12, 6) == [0, 2, 4, 7, 9, 11]
    assert evenly_spaced(6, 3) == [0, 3, 5]
    assert evenly_spaced(4, 4) == [0, 1, 2, 3]


def test_more_layers_than_the_checkpoint_has_is_a_config_error(tmp_path):
    AutoModelForQuestionAnswering.from_config(AutoConfig.for_model(
        "bert", vocab_size=50, hidden_size=16, intermediate_size=32, num_attention_heads=2,
        num_hidden_layers=2)).save_pretrained(tmp_path)
    model_cfg = OmegaConf.structured(ModelConfig(name="bert", name_or_path=str(tmp_path)))
    model_cfg.num_hidden_layers = 3
    with pytest.raises(ConfigError, match="model.num_hidden_layers=3 is out of range"):
        load_model(model_cfg)
