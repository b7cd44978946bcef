"""Every shell command the documentation shows still works, without running it.

The commands are those in the fenced ```bash / ```sh / ```console blocks of README.md,
CONTRIBUTING.md and docs/**/*.md (a block marked ```text is an illustration and is left
alone). For each command:

- `qa-train ...`, `python -m qa_experiments.train ...` and `torchrun ... -m
  qa_experiments.train ...` compose with Hydra's compose API (the command's overrides, Hydra's
  own nodes included, so launcher and sweeper overrides must exist too; a sweep takes its
  first value) and pass `validate_config`: a misspelt key, an unknown choice or a value out
  of range fails here;
- every other console script of `pyproject.toml` (`qa-predict`, `qa-evaluate`, `qa-compare`,
  `qa-report`, `qa-wandb-sweep`, `qa-serve`, ...) and its `python -m` form parses with the
  command's own argument parser (`_parse_args`); `qa-wandb-sweep`'s overrides also compose
  with `hparams_search=optuna`;
- `python -m pytest -m EXPR` names only markers that `pyproject.toml` declares, and
  `pip install ".[EXTRA]"` only extras it defines;
- every path it names that lies in the repository (under src/, conf/, docs/, tests/,
  benchmarks/, scripts/, .ci/) exists.

Placeholders such as RUN_DIR or outputs/<date>/<time> are fine: argparse does not check that
a directory exists, and those paths are not in the repository.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep
from omegaconf import open_dict

from qa_experiments.config.paths import config_dir
from qa_experiments.config.schema import validate_config
from qa_experiments.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md",
                    *(ROOT / "docs").rglob("*.md")])
# The first path component of what is in the repository (the rest is the user's or generated).
REPOSITORY = ("src", "conf", "docs", "tests", "benchmarks", "scripts", ".ci")

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>bash|sh|console)[ \t]*\n(?P<body>.*?)^(?P=indent)```",
    re.MULTILINE | re.DOTALL)
OPERATORS = {"&&", "||", ";", "|"}

# Console script -> its module (pyproject.toml [project.scripts]); each module but train's
# parses its arguments with `_parse_args(argv)` (qa-wandb-sweep: `parse_args`).
SCRIPTS = dict(re.findall(r'^(qa-[\w-]+) = "([\w.]+):\w+"$',
                          (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.MULTILINE))
MODULES = {module: script for script, module in SCRIPTS.items()}
# Hydra's own command-line flags: not overrides (the second set takes a value).
HYDRA_FLAGS = {"-m", "--multirun", "--help", "-h", "--hydra-help", "--resolve", "--info"}
HYDRA_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-name", "-cn"}


@dataclass(frozen=True)
class Command:
    source: str  # FILE:LINE
    words: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.source}: {shlex.join(self.words)}"


def shell_commands(markdown: str, source: str = "<string>") -> list[Command]:
    """The commands of the shell blocks in `markdown`: one per pipeline element, `&&` or `;`
    part, with continuation lines joined, comments and `$ ` prompts removed (in a console
    block only the prompted lines are commands), leading VAR=value assignments dropped."""
    commands = []
    for block in FENCE.finditer(markdown):
        first_line = markdown.count("\n", 0, block.start()) + 2
        indent = len(block["indent"])
        lines = [line[indent:] for line in block["body"].splitlines()]
        if block["lang"] == "console":
            lines = [line[2:] for line in lines if line.startswith("$ ")]
        text = "\n".join(lines).replace("\\\n", " ")
        for offset, line in enumerate(text.splitlines()):
            lexer = shlex.shlex(line, posix=True)
            lexer.whitespace_split = True
            lexer.commenters = "#"
            words: list[str] = []
            for word in [*lexer, ";"]:
                if word in OPERATORS or word.endswith(";"):
                    word = word.rstrip(";")
                    if word and word not in OPERATORS:
                        words.append(word)
                    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
                        words.pop(0)
                    if words:
                        commands.append(Command(f"{source}:{first_line + offset}", tuple(words)))
                    words = []
                else:
                    words.append(word)
    return commands


def documented_commands() -> list[Command]:
    return [command for path in DOCUMENTS
            for command in shell_commands(path.read_text(encoding="utf-8"),
                                          str(path.relative_to(ROOT)))]


def check_command(command: Command) -> None:
    """AssertionError saying what is wrong with a documented command."""
    words = list(command.words)
    program, args = words[0], words[1:]
    if program in ("python", "python3") and args[:1] == ["-m"] and len(args) > 1:
        program, args = MODULES.get(args[1], args[1]), args[2:]
    elif program == "torchrun" and "-m" in args:
        at = args.index("-m")
        program, args = MODULES.get(args[at + 1], args[at + 1]), args[at + 2:]
    try:
        if program == "qa-train":
            check_train(args)
        elif program in SCRIPTS:
            parsed = parse(program, args)
            if program == "qa-wandb-sweep":
                check_train(["hparams_search=optuna", *parsed.overrides])
        elif program == "pytest":
            check_markers(args)
        elif program == "pip":
            check_extras(args)
    except AssertionError as error:
        raise AssertionError(f"{command}\n  {error}") from None
    for path in repository_paths(words):
        assert (ROOT / path).exists(), f"{command}\n  names {path}, which is not in the repository"


def parse(program: str, args: list[str]):
    """The command's parsed arguments; AssertionError with its one-line error otherwise."""
    module = importlib.import_module(SCRIPTS[program])
    parse_args = getattr(module, "_parse_args", None) or module.parse_args
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            return parse_args(args)
    except UserError as error:  # a bad argument (cli.arguments.UsageError)
        raise AssertionError(f"{program}: {error}") from None
    except SystemExit:
        raise AssertionError(stderr.getvalue().strip() or f"{program} exited") from None


