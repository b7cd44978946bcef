"""Text from data and run files (questions, contexts, answers, ids, overrides, error messages,
trial parameters) reaches the Markdown and CSV reports as text: rendered the way a reader meets
it (python-markdown as mkdocs runs it, and markdown-it-py's CommonMark with GFM tables and
strikethrough where it is installed), it builds no element, link, image or heading, keeps every
table's columns, and reads as the original words."""

from __future__ import annotations

import csv
import itertools
import json
import re
import unicodedata
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution

from helpers import make_job, metrics
from markdown_render import RENDERERS, Element, parse
from qa_experiments.analysis.comparison import short_error
from qa_experiments.analysis.error_report import CHART_FILES, marked_context, write_report
from qa_experiments.analysis.slices import SLICERS
from qa_experiments.compare import main as compare_main
from qa_experiments.escaping import markdown_code, markdown_text
from qa_experiments.search.study_report import markdown_table, trial_rows, write_csv
from qa_experiments.search.trial_protocol import RUN_DIR_ATTR

# Each entry needs escaping (it fails without it); the last ones also check that text which
# must survive as it is (entities, a lone backslash, very long text, emoji, RTL) does.
HOSTILE = {
    "javascript_link": "Click [here](javascript:alert(1)) or <javascript:alert(2)>",
    "reference_link": "see [y][x] and [^1]\n[x]: javascript:alert(1)\n[^1]: note",
    "remote_image": "![x](http://tracker.example/beacon.png?id=1) seen",
    "img_onerror": "<img src=x onerror=alert(1)>",
    "script": "<script>alert(document.cookie)</script>",
    "html_comment": "before <!-- hidden --> after",
    "heading": "# Owned\n## Also owned\nnot a heading",
    "blocks": "> quoted\n- item\n1. first\n---\n===\n    indented code\n!!! note",
    "table_breaker": "a | b || c\n| --- | --- |\n| x | y |",
    "code_breakout": "``` fenced ``` and `span` and ``double``",
    "emphasis": "**bold** *em* _under_ __strong__ ~~gone~~ {: onclick=alert(1) }",
    "controls": "tab\there\x00nul\x1b[31mred\x7f\rcr\u2028ls\x85nel *x*",
    "entities": "&lt;script&gt; &amp; &#60;b&#62; &copy; AT&T",
    "backslash": "C:\\dir\\*.txt and a lone \\",
    "long": "A very long <b>context</b> with [links](http://x.example). " * 400,
    "emoji_rtl": "مرحبا بالعالم 👩‍👩‍👧 שלום \u202eevil\u202c <i>x</i>",
    "formula": "=HYPERLINK(\"http://evil.example\",\"<b>click</b>\") +1 -1 @SUM(A1)",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ALLOWED_TAGS = {"h1", "h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "ul", "ol",
                "li", "strong", "em", "code", "img"}
WRONG_ANSWERS = "## The 10 most confident wrong answers"
CALIBRATION = "## Confidence: calibration and reliability"
# A directory name that is hostile too; it shows in every report's heading.
RUN_NAME = "run <img src=x onerror=alert(1)> # [a](javascript:alert(1)) | _x_"


# --------------------------------------------------------------------------- #
# rendering and reading the HTML
# --------------------------------------------------------------------------- #


def words(text: str) -> str:
    """`text` as a reader sees it on one line: control characters and line breaks as spaces,
    runs of whitespace as one space."""
    spaced = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    return " ".join(spaced.split())


def assert_only_report_elements(root: Element, images: set[str] = frozenset()) -> None:
    """No element or attribute a report does not make itself: no script, link, raw HTML, event
    handler; images only the report's own charts."""
    for element in root.iter():
        assert element.tag in ALLOWED_TAGS, f"<{element.tag} {element.attrs}> in the report"
        if element.tag == "img":
            assert set(element.attrs) == {"src", "alt"} and element.attrs["src"] in images, (
                element.attrs)
        elif element.tag in ("th", "td"):  # column alignment
            assert all(re.fullmatch(r"text-align: ?(left|right);?", value or "")
                       for value in element.attrs.values()), element.attrs
            assert set(element.attrs) <= {"style"}, element.attrs
        else:
            assert set(element.attrs) <= ({"id"} if element.tag[0] == "h" else set()), (
                element.tag, element.attrs)


def markdown_tables(text: str) -> list[list[str]]:
    """The Markdown source lines of each table."""
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


def assert_tables_keep_their_columns(text: str) -> None:
    """Every row of every Markdown table has as many cell separators as its header (a `|` not
    escaped with a backslash separates cells, in GFM and in python-markdown)."""
    for table in markdown_tables(text):
        pipes = [len(re.findall(r"(?<!\\)\|", line)) for line in table]
        assert len(set(pipes)) == 1, table
        assert re.fullmatch(r"\|(:?-+:?\|)+", table[1]), table[1]


# --------------------------------------------------------------------------- #
# the escaping functions where the reports do not reach (text that starts a line, code spans)
# --------------------------------------------------------------------------- #

LINE_STARTS = ["# h", "#h", "> q", "- i", "+ i", "* i", "1. i", "1) i", "---", "- - -", "===",
               "***", "___", "!!! note", "??? note", "    code", "| a |\n|---|", "```py", "~~~",
               "<div markdown>x</div>", "<!-- c -->", "[x]: http://e.example"]
# after a blank line, inside a paragraph (a setext underline, a heading that interrupts it),
# as a list item
CONTEXTS = {"paragraph": "Before.\n\n", "continued": "Before.\n", "list_item": "Before.\n\n- "}


@pytest.mark.parametrize("text", [*LINE_STARTS, *HOSTILE.values()],
                         ids=[*LINE_STARTS, *HOSTILE.keys()])
def test_text_at_the_start_of_a_line_opens_no_block(text):
    for (context, before), (name, render) in itertools.product(CONTEXTS.items(),
                                                               RENDERERS.items()):
        root = parse(render(before + markdown_text(text) + "\n"))
        assert root.shape() == parse(render(before + "plain\n")).shape(), (context, name)
        assert root.words() == words(f"Before. {text}"), (context, name)


CODE_TEXTS = ["a`b", "``", "`x", "x`", "", "a|\\", "a\nb\n# h", "x|y`z"]


@pytest.mark.parametrize("text", CODE_TEXTS)
def test_a_code_span_holds_any_text(text):
    shown = words(text)
    for name, render in RENDERERS.items():
        root = parse(render(f"Id ({markdown_code(text)}).\n"))
        assert [c.words() for c in root.iter("code")] == [shown] and root.shape() == [
            "p", "code"], name
        cell = markdown_code(text, in_table=True)
        table = parse(render(f"| id | n |\n|---|---|\n| {cell} | 1 |\n"))
        in_cell = shown.replace("|", "\\|") if name == "python-markdown" else shown
        assert [[c.words() for c in row.iter("td")] for row in table.iter("tr")][1:] == [
            [in_cell, "1"]], name


# --------------------------------------------------------------------------- #
# the error-analysis report
# --------------------------------------------------------------------------- #

RIGHT_CONTEXT = "The Normans gave their name to Normandy, a region in France."


def _record(question: str, context: str, gold: str, prediction: str, confidence: float,
            record_id: str) -> dict:
    right = gold == prediction
    return {"id": record_id, "title": question, "question": question, "context": context,
            "answers": [gold], "answer_starts": [context.index(gold)], "prediction": prediction,
            "answer_start_char": context.index(prediction), "exact_match": int(right),
            "f1": float(right), "windows": 1, "probability": confidence,
            "confidence": confidence}


def report_run(root: Path, text: str) -> tuple[Path, dict]:
    """A run directory whose one wrong answer carries `text` in its question, id, gold answer,
    prediction and context, and whose results.json carries it in its notes; the right answers
    around it are plain."""
    run_dir = root / RUN_NAME
    run_dir.mkdir(parents=True)
    gold, prediction = f"gold {text}", f"pred {text}"
    context = f"{text} Before. {gold} in between {prediction} after. {text}"
    wrong = _record(text, context, gold, prediction, 0.9, f"id {text}")
    records = [wrong] + [
        _record("Where did the Normans live?", RIGHT_CONTEXT, "Normandy", "Normandy",
                0.5 + i / 100, f"q{i}") for i in range(1, 6)]
    (run_dir / "eval_questions.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (run_dir / "results.json").write_text(json.dumps({
        "exact_match": 83.3, "f1": 83.3, "eval_examples": 6, "eval_note": text,
        "calibration": {"method": text, "how": text, f"key {text}": 0.25}}), encoding="utf-8")
    (run_dir / "config.json").write_text(json.dumps({
        "model": {"name": f"m {text}", "name_or_path": f"org/{text}"},
        "data": {"name": f"d {text}", "eval_file": f"data/{text}"}}), encoding="utf-8")
    return run_dir, wrong


