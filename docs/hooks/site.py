"""MkDocs hooks of the documentation site (mkdocs.yml `hooks:`); kept out of the site itself
(`exclude_docs`).

- `<!-- github-only -->...<!-- /github-only -->` is dropped: a note for readers of the
  Markdown files on GitHub (where the includes and generated tables below are not expanded).
- `<!-- include FILE -->` in a page is replaced by FILE from the repository root (README.md,
  CONTRIBUTING.md, CHANGELOG.md), so that those files stay the one copy of their text; their
  links into `docs/` and to each other are rewritten to the pages of the site.
- `<!-- docstring src/PATH.py -->` is replaced by that module's docstring (the run-directory
  contract of `runs/layout.py`), so the page shows the contract the code states; indented
  (inside an admonition), every line of it is.
- `<!-- config-reference -->` is replaced by tables of every config key, generated from the
  structured schema (`src/qa_experiments/config/schema.py`: the dataclass fields, their types,
  defaults and comments, the trainer defaults, and the CHOICES / RANGES checks) and the YAML
  groups in `conf/`, so the reference cannot drift from the code.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import re
import sys
import tokenize
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"

INCLUDE = re.compile(r"<!-- include (\S+) -->")
# A note for readers of the Markdown on GitHub, which the site does not need.
GITHUB_ONLY = re.compile(r"<!-- github-only -->.*?<!-- /github-only -->\n?", re.DOTALL)
# Where a link in an included root file points to in the site.
ROOT_PAGES = {"README.md": "index.md", "CHANGELOG.md": "changelog.md",
              "CONTRIBUTING.md": "development.md"}
LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)#\s]+)((?:#[^)\s]*)?)\)")

# `<!-- docstring src/PATH.py -->`: that module's docstring, as Markdown.
DOCSTRING = re.compile(r"^([ \t]*)<!-- docstring (\S+) -->", re.MULTILINE)

GROUPS = ("model", "data", "optimizer", "hardware", "logger", "experiment", "hparams_search",
          "debug", "hydra/launcher")


def on_page_markdown(markdown: str, page, config, files) -> str:
    markdown = GITHUB_ONLY.sub("", markdown)
    markdown = INCLUDE.sub(lambda m: _included(m.group(1)), markdown)
    markdown = DOCSTRING.sub(lambda m: "\n".join(
        m.group(1) + line if line else line
        for line in module_docstring(m.group(2)).splitlines()), markdown)
    if "<!-- config-reference -->" in markdown:
        markdown = markdown.replace("<!-- config-reference -->", config_reference())
    return markdown


def _included(name: str) -> str:
    text = (ROOT / name).read_text(encoding="utf-8")

    def relink(match: re.Match) -> str:
        target, anchor = match.groups()
        if target.startswith("docs/"):
            target = target[len("docs/"):]
        else:
            target = ROOT_PAGES.get(target, target)
        return f"]({target}{anchor})"

    return LINK.sub(relink, text)


def module_docstring(path: str) -> str:
    """The docstring of the module at `path` (from the repository root) as Markdown: a list
    that follows a line of text directly gets the blank line Markdown needs before it."""
    doc = ast.get_docstring(ast.parse((ROOT / path).read_text(encoding="utf-8"))) or ""
    lines: list[str] = []
    for line in doc.splitlines():
        if line.startswith("- ") and lines and lines[-1].strip() and not lines[-1].startswith(
                ("- ", "  ")):
            lines.append("")
        lines.append(line)
    return "\n".join(lines)


# -- the configuration reference -------------------------------------------------------------


def config_reference() -> str:
    try:
        from qa_experiments.config import schema
    except ImportError:  # the docs built from a checkout without `pip install -e .`
        sys.path.insert(0, str(ROOT / "src"))
        from qa_experiments.config import schema

    source = Path(schema.__file__).read_text(encoding="utf-8")
    comments = _field_comments(source)
    parts = []
    nested = [f for f in dataclasses.fields(schema.Config) if dataclasses.is_dataclass(f.type)
              or isinstance(f.type, str) and f.type.endswith("Config")]
    top = [f for f in dataclasses.fields(schema.Config)
           if f not in nested and f.name != "trainer"]  # trainer: its own table below
    for fld in nested:
        cls = getattr(schema, fld.type) if isinstance(fld.type, str) else fld.type
        doc = " ".join((cls.__doc__ or "").split())
        parts.append(f"### `{fld.name}`\n\n{doc} Class `{cls.__name__}`.\n")
        parts.append(_key_table(schema, cls, f"{fld.name}.", comments))
        parts += _sub_tables(schema, cls, f"{fld.name}.", comments)
    parts.append("### Top level\n")
    parts.append(_key_table(schema, schema.Config, "", comments, only=top))
    parts.append(_trainer_table(schema))
    parts.append(_groups_section())
    return "\n".join(parts)


def _field_comments(source: str) -> dict[tuple[str, str], str]:
    """(class, field) -> the comment on the field's line and any comment lines just above it."""
    lines = source.splitlines()
    trailing: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            trailing[tok.start[0]] = tok.string.lstrip("#").strip()
    found = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
                continue
            above = []
            line = item.lineno - 1
            while line >= 1 and lines[line - 1].strip().startswith("#"):
                above.insert(0, lines[line - 1].strip().lstrip("#").strip())
                line -= 1
            own = trailing.get(item.end_lineno) if not lines[item.end_lineno - 1].strip(
            ).startswith("#") else None
            found[(node.name, item.target.id)] = "; ".join([*above, *([own] if own else [])])
    return found


