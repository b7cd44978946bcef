"""Config composition: every group choice composes and validates; mistakes fail early."""

from __future__ import annotations

import re

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError
from transformers import BertConfig, DebertaV2Config, RobertaConfig

from helpers import compose_config
from qa_experiments.config.paths import config_dir
from qa_experiments.config.schema import ConfigError, validate_config
from qa_experiments.model.loading import check_max_seq_length, check_window_room, max_input_length
from qa_experiments.training.experiment import build_training_arguments

GROUPS = ("model", "data", "optimizer", "hardware", "logger", "experiment")


def choices(group: str) -> list[str]:
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


@pytest.mark.parametrize(
    "group,choice", [(g, c) for g in GROUPS for c in choices(g)], ids=lambda v: str(v)
)
def test_every_group_choice_composes_and_validates(group, choice, tmp_path):
    overrides = [f"{group}={choice}"]
    if choice == "local":
        overrides += ["data.train_file=train.json", "data.eval_file=dev.json"]
    cfg = compose_config(overrides, tmp_path)
    validate_config(cfg)
    if choice == "gpu" and not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU is visible"):
            build_training_arguments(cfg, tmp_path)
        return
    args = build_training_arguments(cfg, tmp_path)
    assert args.learning_rate == cfg.optimizer.lr
    assert args.per_device_train_batch_size == cfg.hardware.train_batch_size


def test_model_choices_point_at_the_expected_backbones(tmp_path):
    names = {c: compose_config([f"model={c}"]).model.name_or_path for c in choices("model")}
    assert names["bert"].endswith("bert-base-uncased")
    assert names["distilbert"].endswith("distilbert-base-uncased")
    assert names["roberta"].endswith("roberta-base")
    assert (compose_config([]).model.name_or_path == names["minilm"])
    assert (__import__("pathlib").Path(names["minilm"]) / "config.json").is_file()


def test_trainer_node_passes_fields_through(tmp_path):
    cfg = compose_config(
        ["trainer.num_train_epochs=3", "trainer.per_device_train_batch_size=4",
         "trainer.max_grad_norm=0.5", "optimizer.lr=3e-5"]
    )
    args = build_training_arguments(cfg, tmp_path)
    assert (args.num_train_epochs, args.per_device_train_batch_size) == (3, 4)
    assert args.max_grad_norm == 0.5 and args.learning_rate == 3e-5


def test_unknown_key_fails_at_composition():
    with pytest.raises(ConfigCompositionException) as info:
        compose_config(["data.max_seq_lenght=256"])
    assert "max_seq_lenght" in str(info.value.__cause__ or info.value)


def test_wrong_type_fails_at_composition():
    with pytest.raises((ConfigCompositionException, ValidationError)):
        compose_config(["data.max_seq_length=long"])


def test_unknown_group_choice_lists_the_options():
    with pytest.raises(ConfigCompositionException, match="roberta"):
        compose_config(["model=robert"])


@pytest.mark.parametrize(("override", "message"), [
    ("+foo=1", "foo is not a setting .* allowed keys: model, data"),
    ("+data.n_best=3", r"data.n_best is not a setting .* did you mean data.n_best_size\?"),
    ("+pruning.report_evry=3", "pruning.report_evry is not .* did you mean pruning.report_every"),
])
def test_keys_added_outside_the_schema_are_refused(override, message):
    """`+key=value` adds a key even to a structured node; the run would ignore it silently."""
    with pytest.raises(ConfigError, match=message):
        validate_config(compose_config([override]))


def test_added_trainer_fields_stay_allowed():
    validate_config(compose_config(["+trainer.label_smoothing_factor=0.1"]))


def test_unknown_trainer_field_suggests_the_right_one():
    cfg = compose_config(["+trainer.num_train_epoch=2"])
    with pytest.raises(ConfigError, match="did you mean trainer.num_train_epochs"):
        validate_config(cfg)