def sections(text: str) -> dict[str, str]:
    """The report's Markdown by `## ` section (the headline under "")."""
    parts = re.split(r"^(## .*)$", text, flags=re.M)
    return {"": parts[0], **{parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}}


@pytest.fixture(scope="module")
def benign_report(tmp_path_factory) -> str:
    """The report of the same run with plain words in place of the hostile text."""
    run_dir, _ = report_run(tmp_path_factory.mktemp("benign"), "plain words here")
    return write_report(run_dir).markdown.read_text(encoding="utf-8")


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_error_report_shows_data_text_as_text(tmp_path, benign_report, text):
    run_dir, wrong = report_run(tmp_path, text)
    report = write_report(run_dir).markdown.read_text(encoding="utf-8")
    assert_tables_keep_their_columns(report)
    hostile, benign = sections(report), sections(benign_report)
    assert list(hostile) == list(benign)
    for name, render in RENDERERS.items():
        root = parse(render(report))
        assert_only_report_elements(root, set(CHART_FILES))
        headings = [(h.tag, h.words()) for h in root.iter("h1", "h2", "h3")]
        expected = [(h.tag, h.words()) for h in parse(render(benign_report)).iter(
            "h1", "h2", "h3")]
        assert headings[1:] == expected[1:], name  # the title names the model and data
        assert headings[0] == ("h1", f"Error analysis: m {words(text)} on d {words(text)}"), (
            name)
        for title in hostile:  # the slice tables depend on the question's words
            if not title.startswith("## EM / F1 by slice"):
                assert parse(render(hostile[title])).shape() == parse(
                    render(benign[title])).shape(), (name, title)

        headline = parse(render(hostile[""]))
        block = [item.words() for item in headline.iter("li")]
        # (a code span keeps the space at its end)
        assert block[0].replace(" )", ")") == f"Model: m {words(text)} (org/{words(text)})", (
            name)
        assert block[1].endswith(f"SQuAD v1.1. Note: {words(text)}"), name
        assert any(c.text().endswith(RUN_NAME) for c in headline.iter("code")), name

        calibration = parse(render(hostile[CALIBRATION]))
        cells = [[c.words() for c in row.iter("td")] for row in calibration.iter("tr")]
        assert ["method", words(text)] in cells, name
        key = f"key {words(text)}"
        if name == "python-markdown":  # it keeps the backslash of `\|` in a code span
            key = key.replace("|", "\\|")
        assert [key, "0.2500"] in cells, name
        assert f"How: {words(text)}" in calibration.words(), name

        section = parse(render(hostile[WRONG_ANSWERS]))
        assert [s.words() for s in section.iter("strong")] == [words(text)], name
        assert [c.words() for c in section.iter("code")] == [
            "[[...]]", "{{...}}", words(wrong["id"])], name
        shown = section.words()
        assert words(f"gold: \"{wrong['answers'][0]}\"; prediction: \"{wrong['prediction']}\"; "
                     "calibrated confidence 0.900") in shown, name
        assert f"context: {words(marked_context(wrong))}" in shown, name


