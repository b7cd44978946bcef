"""The run-directory contract (runs/layout.py) is the only place that spells a run file's name
or a run's status: every other module of the package takes them from it."""

from __future__ import annotations

import ast
from pathlib import Path

from qa_experiments.runs import layout

PACKAGE = Path(layout.__file__).resolve().parents[1]
CONTRACT = Path(layout.__file__).resolve()
STATUSES = {layout.RUNNING, layout.FINISHED, layout.FAILED, layout.PRUNED}
# Names written anywhere as a whole string are a run file's; a directory's name ("model",
# "report") is also a config key or a word, so it counts only where it joins a path.
FILE_NAMES = {value for name, value in vars(layout).items()
              if name.isupper() and isinstance(value, str) and "." in value}
DIR_NAMES = {layout.MODEL_DIR, layout.REPORT_DIR, layout.CHECKPOINTS_DIR, layout.WANDB_DIR}
PATH_METHODS = {"joinpath", "with_name"}


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring nodes of a module, its classes and functions."""
    owners = [tree, *(node for node in ast.walk(tree) if isinstance(
        node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)))]
    return {id(owner.body[0].value) for owner in owners
            if owner.body and isinstance(owner.body[0], ast.Expr)
            and isinstance(owner.body[0].value, ast.Constant)}


def _path_parts(tree: ast.Module) -> set[int]:
    """The ids of the nodes that are a path component (`x / "name"`, `x.joinpath("name")`) or
    a module's constant (`REPORT_DIR = "report"`, a second declaration of a name)."""
    parts = {id(node.value) for node in tree.body if isinstance(node, ast.Assign)}
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts |= {id(node.left), id(node.right)}
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in PATH_METHODS):
            parts |= {id(arg) for arg in node.args}
    return parts


def contract_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string literal in `source` that spells a run file's name or a
    status outside a docstring."""
    tree = ast.parse(source)
    docstrings, path_parts = _docstrings(tree), _path_parts(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if id(node) in docstrings:
            continue
        if node.value in FILE_NAMES | STATUSES or (
                node.value in DIR_NAMES and id(node) in path_parts):
            found.append((node.lineno, node.value))
    return sorted(found)


def test_no_module_spells_a_run_file_name_or_status_outside_the_contract():
    leaks = [f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}"
             for path in sorted(PACKAGE.rglob("*.py")) if path != CONTRACT
             for line, text in contract_literals(path.read_text(encoding="utf-8"))]
    assert not leaks, "take these from qa_experiments.runs.layout:\n" + "\n".join(leaks)


def test_the_check_finds_names_and_statuses_but_not_docstrings_or_config_keys():
    source = '''
"""Reads status.json."""
REPORT_DIR = "report"
def f(run_dir, config):
    """Whether results.json is "finished"."""
    model = config["model"]  # a config key, not the model/ directory
    done = read(run_dir / "status.json")["status"] == "finished"
    return run_dir / "model", run_dir.joinpath("report"), run_dir.with_name("results.json")
'''
    assert contract_literals(source) == [(3, "report"), (7, "finished"), (7, "status.json"),
                                         (8, "model"), (8, "report"), (8, "results.json")]


def test_the_contract_names_every_file_a_run_holds():
    assert {layout.CALIBRATION, layout.EXPORT_SETTINGS, layout.MODEL_SETTINGS} <= FILE_NAMES
    assert layout.RUN_FILES <= FILE_NAMES