def test_local_data_without_files_says_what_to_pass():
    cfg = compose_config(["data=local"])
    with pytest.raises(ConfigError, match="data.train_file=..."):
        validate_config(cfg)


@pytest.mark.parametrize(
    "override,message",
    [
        ("logger.wandb.mode=sometimes", "logger.wandb.mode"),
        ("hardware.precision=fp8", "hardware.precision"),
        ("data.doc_stride=400", "doc_stride"),
        ("data.max_eval_samples=0", "max_eval_samples"),
        ("data.preprocessing_num_workers=0", "preprocessing_num_workers"),
        ("optimizer.lr=0", "optimizer.lr=0.0 is out of range: allowed > 0"),
        ("optimizer.lr=-1e-5", "optimizer.lr=-1e-05 is out of range: allowed > 0"),
        ("trainer.learning_rate=0", "trainer.learning_rate=0 is out of range: allowed > 0"),
        ("hardware.train_batch_size=0", "train_batch_size=0 is out of range: allowed >= 1"),
        ("hardware.eval_batch_size=0", "hardware.eval_batch_size=0 is out of range: allowed >= 1"),
        ("trainer.per_device_eval_batch_size=0", "per_device_eval_batch_size=0 is out of range"),
        ("hardware.gradient_accumulation_steps=0", "gradient_accumulation_steps=0 is out of range"),
        ("hardware.dataloader_num_workers=-1", "dataloader_num_workers=-1 is out of range: "
                                               "allowed >= 0"),
        ("optimizer.betas=[0.9,1.0]", r"optimizer.betas\[1\]=1.0 is out of range: allowed in "
                                      r"\[0, 1\)"),
        ("optimizer.betas=[-0.1,0.999]", r"optimizer.betas\[0\]=-0.1 is out of range"),
        ("optimizer.betas=[0.9]", "must be two numbers"),
        ("data.doc_stride=0", "data.doc_stride=0 is out of range: allowed >= 1"),
        ("seed=-1", r"seed=-1 is out of range: allowed in \[0, 2\*\*32\)"),
        ("data.n_best_size=0", "data.n_best_size=0 is out of range: allowed >= 1"),
        ("data.max_answer_length=0", "data.max_answer_length=0 is out of range: allowed >= 1"),
        ("data.max_question_length=0", "data.max_question_length=0 is out of range"),
        ("data.length_bucket_width=0", "length_bucket_width=0 is out of range"),
        ("data.null_score_diff_threshold=tuned", "must be a number or auto"),
        ("data.null_score_diff_threshold=[1]", "must be a number or auto"),
        ("data.nbest_predictions_size=0", "nbest_predictions_size=0 is out of range"),
    ],
)
def test_bad_values_are_refused_with_the_key(override, message):
    cfg = compose_config([override])
    with pytest.raises(ConfigError, match=message):
        validate_config(cfg)


@pytest.mark.parametrize(
    "config,limit",
    [
        (RobertaConfig(max_position_embeddings=514, pad_token_id=1), 512),  # padding offset
        (BertConfig(max_position_embeddings=128), 128),
        (DebertaV2Config(position_biased_input=False), None),  # relative positions only
    ],
    ids=["roberta", "bert", "deberta-v2"],
)
def test_max_seq_length_is_checked_against_the_model_config(config, limit, tmp_path):
    config.save_pretrained(tmp_path)  # a config alone: no weights are needed or loaded
    model_cfg = compose_config([f"model.name_or_path={tmp_path}"]).model
    assert max_input_length(model_cfg) == limit
    check_max_seq_length(model_cfg, limit or 100_000)
    if limit:
        with pytest.raises(ConfigError, match=f"data.max_seq_length={limit + 1} is out of range "
                                              f"for model=minilm: allowed <= {limit}"):
            check_max_seq_length(model_cfg, limit + 1)