def _default(fld: dataclasses.Field) -> str:
    from omegaconf import MISSING

    if fld.default_factory is not dataclasses.MISSING:
        value = fld.default_factory()
    else:
        value = fld.default
    if value == MISSING:
        return "*required*"
    return f"`{_yaml(value)}`"


def _yaml(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value)


def _sub_tables(schema, cls, prefix: str, comments) -> list[str]:
    """A section for each field of `cls` that is a config class of its own (logger.wandb)."""
    parts = []
    for fld in dataclasses.fields(cls):
        sub = getattr(schema, str(fld.type).split("|")[0].strip(), None)
        if dataclasses.is_dataclass(sub):
            doc = " ".join((sub.__doc__ or "").split())
            parts.append(f"#### `{prefix}{fld.name}`\n\n{doc} Class `{sub.__name__}`.\n")
            if dataclasses.fields(sub):
                parts.append(_key_table(schema, sub, f"{prefix}{fld.name}.", comments))
    return parts


def _allowed(schema, key: str) -> str:
    if key in schema.CHOICES:
        return "one of " + ", ".join(f"`{c}`" for c in schema.CHOICES[key])
    texts = [text for name, (_, text) in schema.RANGES.items()
             if name == key or name.startswith(key + "[")]
    if key in schema.OPTIONAL_COUNTS:
        return ">= 1, or `null` (no limit)"
    if texts:
        return " ".join(_cell(t) for t in dict.fromkeys(texts)) + (" each" if key + "[0]" in
                                                                   schema.RANGES else "")
    return ""


def _key_table(schema, cls, prefix: str, comments, only=None) -> str:
    rows = ["| key | type | default | allowed | what it is |", "|---|---|---|---|---|"]
    for fld in only or dataclasses.fields(cls):
        key = prefix + fld.name
        inner = getattr(schema, fld.type, None) if isinstance(fld.type, str) else None
        if dataclasses.is_dataclass(inner):  # a nested group of keys (model.lora.*): its rows
            rows += _key_table(schema, inner, f"{key}.", comments).splitlines()[2:]
            continue
        kind = fld.type if isinstance(fld.type, str) else getattr(fld.type, "__name__", "")
        kind = " or ".join(f"`{part.strip()}`" for part in kind.split("|"))
        note = comments.get((cls.__name__, fld.name), "")
        rows.append(f"| `{key}` | {kind} | {_default(fld)} | {_allowed(schema, key)} "
                    f"| {_text_cell(note)} |")
    return "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _text_cell(text: str) -> str:
    """Prose in a table cell: `<date>` outside code spans is text, not an HTML tag."""
    parts = text.split("`")
    return _cell("`".join(part if i % 2 else part.replace("<", "&lt;").replace(">", "&gt;")
                          for i, part in enumerate(parts)))


