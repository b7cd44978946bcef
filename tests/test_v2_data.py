"""SQuAD v2 data that teaches abstention: the bundled dev split and limits that keep the mix."""

from __future__ import annotations

import sys
from pathlib import Path

from qa_experiments.config.paths import BUNDLED_DATA_DIR
from qa_experiments.data.splits import load_split
from qa_experiments.data.squad_files import read_squad_file
from scripts import build_v2_dev_split as v2_dev_split

sys.path.insert(0, str(Path(__file__).parent))
from helpers import compose_config  # noqa: E402


def questions(path):
    return read_squad_file(path)


def unanswerable(records):
    return sum(not r["answers"] for r in records)


def test_shipped_split_is_what_the_module_builds_from_the_official_files():
    built_train, built_eval = v2_dev_split.build()
    shipped_train = v2_dev_split.read_gzip_json(BUNDLED_DATA_DIR / v2_dev_split.SPLIT_TRAIN)
    shipped_eval = v2_dev_split.read_gzip_json(BUNDLED_DATA_DIR / v2_dev_split.SPLIT_EVAL)
    assert shipped_train == built_train and shipped_eval == built_eval


def test_split_is_byte_reproducible(tmp_path):
    train, _ = v2_dev_split.build()
    v2_dev_split.write_gzip_json(tmp_path / "a.json.gz", train)
    v2_dev_split.write_gzip_json(tmp_path / "b.json.gz", train)
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()


def test_split_has_the_stated_counts(split_files):
    train, held_out = split_files
    assert (len(train), unanswerable(train)) == (4_719 + 2_945, 348 + 1_461)
    assert (len(held_out), unanswerable(held_out)) == (8_928, 4_484)
    official = questions(BUNDLED_DATA_DIR / v2_dev_split.OFFICIAL_DEV)
    dev_in_train = [r for r in train if r["id"] in {o["id"] for o in official}]
    # every official dev question is in exactly one part
    assert len(dev_in_train) + len(held_out) == len(official) == 11_873


def test_sample_v2_limits_keep_the_mix_of_the_bundled_files():
    cfg = compose_config(["data=sample_v2", "data.max_train_samples=1000",
                          "data.max_eval_samples=2000"]).data
    train, report = load_split(cfg, "train")
    held_out, _ = load_split(cfg, "eval")
    assert len(train) == 1000 == report.examples_used
    assert sum(not a["text"] for a in train["answers"]) == round(1000 * 1_809 / 7_664)
    assert len(held_out) == 2000
    assert sum(not a["text"] for a in held_out["answers"]) == round(2000 * 4_484 / 8_928)


def test_official_v2_train_subset_keeps_its_few_unanswerable_questions_in_a_small_run():
    cfg = compose_config(["data=sample_v2_official", "data.max_train_samples=1000"]).data
    train, _ = load_split(cfg, "train")
    # the first 1,000 questions of the file hold none
    assert sum(not a["text"] for a in train["answers"]) == round(1000 * 348 / 4_719) > 0
    assert cfg.eval_file.endswith("dev-v2.0.json.gz") and cfg.eval_note is None


def test_reference_v2_preset_is_sized_and_labelled():
    cfg = compose_config(["experiment=reference_v2"])
    assert cfg.data.name == "sample_v2" and cfg.data.max_train_samples is None
    assert cfg.data.max_eval_samples == 2000 and cfg.trainer.num_train_epochs == 1
    assert cfg.model.name == "minilm"
    assert "not comparable to published dev-v2.0" in cfg.data.eval_note