def test_fp16_on_cpu_is_refused(tmp_path):
    cfg = compose_config(["hardware=cpu", "hardware.precision=fp16"])
    with pytest.raises(ConfigError, match="fp16"):
        build_training_arguments(cfg, tmp_path)



def test_user_presets_join_through_the_search_path(tmp_path):
    import subprocess
    import sys

    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text(
        "# @package _global_\noptimizer:\n  lr: 7e-5\n")
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", f"hydra.searchpath=[file://{tmp_path}]",
         "experiment=mine", "--cfg", "job", "--resolve"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert "lr: 7.0e-05" in done.stdout and "learning_rate: 7.0e-05" in done.stdout


def test_presets_override_the_primary_config():
    cfg = compose_config(["experiment=quickstart"])
    assert cfg.trainer.num_train_epochs == 1 and cfg.optimizer.lr == 1e-4
    assert cfg.hardware.train_batch_size == 4
    assert cfg.data.max_train_samples == 1000
    assert all(tracker is None for tracker in cfg.logger.values())  # logger=none
    cfg = compose_config(["experiment=notebook"])
    assert (cfg.model.name, cfg.hardware.train_batch_size, cfg.trainer.num_train_epochs) == (
        "bert", 8, 3)
    assert cfg.data.pad_to_max_length and cfg.data.max_train_features == 1000


@pytest.mark.parametrize("model,special", [("tiny_bert", 3), ("tiny_roberta", 4)])
def test_window_room_counts_the_tokenizers_own_special_tokens(model, special):
    """A stride that leaves one token of new context passes; one more is refused, and where
    the line falls depends on the tokenizer (RoBERTa pairs take four special tokens)."""
    room = 128 - 32 - special
    fits = compose_config([f"model={model}", "data.max_seq_length=128",
                           "data.max_question_length=32", f"data.doc_stride={room - 1}"])
    check_window_room(fits.model, fits.data)
    too_long = compose_config([f"model={model}", "data.max_seq_length=128",
                               "data.max_question_length=32", f"data.doc_stride={room}"])
    with pytest.raises(ConfigError, match=f"{special} special tokens; lower the stride below "
                                          f"{room}"):
        check_window_room(too_long.model, too_long.data)


@pytest.mark.parametrize("key", ["task_name", "output_dir"])
def test_keys_nothing_reads_are_refused(key):
    with pytest.raises(ConfigCompositionException, match=key):
        compose_config([f"{key}=somewhere"])


def test_optuna_sweeper_maximises_without_the_preset():
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["hydra/sweeper=optuna"], return_hydra_config=True)
    assert cfg.hydra.sweeper.direction == "maximize"


@pytest.mark.parametrize(
    "override,message",
    [
        ("trainer.num_train_epochs=0", "trainer.num_train_epochs=0 trains nothing"),
        ("trainer.max_steps=0", "trainer.max_steps=0 trains nothing"),
        ("trainer.num_train_epochs=abc", "trainer.num_train_epochs='abc' must be a number"),
        ("trainer.num_train_epochs=null", "trainer.num_train_epochs=null must be a number"),
        ("trainer.num_train_epochs=1e308", "must be a number of epochs in [0, 10000]"),
        ("trainer.max_steps=abc", "trainer.max_steps='abc' must be a whole number"),
        ("data.null_score_diff_threshold=nan", "data.null_score_diff_threshold=nan is not a "
                                               "finite number"),
        ("optimizer.lr=inf", "optimizer.lr=inf is not a finite number"),
        ("optimizer.weight_decay=-0.1", "optimizer.weight_decay=-0.1 is out of range"),
        ("optimizer.eps=0", "optimizer.eps=0.0 is out of range: allowed > 0"),
        ("+trainer.fp16=true", "trainer.fp16 is set by hardware.precision"),
        ("+trainer.output_dir=/elsewhere", "trainer.output_dir is the run directory's"),
        ("data.null_score_diff_threshold=auto", "data.version_2_with_negative=false"),
    ],
)
def test_settings_that_would_train_nothing_or_silently_wrong_are_refused(override, message):
    cfg = compose_config([override])
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate_config(cfg)


