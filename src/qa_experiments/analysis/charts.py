"""PNG charts of the error-analysis report, drawn headless (matplotlib's Agg canvas)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from qa_experiments.analysis.abstention import PrecisionRecall, ThresholdCurve
from qa_experiments.analysis.slices import SLICERS, SMALL_BUCKET, SliceScore
from qa_experiments.scoring.calibration_metrics import ReliabilityBin

DPI = 110
BAR_STYLE = {"facecolor": "tab:blue", "edgecolor": "tab:blue"}
# a bucket of fewer than SMALL_BUCKET questions: pale and hatched, its labels grey
SMALL_BAR_STYLE = {"facecolor": to_rgba("tab:blue", 0.25), "hatch": "////"}
SMALL_TEXT = "dimgrey"
# the F1 of all the questions, the reference every bucket is read against
OVERALL_STYLE = {"color": "tab:red", "linestyle": "--", "linewidth": 1.2}
OVERALL_GID = "overall-f1"


def _figure(width: float, height: float, layout: str | None = None) -> Figure:
    figure = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def slice_chart(slices: dict[str, list[SliceScore]], path: Path,
                overall: SliceScore | None = None) -> Path:
    """One panel per slice: F1 per non-empty bucket with its question count (n); a bucket of
    fewer than SMALL_BUCKET questions faded and hatched; a dashed line at the F1 of all the
    questions (`overall`) in every panel."""
    titles = {s.name: s.title for s in SLICERS}
    names = [name for name in slices if any(b.count for b in slices[name])]
    columns = 2
    rows = math.ceil(len(names) / columns)
    figure = _figure(11, 3.0 * rows + 0.7, layout="constrained")
    for i, name in enumerate(names):
        ax = figure.add_subplot(rows, columns, i + 1)
        buckets = [b for b in slices[name] if b.count]
        ys = list(range(len(buckets)))[::-1]
        bars = ax.barh(ys, [b.f1 for b in buckets], height=0.7, **BAR_STYLE)
        for bar, y, bucket in zip(bars, ys, buckets):
            if bucket.small:
                bar.update(SMALL_BAR_STYLE)
            # on a white ground: the line at the F1 of all the questions may cross it
            ax.text(min(bucket.f1, 100) + 1.5, y, f"{bucket.f1:.1f}  (n={bucket.count})",
                    va="center", fontsize=8, color=SMALL_TEXT if bucket.small else "black",
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6,
                          "alpha": 0.85}, zorder=4)
        ax.set_yticks(ys, [b.label for b in buckets], fontsize=8)
        for tick, bucket in zip(ax.get_yticklabels(), buckets):
            if bucket.small:
                tick.set_color(SMALL_TEXT)
        ax.set_ylim(-0.6, max(len(buckets), 4) - 0.4)  # bars of one thickness in every panel
        if overall is not None and overall.f1 is not None:
            ax.axvline(overall.f1, gid=OVERALL_GID, **OVERALL_STYLE)
        ax.set_xlim(0, 125)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.set_xlabel("F1 (%)", fontsize=8)
        ax.set_title(titles.get(name, name), fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    figure.suptitle("F1 by slice (n = questions in the bucket)", fontsize=11)
    small = any(b.small for buckets in slices.values() for b in buckets)
    figure.legend(handles=slice_legend(overall, small), loc="outside lower center", ncols=3,
                  fontsize=9, frameon=False)
    return _save(figure, path)


def slice_legend(overall: SliceScore | None, small: bool = True) -> list[Artist]:
    """The keys of the slice chart: a bucket, a small bucket (when the chart has one), the F1
    of all the questions."""
    handles: list[Artist] = [Patch(label="F1 of the bucket", **BAR_STYLE)]
    if small:
        handles.append(Patch(label=f"fewer than {SMALL_BUCKET} questions: F1 unreliable",
                             **{**BAR_STYLE, **SMALL_BAR_STYLE}))
    if overall is not None and overall.f1 is not None:
        handles.append(Line2D([], [], label=f"F1 of all {overall.count} questions: "
                                            f"{overall.f1:.1f}", **OVERALL_STYLE))
    return handles


def reliability_chart(bins: Sequence[ReliabilityBin], label: str, ece: float,
                      path: Path) -> Path:
    """Accuracy (exact match) against mean confidence per bin, with the bins' counts below."""
    figure = _figure(6, 6.4)
    ax, counts = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    filled = [b for b in bins if b.count]
    width = bins[0].upper - bins[0].lower
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.bar([b.lower for b in filled], [b.accuracy for b in filled], width=width, align="edge",
           color="tab:blue", alpha=0.75, edgecolor="white", label="exact-match rate in bin")
    ax.plot([b.mean_confidence for b in filled], [b.accuracy for b in filled], "o",
            color="tab:orange", markersize=4, label="bin mean, exact-match rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("exact-match rate")
    ax.set_title(f"Reliability of the {label} (ECE {ece:.3f}, {len(bins)} bins)", fontsize=10,
                 pad=24)
    # above the plot, under the title: inside it would hide the bars of the first bins
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3,
              frameon=False)
    ax.grid(alpha=0.3)
    counts.bar([b.lower for b in bins], [b.count for b in bins], width=width, align="edge",
               color="grey", edgecolor="white")
    counts.set_ylabel("questions", fontsize=8)
    counts.set_xlabel(label)
    figure.tight_layout()
    return _save(figure, path)


def threshold_chart(curve: ThresholdCurve, run_f1: float | None, path: Path) -> Path:
    """EM/F1 against the no-answer probability threshold, the best point marked."""
    figure = _figure(7, 4.2)
    ax = figure.add_subplot()
    x = np.r_[curve.thresholds, 1.0]  # flat after the highest P(no answer): all answered
    ax.plot(x, np.r_[curve.f1, curve.f1[-1]], color="tab:blue", drawstyle="steps-post",
            label="F1", zorder=3)
    ax.plot(x, np.r_[curve.exact_match, curve.exact_match[-1]], color="tab:green",
            drawstyle="steps-post", linestyle=":", label="EM")
    best_t, best_f1 = curve.best()
    ax.plot([best_t], [best_f1], "o", color="tab:red",
            label=f"best F1 {best_f1:.2f} at threshold {best_t:.2f}")
    if run_f1 is not None:
        ax.axhline(run_f1, color="grey", linestyle="--", label=f"the run's F1 {run_f1:.2f}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("threshold on P(no answer): abstain above it")
    ax.set_ylabel("score (%)")
    ax.set_title("SQuAD v2: scores against the no-answer threshold", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


def answerability_chart(curve: PrecisionRecall, total: int, path: Path) -> Path:
    """Precision against recall of "has an answer", with the share of answerable questions."""
    figure = _figure(6, 4.6)
    ax = figure.add_subplot()
    ax.plot(curve.recall, curve.precision, color="tab:blue", drawstyle="steps-post",
            label=f"average precision {curve.average_precision:.3f}")
    base = curve.positives / total
    ax.axhline(base, color="grey", linestyle="--",
               label=f"answerable share {base:.2f} (a constant score)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall (answerable questions answered)")
    ax.set_ylabel("precision (answered questions that are answerable)")
    ax.set_title("SQuAD v2: answerability, scored by 1 - P(no answer)", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)
