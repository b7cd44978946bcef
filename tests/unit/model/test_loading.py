"""Loading a backbone: a tokenizer QA windows cannot use is a user error, raised where it is
found."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from qa_experiments.config.schema import ModelConfig
from qa_experiments.errors import UserError
from qa_experiments.model.loading import ModelLoadError, load_tokenizer


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