# Every trainer key the project passes to TrainingArguments (conf/config.yaml), and others a user
# may add, with values of the wrong type or out of range: refused by validate_config, before
# any data is loaded (they failed after it with a traceback, or were silently used).
HOSTILE_TRAINER_VALUES = [
    ("trainer.save_steps=-3", "trainer.save_steps=-3 is out of range: allowed a whole number"),
    ("trainer.save_steps=0", "trainer.save_steps=0 is out of range"),
    ("trainer.save_steps=2.5", "trainer.save_steps=2.5 is out of range"),
    ("trainer.save_steps=1e20", "trainer.save_steps=1e+20 is out of range"),
    ("trainer.save_steps=abc", "trainer.save_steps='abc' must be a number."),
    ("trainer.save_steps=true", "trainer.save_steps=true must be a number."),
    ("trainer.save_steps=null", "trainer.save_steps=null must be a number."),
    ("trainer.logging_steps=0", "trainer.logging_steps=0 is out of range"),
    ("trainer.logging_steps=-1", "trainer.logging_steps=-1 is out of range"),
    ("trainer.save_total_limit=-1", "trainer.save_total_limit=-1 is out of range: allowed >= 1, "
                                    "or null (keep every checkpoint)"),
    ("trainer.save_total_limit=0", "trainer.save_total_limit=0 is out of range"),
    ("trainer.save_total_limit=abc", "trainer.save_total_limit='abc' must be a whole number or "
                                     "null."),
    ("trainer.max_steps=-3", "trainer.max_steps=-3 is out of range: allowed -1 (train for "
                             "trainer.num_train_epochs) or in [1, 1,000,000,000]"),
    ("trainer.max_steps=100000000000000000000", "trainer.max_steps=100000000000000000000 is out "
                                                "of range"),
    ("trainer.max_steps=2.0", "trainer.max_steps=2.0 must be a whole number."),
    ("trainer.max_grad_norm=abc", "trainer.max_grad_norm='abc' must be a number."),
    ("trainer.max_grad_norm=-1", "trainer.max_grad_norm=-1 is out of range: allowed >= 0"),
    ("trainer.warmup_steps=1e20", "trainer.warmup_steps=1e+20 is out of range"),
    ("trainer.per_device_train_batch_size=2.5", "trainer.per_device_train_batch_size=2.5 must "
                                                "be a whole number."),
    ("trainer.gradient_accumulation_steps=0", "trainer.gradient_accumulation_steps=0 is out of "
                                              "range: allowed >= 1"),
    ("trainer.dataloader_num_workers=-1", "trainer.dataloader_num_workers=-1 is out of range"),
    ("trainer.logging_first_step=maybe", "trainer.logging_first_step='maybe' must be true or "
                                         "false."),
    ("trainer.logging_first_step=3", "trainer.logging_first_step=3 must be true or false."),
    ("trainer.logging_nan_inf_filter=null", "trainer.logging_nan_inf_filter=null must be true "
                                            "or false."),
    ("trainer.disable_tqdm=3", "trainer.disable_tqdm=3 must be true, false or null."),
    ("trainer.torch_compile=maybe", "trainer.torch_compile='maybe' must be true or false."),
    ("trainer.dataloader_pin_memory=2", "trainer.dataloader_pin_memory=2 must be true or false."),
    ("trainer.activation_checkpointing=yes", "trainer.activation_checkpointing='yes' must be "
                                             "true, false or null."),
    ("trainer.save_strategy=weird", "trainer.save_strategy='weird' is not one of 'steps', "
                                    "'epoch', 'no'"),
    ("trainer.save_strategy=best", "best needs an evaluation during training"),
    ("trainer.eval_strategy=steps", "trainer.eval_strategy='steps' must be 'no': SQuAD EM/F1 is "
                                    "computed after training"),
    ("trainer.lr_scheduler_type=bogus", "trainer.lr_scheduler_type='bogus' must be one of "
                                        "linear, cosine"),
    ("trainer.optim=bogus", "trainer.optim='bogus' must be one of adamw_torch"),
    ("trainer.include_num_input_tokens_seen=bogus", "trainer.include_num_input_tokens_seen="
                                                    "'bogus' is not one of true, false, 'all'"),
    ("+trainer.logging_strategy=bogus", "trainer.logging_strategy='bogus' must be one of no, "
                                        "steps, epoch."),
    ("+trainer.load_best_model_at_end=true", "trainer.load_best_model_at_end=true must be false"),
    ("+trainer.label_smoothing_factor=2", "trainer.label_smoothing_factor=2 is out of range: "
                                          "allowed in [0, 1)"),
    ("+trainer.eval_steps=-1", "trainer.eval_steps=-1 is out of range"),
    ("+trainer.data_seed=-1", "trainer.data_seed=-1 is out of range: allowed in [0, 2**32)"),
    ("+trainer.eval_accumulation_steps=0", "trainer.eval_accumulation_steps=0 is out of range"),
    ("+trainer.torch_empty_cache_steps=0", "trainer.torch_empty_cache_steps=0 is out of range"),
    ("+trainer.ddp_timeout=-1", "trainer.ddp_timeout=-1 is out of range"),
    ("+trainer.neftune_noise_alpha=-1", "trainer.neftune_noise_alpha=-1 is out of range"),
    ("+trainer.run_name=[1,2]", "trainer.run_name=[1, 2] must be text or null."),
    ("+trainer.use_cpu=3", "trainer.use_cpu=3 must be true or false."),
    ("+trainer.seed=5", "trainer.seed is set by seed; remove it and use seed=N instead."),
    ("+trainer.report_to=wandb", "trainer.report_to is set by logger"),
    ("optimizer.warmup=-1", "optimizer.warmup=-1.0 is out of range"),
]


