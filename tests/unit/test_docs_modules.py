"""Every module a docstring, comment or page names exists: a rename or removal that leaves a
stale mention behind (a cache version to bump "when preprocessing.py changes", after that file
was split up) fails here, with the file and the name.

Checked: the docstrings and comments of src/, the comments of conf/, and docs/*.md, README.md,
CONTRIBUTING.md. A name is a path ending in .py (`qa_experiments/data/windows.py`, or relative
to the package, to src/ or to the repository root: `data/windows.py`, `scripts/x.py`; a bare
`windows.py` matches any file of that name in the repository), a package folder
(`qa_experiments/search/`), or a dotted name (`qa_experiments.cli.errors.run_command`: the
module, then a name it defines)."""

from __future__ import annotations

import ast
import dataclasses
import io
import re
import tokenize
from pathlib import Path

import pytest

from qa_experiments.config import schema

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = SRC / "qa_experiments"
# Files of other projects that the text names on purpose (Transformers' example script, ...).
EXTERNAL = {"run_qa.py", "utils_qa.py", "trainer_qa.py", "setup.py", "evaluate-v2.0.py",
            "evaluate-v1.1.py"}

DOTTED = re.compile(r"\bqa_experiments(?:\.\w+)+")
# Relative to the package: `runs.layout`, `cli.errors.run_command`.
SUBPACKAGES = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
RELATIVE = re.compile(rf"(?<![\w.+])(?:{'|'.join(SUBPACKAGES)})(?:\.\w+)+")
FILE_SUFFIXES = {"json", "jsonl", "yaml", "yml", "log", "md", "txt", "gz", "py", "csv", "html",
                 "onnx", "safetensors", "bin", "pt", "toml", "sh", "lock", "tmp"}
# `data.max_train_samples`, `model.name`: settings of the groups named like packages.
SETTINGS = {"data": {f.name for f in dataclasses.fields(schema.DataConfig)},
            "model": {f.name for f in dataclasses.fields(schema.ModelConfig)}}
PATH = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w-]+\.py)\b")
PACKAGE_DIR = re.compile(r"\bqa_experiments/((?:\w+/)+)(?!\w)")


def _python_text(path: Path) -> str:
    """The docstrings and comments of a Python file: its prose, not its code."""
    source = path.read_text(encoding="utf-8")
    parts = [tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline)
             if tok.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            parts.append(ast.get_docstring(node) or "")
    return "\n".join(parts)


def _yaml_comments(path: Path) -> str:
    return "\n".join(line.split("#", 1)[1] for line in
                     path.read_text(encoding="utf-8").splitlines() if "#" in line)


def _texts() -> dict[str, str]:
    texts = {str(p.relative_to(ROOT)): _python_text(p) for p in sorted(SRC.rglob("*.py"))}
    texts |= {str(p.relative_to(ROOT)): _yaml_comments(p)
              for p in sorted((ROOT / "conf").rglob("*.yaml"))}
    pages = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md", ROOT / "CONTRIBUTING.md"]
    texts |= {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in pages}
    return texts


def _repo_files() -> set[str]:
    return {p.name for folder in ("src", "scripts", "tests", "benchmarks", "docs")
            for p in (ROOT / folder).rglob("*.py")}


def _path_exists(name: str, file_names: set[str]) -> bool:
    if any(part.isupper() for part in re.split(r"[/.]", name)):
        return True  # a placeholder: `qa_experiments/NAME.py`
    if "/" not in name:
        return name in file_names or name in EXTERNAL
    name = name.removeprefix("src/").removeprefix("qa_experiments/")
    return any((base / name).is_file() for base in (PACKAGE, SRC, ROOT))


def _defines(module: Path, name: str) -> bool:
    """Whether a module's top level defines or imports `name`."""
    for node in ast.parse(module.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found = node.name == name
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found = any(isinstance(t, ast.Name) and t.id == name for t in targets)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found = any((a.asname or a.name.split(".")[0]) == name for a in node.names)
        else:
            found = False
        if found:
            return True
    return False


def _dotted_exists(name: str) -> bool:
    """qa_experiments.a.b[.attribute]: the modules exist, then the module defines the name."""
    where = SRC / "qa_experiments"
    parts = name.split(".")[1:]
    for i, part in enumerate(parts):
        if (where / part).is_dir():
            where = where / part
        elif (where / f"{part}.py").is_file():
            rest = parts[i + 1:]
            return not rest or _defines(where / f"{part}.py", rest[0])
        else:
            return i > 0 and _defines(where / "__init__.py", part)
    return True


def stale_mentions() -> list[str]:
    file_names = _repo_files()
    stale = []
    for source, text in _texts().items():
        for name in sorted(set(DOTTED.findall(text))):
            if not _dotted_exists(name.rstrip(".")):
                stale.append(f"{source}: {name}")
        for name in sorted(set(RELATIVE.findall(text))):
            package, first, *_ = name.split(".")
            if first in SETTINGS.get(package, ()) or name.split(".")[-1] in FILE_SUFFIXES:
                continue
            if not _dotted_exists("qa_experiments." + name):
                stale.append(f"{source}: {name}")
        for name in sorted(set(PATH.findall(text))):
            if not _path_exists(name, file_names):
                stale.append(f"{source}: {name}")
        for name in sorted(set(PACKAGE_DIR.findall(text))):
            if not (PACKAGE / name).is_dir():
                stale.append(f"{source}: qa_experiments/{name}")
    return stale


def test_every_named_module_exists():
    assert stale_mentions() == []


@pytest.mark.parametrize("text,found", [
    ("bump it when preprocessing.py changes", True),
    ("see `data/windows.py`", False),
    ("the `qa_experiments/evaluate/` package", True),
    ("qa_experiments.cli.errors.run_command prints it", False),
    ("qa_experiments.cli.errors.no_such_function", True),
    ("qa_experiments.scoring.model_eval", True),
])
def test_a_stale_name_is_found(text, found, monkeypatch):
    monkeypatch.setitem(globals(), "_texts", lambda: {"page.md": text})
    assert bool(stale_mentions()) is found