def _leading_comment(text: str) -> str:
    """The first paragraph of a YAML file's leading comment, without its example commands
    (indented lines starting with a command, and their continuation lines) and the `@package`
    directive."""
    words, continued = [], False
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        body = line[1:].strip()
        if body.startswith("@package"):
            continue
        if not body:
            if words:
                break
            continue
        command = line[1:].startswith("   ") and (continued or re.match(
            r"(qa-|python|torchrun|scripts/)", body))
        if command:  # shown as code: `qa-train ... \` and its continuation join into one span
            words.append(("`" if not continued else "") + body.rstrip("\\ ")
                         + ("`" if not body.endswith("\\") else ""))
        else:
            words.append(body)
        continued = bool(command) and body.endswith("\\")
    return " ".join(words)


def _flat_items(tree: Any, prefix: str) -> list[tuple[str, Any]]:
    """(dotted key, value) of every leaf; lists are leaves."""
    if isinstance(tree, dict) and tree:
        return [item for name, v in tree.items() for item in _flat_items(v, f"{prefix}{name}.")]
    return [(prefix.rstrip("."), tree)]


def _trainer_table(schema) -> str:
    """The trainer node's defaults (schema.TRAINER_DEFAULTS): what a run passes to
    TrainingArguments, with the comment on each key's line."""
    source = Path(schema.__file__).read_text(encoding="utf-8")
    block = source[source.index("TRAINER_DEFAULTS"):]
    block = block[:block.index("\n}\n")]
    notes = dict(re.findall(r'^\s+"(\w+)":.*?#\s*(.*)$', block, re.MULTILINE))
    rows = ["### `trainer`\n",
            "Passed to `transformers.TrainingArguments` unchanged: any field of it can be set "
            "(`trainer.num_train_epochs=3`), one the schema does not list with "
            "`+trainer.FIELD=VALUE`; an unknown field is refused with a did-you-mean. "
            "`trainer.fp16`, `trainer.bf16` and `trainer.half_precision_backend` are refused: "
            "the precision is `hardware.precision`'s. The defaults "
            "(`TRAINER_DEFAULTS` in `src/qa_experiments/config/schema.py`); a key that *follows* "
            "another setting is wiring, set that setting instead:\n",
            "| key | value | allowed | note |", "|---|---|---|---|"]
    for key, value in schema.TRAINER_DEFAULTS.items():
        follows = re.fullmatch(r"\$\{(.+)\}", str(value))
        shown = f"follows `{follows[1]}`" if follows else f"`{_yaml(value)}`"
        rows.append(f"| `trainer.{key}` | {shown} | {_allowed(schema, 'trainer.' + key)} "
                    f"| {_text_cell(notes.get(key, ''))} |")
    return "\n".join(rows) + "\n"


def _groups_section() -> str:
    from omegaconf import OmegaConf

    defaults = {}
    for item in OmegaConf.load(CONF / "config.yaml").defaults:
        if isinstance(item, dict) or OmegaConf.is_dict(item):
            for key, value in dict(item).items():
                defaults[key] = value
    parts = ["## Config groups and their choices\n",
             "Generated from the YAML files in `conf/`: each choice's own comment and the keys "
             "it sets (interpolations such as `${bundled_data:...}` are resolved when a run "
             "starts). **default** marks the choice `conf/config.yaml` picks.\n"]
    for group in GROUPS:
        parts.append(f"### `{group}`\n")
        rows = ["| choice | what it is | sets |", "|---|---|---|"]
        for path in sorted((CONF / group).glob("*.yaml")):
            text = path.read_text(encoding="utf-8")
            comment = _leading_comment(text)
            cfg = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
            overrides = [
                f"{k.replace('override ', '').lstrip('/')}={v}" if isinstance(d, dict)
                else f"(extends {d})"
                for d in cfg.pop("defaults", []) or []
                for k, v in (d.items() if isinstance(d, dict) else [(d, None)])]
            package_global = "@package _global_" in text
            base = "" if package_global else group.replace("/", ".") + "."
            sets = [*overrides, *(f"{k}={_yaml(v)}" for k, v in _flat_items(cfg, base))]
            mark = " (**default**)" if defaults.get(group) == path.stem else ""
            rows.append(f"| `{path.stem}`{mark} | {_text_cell(comment)} | "
                        + "<br>".join(f"`{_cell(s)}`" for s in sets) + " |")
        parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)