@pytest.mark.parametrize("override,message", HOSTILE_TRAINER_VALUES,
                         ids=[o for o, _ in HOSTILE_TRAINER_VALUES])
def test_trainer_values_of_the_wrong_type_or_out_of_range_are_refused(override, message):
    cfg = compose_config([override])
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate_config(cfg)


@pytest.mark.parametrize("override", [
    "trainer.save_steps=0.5", "trainer.save_steps=1", "trainer.logging_steps=0.1",
    "trainer.save_total_limit=null", "trainer.save_total_limit=1", "trainer.max_steps=7",
    "trainer.save_strategy=epoch", "trainer.save_strategy=no", "trainer.disable_tqdm=null",
    "trainer.include_num_input_tokens_seen=true", "+trainer.eval_steps=10",
    "+trainer.label_smoothing_factor=0.1", "trainer.warmup_steps=0", "trainer.max_grad_norm=0",
    "+trainer.gradient_checkpointing=true", "trainer.lr_scheduler_type=cosine",
])
def test_trainer_values_in_range_still_pass(override, tmp_path):
    cfg = compose_config([override], tmp_path)
    validate_config(cfg)
    build_training_arguments(cfg, tmp_path)  # and TrainingArguments takes them


def test_every_trainer_key_of_the_config_is_type_checked():
    """The general check covers every key conf/config.yaml passes to TrainingArguments."""
    from qa_experiments.config.schema import TRAINER_CHOICES, _trainer_field_types

    cfg = compose_config([])
    unchecked = [key for key in cfg.trainer
                 if key not in _trainer_field_types() and key not in TRAINER_CHOICES]
    assert unchecked == []


def test_max_steps_alone_may_train_with_zero_epochs():
    validate_config(compose_config(["trainer.num_train_epochs=0", "trainer.max_steps=5"]))
