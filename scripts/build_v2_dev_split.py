"""The bundled SQuAD v2 development split: official dev-v2.0 divided by article.

The bundled train-v2.0 subset (the first 10 articles of the official train set) has only 348
unanswerable questions in 4,719 (7%; the official train set has 33%), none in its first 1,000,
so a model trained on it alone hardly learns to abstain. `data=sample_v2` therefore trains on
that subset plus the first `TRAIN_ARTICLES` articles of the official dev-v2.0 set (half of
their questions unanswerable) and evaluates on the other dev-v2.0 articles. Scores on that
held-out part are NOT comparable to published dev-v2.0 figures (other questions, and some
dev articles were trained on); `data=sample_v2_official` evaluates on the whole official
dev-v2.0 set instead.

Both files are built from the bundled official files by this script, deterministically:
`python scripts/build_v2_dev_split.py` rewrites them (tests check that the shipped files are
what it builds).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from qa_experiments.config.paths import BUNDLED_DATA_DIR

TRAIN_ARTICLES = 9  # dev-v2.0 articles 0-8: 2,945 questions, 1,461 unanswerable
TRAIN_SUBSET = "train-v2.0-subset.json.gz"
OFFICIAL_DEV = "dev-v2.0.json.gz"
SPLIT_TRAIN = "v2-devsplit-train.json.gz"
SPLIT_EVAL = "v2-devsplit-eval.json.gz"
NOTE_TRAIN = (
    f"qa-experiments v2 development split, training part: the first 10 articles of the official "
    f"SQuAD train-v2.0 set followed by the first {TRAIN_ARTICLES} articles of the official "
    "dev-v2.0 set (unmodified records)."
)
NOTE_EVAL = (
    f"qa-experiments v2 development split, evaluation part: the official SQuAD dev-v2.0 set "
    f"without its first {TRAIN_ARTICLES} articles (unmodified records). Not comparable to "
    "published dev-v2.0 figures."
)


def split_dev(train_subset: dict[str, Any], dev: dict[str, Any],
              train_articles: int = TRAIN_ARTICLES) -> tuple[dict[str, Any], dict[str, Any]]:
    """(training file, evaluation file) in the official nested layout: the train subset plus
    the first `train_articles` dev articles, and the remaining dev articles."""
    train = {"version": dev["version"], "note": NOTE_TRAIN,
             "data": train_subset["data"] + dev["data"][:train_articles]}
    held_out = {"version": dev["version"], "note": NOTE_EVAL,
                "data": dev["data"][train_articles:]}
    return train, held_out


def read_gzip_json(path: Path) -> dict[str, Any]:
    """The JSON content of a gzip file."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def write_gzip_json(path: Path, content: dict[str, Any]) -> None:
    """Byte-reproducible gzip JSON: no timestamp or file name in the gzip header."""
    data = json.dumps(content, ensure_ascii=False).encode("utf-8")
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                               mtime=0, compresslevel=9) as handle:
        handle.write(data)


def build(directory: Path = BUNDLED_DATA_DIR) -> tuple[dict[str, Any], dict[str, Any]]:
    """The split built from the official files in `directory`."""
    return split_dev(read_gzip_json(directory / TRAIN_SUBSET),
                     read_gzip_json(directory / OFFICIAL_DEV))


def main() -> None:
    train, held_out = build()
    write_gzip_json(BUNDLED_DATA_DIR / SPLIT_TRAIN, train)
    write_gzip_json(BUNDLED_DATA_DIR / SPLIT_EVAL, held_out)
    print(f"Wrote {BUNDLED_DATA_DIR / SPLIT_TRAIN} and {BUNDLED_DATA_DIR / SPLIT_EVAL}")


if __name__ == "__main__":
    main()