def check_train(args: list[str]) -> None:
    """Compose the config of `qa-train ARGS` as the command would (a sweep: its first point)
    and run the config checks; AssertionError naming the first problem."""
    overrides, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in HYDRA_FLAGS:
            pass
        elif arg in HYDRA_FLAGS_WITH_VALUE:
            skip = True
        else:
            assert not arg.startswith("-"), f"unknown qa-train flag {arg}"
            overrides.append(first_point(arg))
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose("config", overrides=overrides, return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            del cfg["hydra"]
        validate_config(cfg)
    except Exception as error:  # Hydra's, OmegaConf's and our ConfigError alike
        message = " ".join(str(error).split())
        raise AssertionError(f"{type(error).__name__}: {message[:400]}") from None


def first_point(override: str) -> str:
    """`key=a,b` -> `key=a`; `key=interval(lo, hi)` (an Optuna range) -> `key=lo`."""
    try:
        parsed = OverridesParser.create().parse_override(override)
    except Exception as error:
        raise AssertionError(f"override {override!r} does not parse: {error}") from None
    if not parsed.is_sweep_override():
        return override
    value = parsed.value()
    first = value.start if isinstance(value, IntervalSweep) else next(
        parsed.sweep_string_iterator())
    return f"{parsed.get_key_element()}={first}"


def check_markers(args: list[str]) -> None:
    declared = set(re.findall(r'^\s*"(\w+):', pyproject_section("tool.pytest.ini_options"),
                              re.MULTILINE))
    for flag, expression in zip(args, args[1:]):
        if flag == "-m":
            used = set(re.findall(r"\w+", expression)) - {"not", "and", "or"}
            assert used <= declared, f"unknown pytest marker(s) {sorted(used - declared)}"


def check_extras(args: list[str]) -> None:
    defined = set(re.findall(r"^([\w-]+) = \[", pyproject_section("project.optional-dependencies"),
                             re.MULTILINE))
    for arg in args:
        match = re.fullmatch(r"\.\[([\w,-]+)\]", arg)
        if match:
            used = set(match[1].split(","))
            assert used <= defined, f"pyproject.toml defines no extra {sorted(used - defined)}"


def pyproject_section(name: str) -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    start = text.index(f"[{name}]")
    end = text.find("\n[", start + 1)
    return text[start:end if end > 0 else None]


def repository_paths(words: list[str]) -> list[str]:
    """The words (or the values of `key=value` / `--opt=value` words) that are paths into the
    repository."""
    paths = []
    for word in words:
        for candidate in (word, word.split("=", 1)[-1]):
            candidate = candidate.removeprefix("./")
            if "/" in candidate and candidate.split("/")[0] in REPOSITORY and not re.search(
                    r"[<>*]", candidate):
                paths.append(candidate.rstrip("/"))
                break
    return paths


COMMANDS = documented_commands()


def test_the_documentation_shows_commands():
    """The collector finds the commands (an empty list would make every check pass)."""
    programs = {command.words[0] for command in COMMANDS}
    assert {"qa-train", "qa-predict", "qa-evaluate", "qa-compare", "qa-report",
            "qa-wandb-sweep", "python"} <= programs
    assert len(COMMANDS) > 50


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_documented_command(command):
    check_command(command)


def test_a_misspelt_override_fails_the_check():
    """The checker's own test: a documented override with a typo, an unknown choice, a value
    out of range, a bad flag, an unknown marker or extra, or a missing file makes it fail."""
    markdown = "\n".join([
        "Text before.", "",
        "```bash",
        "qa-train optimizer.lrr=1e-4             # misspelt key",
        "qa-train -m model=robertaa,bert         # an unknown choice (the first point)",
        "python -m qa_experiments.train optimizer.lr=0",
        "qa-predict RUN_DIR --question 'Who?'    # --context missing",
        "qa-evaluate RUN_DIR --data src/qa_experiments/bundled_data/dev-v3.json.gz",
        "python -m pytest -q -m sloow",
        "pip install -e '.[swep]'",
        "qa-train optimizer.lr=1e-4              # and one that is right",
        "```",
        "",
        "```text",
        "qa-train optimizer.lrr=1e-4             # an illustration: not checked",
        "```",
    ])
    commands = shell_commands(markdown, "example.md")
    assert [c.source for c in commands] == [f"example.md:{n}" for n in range(4, 12)]
    failures = []
    for command in commands:
        try:
            check_command(command)
            failures.append(None)
        except AssertionError as error:
            failures.append(str(error))
    expected = ["optimizer.lrr", "robertaa", "optimizer.lr=0.0 is out of range", "--context",
                "dev-v3.json.gz, which is not in the repository", "sloow", "swep", None]
    for command, failure, fragment in zip(commands, failures, expected):
        if fragment is None:
            assert failure is None, failure
        else:
            assert failure is not None and fragment in failure, (str(command), failure)
    assert failures[0].startswith("example.md:4: qa-train optimizer.lrr=1e-4")  # where it is


def test_the_collector_reads_blocks_as_a_shell_would():
    markdown = "\n".join([
        "1. A step:",
        "",
        "   ```bash",
        "   HF_HUB_OFFLINE=1 qa-train model=bert \\",
        "       optimizer.lr=3e-5 && qa-compare multirun/x  # a comment",
        "   ```",
        "",
        "```console",
        "$ qa-report RUN_DIR | head",
        "Wrote RUN_DIR/report/report.md",
        "```",
    ])
    assert [c.words for c in shell_commands(markdown)] == [
        ("qa-train", "model=bert", "optimizer.lr=3e-5"),
        ("qa-compare", "multirun/x"),
        ("qa-report", "RUN_DIR"),
        ("head",),
    ]
