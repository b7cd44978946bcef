"""The one error format: the message of a missing package, and no module but errors.py that
writes the `PROG: error:` line itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from qa_experiments.errors import MissingPackageError, UserError, extra, needs_package

SOURCES = Path(__file__).resolve().parents[2] / "src"


def test_a_missing_package_says_who_needs_it_and_the_pip_command():
    with pytest.raises(MissingPackageError) as raised:
        with needs_package("qa-serve", extra("serve")):
            import qa_experiments_no_such_module  # noqa: F401
    assert isinstance(raised.value, UserError)
    assert str(raised.value) == ("qa-serve needs the package 'qa_experiments_no_such_module', "
                                 "which is not installed: pip install 'qa-experiments[serve]'")


def test_a_failure_inside_an_installed_package_is_not_called_missing():
    with pytest.raises(ZeroDivisionError):
        with needs_package("qa-serve", extra("serve")):
            1 / 0  # noqa: B018


def _strings(tree: ast.Module) -> list[tuple[int, str]]:
    """Every string literal (f-strings' text parts too), docstrings left out."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def _calls(tree: ast.Module, name: str) -> list[int]:
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call) and (
        getattr(node.func, "id", None) == name or getattr(node.func, "attr", None) == name)]


def test_only_errors_py_writes_the_error_line_and_only_cli_errors_calls_it():
    """Every command, Hydra hook and argument parser reports through `cli.errors` (`run_command`;
    `report_skipped` for an input line a command reads on past), which calls
    `errors.report_error`, the one place the `PROG: error:` format is written."""
    formats, reporters = [], []
    for path in sorted(SOURCES.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        name = path.relative_to(SOURCES).as_posix()
        formats += [f"{name}:{line}" for line, text in _strings(tree) if "error:" in text]
        reporters += [f"{name}:{line}" for line in _calls(tree, "report_error")]
    assert [where.split(":")[0] for where in formats] == ["qa_experiments/errors.py"], formats
    assert {where.split(":")[0] for where in reporters} == {"qa_experiments/cli/errors.py"}, (
        reporters)
