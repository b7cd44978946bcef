"""Read a SQuAD file into records: nested official JSON or flat records, JSON or JSON lines,
plain or gzip, with or without a UTF-8 byte-order mark.

A file that cannot be read at all is refused with one `DataError` line. A part of a readable
file that holds no usable record (a JSON line that does not parse, an article, paragraph or
question that is null, of the wrong type or lacks its list) becomes a `BadPart` in place of its
records, so the checks count it as dropped, with where it was.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from qa_experiments.errors import UserError

GZIP_MAGIC = b"\x1f\x8b"
JSON_LINES_SUFFIXES = (".jsonl", ".jsonl.gz")
CHUNK_BYTES = 1 << 20


class DataError(UserError, ValueError):
    """Data that is not usable SQuAD; the message names the file and the problem."""


@dataclass(frozen=True)
class BadPart:
    """A part of a file that yields no record: counted as one dropped record of `kind`."""

    kind: str
    where: str  # "line 7", "data[2].paragraphs[0]"
    detail: str


def is_unicode_text(text: str) -> bool:
    """Whether `text` is valid Unicode: no lone surrogates (JSON can spell them, \\ud800, and
    an undecodable command-line byte becomes one), which no file can be written with."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes: what the data was, recorded with a run's results."""
    digest = hashlib.sha256()
    with Path(path).expanduser().open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def check_readable(path: str | Path) -> Path:
    """`path` if it is a file that reads to its end (decompressed), else DataError; checked
    before a run starts, so that a typo or a damaged download fails at once."""
    path = _data_file(path)
    with _reading(path), _open_bytes(path) as handle:
        while handle.read(CHUNK_BYTES):
            pass
    return path


def read_squad_file(path: str | Path) -> list[dict[str, Any] | BadPart]:
    """The records of a SQuAD file in the flat layout, with a BadPart for each unusable part."""
    path = _data_file(path)
    with _reading(path), _open_bytes(path) as handle:
        text = handle.read().decode("utf-8-sig")  # a leading byte-order mark is dropped
    if not text.strip():
        raise DataError(f"{path}: the file is empty; give a SQuAD JSON or JSON Lines file.")
    if path.name.endswith(JSON_LINES_SUFFIXES):
        items = _parse_json_lines(text)
    else:
        items = _items(_parse_json(text, path), path)
    return list(_flatten_nested(items)) if _is_nested(items, path) else _flat_records(items)


def _data_file(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"Data file {str(path)!r} does not exist or is not a file.")
    return path


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn every way reading `path` can fail into one DataError line."""
    try:
        yield
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error}).") from error
    except (OSError, EOFError, zlib.error) as error:  # permission, bad or truncated gzip
        raise DataError(f"{path}: cannot be read, damaged or cut short ({error}).") from error


def _open_bytes(path: Path) -> BinaryIO:
    """The file's bytes, decompressed when its content is gzip (whatever its name)."""
    with path.open("rb") as handle:
        compressed = handle.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else path.open("rb")


def _parse_json(text: str, path: Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: invalid JSON at line {error.lineno}: {error.msg}.") from error
    except RecursionError as error:
        raise DataError(f"{path}: JSON nested too deeply to read.") from error


def _parse_json_lines(text: str) -> list[Any]:
    """One item per non-blank line; a line that is not a JSON object is a BadPart naming it."""
    items: list[Any] = []
    for number, line in enumerate(text.split("\n"), start=1):  # JSON text may hold U+2028
        if line.strip():
            items.append(_parse_json_line(line, f"line {number}"))
    return items


def _parse_json_line(line: str, where: str) -> dict[str, Any] | BadPart:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as error:
        return BadPart("invalid_json", where, f"{error.msg} at column {error.colno}")
    except RecursionError:
        return BadPart("invalid_json", where, "nested too deeply")
    if not isinstance(item, dict):
        return BadPart("not_a_record", where, f"{type(item).__name__}, not an object")
    return item


def _items(content: Any, path: Path) -> list[Any]:
    items = content.get("data") if isinstance(content, dict) else content
    if not isinstance(items, list):
        raise DataError(
            f"{path}: not SQuAD layout; expected {{'data': [articles with 'paragraphs']}} "
            "(official) or a list of flat records with id/context/question/answers."
        )
    return items


def _is_nested(items: list[Any], path: Path) -> bool:
    """Whether the items are articles of the nested official layout (else flat records);
    DataError for a file that mixes both, whose other kind would be dropped whole."""
    articles = sum(isinstance(i, dict) and "paragraphs" in i for i in items)
    records = sum(isinstance(i, dict) and ("question" in i or "context" in i) for i in items)
    if articles and records:
        raise DataError(
            f"{path}: mixes {articles} nested articles (with 'paragraphs') and {records} flat "
            "records (with 'question'/'context'); give one layout per file.")
    return articles > records


def _flat_records(items: list[Any]) -> list[dict[str, Any] | BadPart]:
    return [
        item if isinstance(item, (dict, BadPart))
        else BadPart("not_a_record", f"item {index}", f"{type(item).__name__}, not an object")
        for index, item in enumerate(items)
    ]


def _flatten_nested(articles: list[Any]) -> Any:
    """Yield flat records from articles -> paragraphs -> qas; a BadPart for each broken level."""
    for a, article in enumerate(articles):
        if isinstance(article, BadPart):  # a JSON line that did not parse
            yield article
            continue
        where = f"data[{a}]"
        paragraphs = _child_list(article, "paragraphs")
        if paragraphs is None:
            yield BadPart("malformed_article", where, "not an object with a 'paragraphs' list")
            continue
        for p, paragraph in enumerate(paragraphs):
            qas = _child_list(paragraph, "qas")
            if qas is None:
                yield BadPart("malformed_paragraph", f"{where}.paragraphs[{p}]",
                              "not an object with a 'qas' list")
                continue
            for q, qa in enumerate(qas):
                if not isinstance(qa, dict):
                    yield BadPart("malformed_question", f"{where}.paragraphs[{p}].qas[{q}]",
                                  f"{type(qa).__name__}, not an object")
                    continue
                yield {
                    "id": qa.get("id"),
                    "title": article.get("title"),
                    "context": paragraph.get("context"),
                    "question": qa.get("question"),
                    "answers": qa.get("answers"),  # a list of {text, answer_start}
                    "is_impossible": qa.get("is_impossible", False),
                }


def _child_list(parent: Any, key: str) -> list[Any] | None:
    """`parent[key]` when `parent` is an object holding a list there, else None."""
    child = parent.get(key) if isinstance(parent, dict) else None
    return child if isinstance(child, list) else None