# --------------------------------------------------------------------------- #
# qa-compare
# --------------------------------------------------------------------------- #

JOB_NAME = "<img src=x onerror=alert(1)> [j](javascript:alert(1)) _x_ |"  # a job directory


def backbone(text: str) -> str:
    """A job's backbone (config.json model.name): not very long, as the charts show it whole."""
    return f"bb {text[:200]}"


def _questions(text: str) -> str:
    context = f"{text} The answer is Rome."
    return "".join(json.dumps({
        "id": f"q{i}", "question": f"What {text}?", "context": context, "answers": ["Rome"],
        "answer_starts": [context.index("Rome")], "prediction": "Rome" if i % 2 else "x",
        "exact_match": i % 2, "f1": float(i % 2), "windows": 1}) + "\n" for i in range(4))


@pytest.fixture(scope="module", params=HOSTILE.values(), ids=HOSTILE.keys())
def compared(request, tmp_path_factory) -> tuple[Path, str]:
    """A sweep compared with qa-compare, and the hostile text in it: jobs 0 (finished, with
    question records), 1 (finished without them) and 2 (failed), the text in their backbones,
    overrides and error, and a running job whose directory name is hostile."""
    text = request.param
    sweep = tmp_path_factory.mktemp("compare") / "multirun" / "2026-01-01" / "10-00-00"
    scored = make_job(sweep, "0", [], status="finished", backbone=backbone(text),
                      results=metrics(50.0, 60.0))
    (scored / "eval_questions.jsonl").write_text(_questions(text), encoding="utf-8")
    unscored = make_job(sweep, "1", [], status="finished", backbone=backbone(text),
                        results=metrics(40.0, 30.0))
    failed = make_job(sweep, "2", [], status="failed", error=text, backbone=backbone(text))
    for job in (scored, unscored, failed):
        overrides = yaml.safe_dump([text, "seed=1"])  # the text as one override
        (job / ".hydra" / "overrides.yaml").write_text(overrides, encoding="utf-8")
    make_job(sweep, JOB_NAME, ["seed=1"], status="running")
    assert compare_main([str(sweep)]) == 0
    return sweep, text


def _rows(root: Element) -> dict[str, list[str]]:
    """Table rows by their first cell; a cell holds text only."""
    rows = {}
    for row in root.iter("tr"):
        cells = list(row.iter("td"))
        for cell in cells:
            assert not list(cell.iter()), f"an element in a cell: {cell.shape()}"
        if cells:
            rows[cells[0].words()] = [c.words() for c in cells]
    return rows


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def as_csv_cell(text: str) -> str:
    """What the CSV must hold for `text`: it, after an apostrophe where it starts a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def test_the_sweep_comparison_shows_run_file_text_as_text(compared):
    sweep, text = compared
    source = (sweep / "comparison.md").read_text(encoding="utf-8")
    assert_tables_keep_their_columns(source)
    for name, render in RENDERERS.items():
        root = parse(render(source))
        assert_only_report_elements(root)
        assert [(h.tag, h.words()) for h in root.iter("h1", "h2", "h3")] == [
            ("h1", "Sweep comparison")], name
        assert [th.words() for th in root.iter("th")] == [
            "job", "backbone", "overrides", "status", "EM", "F1", "train time", "samples/s",
            "error"], name
        rows = _rows(root)
        assert list(rows) == ["0", "1", words(JOB_NAME), "2"], name
        for job in ("0", "1", "2"):
            assert rows[job][1:3] == [words(backbone(text)), words(f"{text} seed=1")], name
        assert rows["2"][3] == "failed" and rows["2"][8] == words(short_error(text)), name
        assert rows[words(JOB_NAME)][:4] == [words(JOB_NAME), "?", "seed=1", "running"], name

    records = read_csv(sweep / "comparison.csv")
    assert [r["job"] for r in records] == ["0", "1", JOB_NAME, "2"]
    for record in records[:2] + records[3:]:
        assert record["backbone"] == as_csv_cell(backbone(text))
        assert record["overrides"] == as_csv_cell(f"{text} seed=1")
    assert records[3]["error"] == as_csv_cell(short_error(text))


def test_the_slice_comparison_shows_run_file_text_as_text(compared):
    sweep, text = compared
    source = (sweep / "comparison_slices.md").read_text(encoding="utf-8")
    assert_tables_keep_their_columns(source)
    label = f"#0 {words(backbone(text))}"
    for name, render in RENDERERS.items():
        root = parse(render(source))
        assert_only_report_elements(root)
        headings = [h.words() for h in root.iter("h1", "h2", "h3")]
        assert headings == ["F1 by slice", *(slicer.title for slicer in SLICERS)], name
        tables = [_rows(table) for table in root.iter("table")]
        assert len(tables) == len(SLICERS), name
        for rows in tables:
            assert list(rows) == [label] and rows[label][1] == words(f"{text} seed=1"), name
        # "Finished jobs without slices:", a line per job: a list, or (python-markdown: no
        # blank line before it) one paragraph
        assert f"#1 {words(backbone(text))}: " in root.words(), name

    records = read_csv(sweep / "comparison_slices.csv")
    assert records and {(r["job"], r["backbone"], r["overrides"]) for r in records} == {
        ("0", as_csv_cell(backbone(text)), as_csv_cell(f"{text} seed=1"))}


# --------------------------------------------------------------------------- #
# the Optuna trials table
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_trials_table_shows_parameters_and_run_dirs_as_text(tmp_path, text):
    study = optuna.create_study(direction="maximize")
    name = f"p {text}"
    study.add_trial(optuna.trial.create_trial(
        params={name: text, "lr": 0.5}, value=1.0, user_attrs={RUN_DIR_ATTR: text},
        distributions={name: CategoricalDistribution([text]), "lr": FloatDistribution(0, 1)}))
    rows = trial_rows(study.trials)
    source = markdown_table(rows)
    assert_tables_keep_their_columns(source)
    for renderer, render in RENDERERS.items():
        root = parse(render(source))
        assert_only_report_elements(root)
        assert [th.words() for th in root.iter("th")] == [
            "trial", "state", "value", "duration_s", "last_step", "last_intermediate",
            "run_dir", "lr", words(name)], renderer
        assert list(_rows(root).values()) == [
            ["0", "complete", "1", "", "", "", words(text), "0.5", words(text)]], renderer

    write_csv(rows, tmp_path / "trials.csv")
    (record,) = read_csv(tmp_path / "trials.csv")
    assert record["run_dir"] == record[name] == as_csv_cell(text)
