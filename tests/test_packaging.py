"""An installed (non-editable) wheel finds its config groups, bundled data and metrics."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_configs_data_and_metric_modules(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path),
                    str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("qa_experiments-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("qa_experiments/conf/config.yaml", "qa_experiments/conf/model/minilm.yaml",
                     "qa_experiments/conf/experiment/quickstart.yaml",
                     "qa_experiments/bundled_data/NOTICE.md",
                     "qa_experiments/bundled_data/dev-v1.1.json.gz",
                     "qa_experiments/bundled_data/v2-devsplit-train.json.gz",
                     "qa_experiments/bundled_data/v2-devsplit-eval.json.gz",
                     "qa_experiments/conf/experiment/reference_v2.yaml",
                     "qa_experiments/scoring/hf_evaluate_modules/squad/squad.py",
                     "qa_experiments/evaluate.py", "qa_experiments/runs/layout.py",
                     "hydra_plugins/qa_experiments_optuna/optuna_sweeper.py",
                     "hydra_plugins/qa_experiments_optuna/config.py"):
        assert expected in names
    assert "hydra_plugins/__init__.py" not in names  # a namespace package shared with Hydra's
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "qa-report = qa_experiments.report:main" in scripts

    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)  # what pip install puts in site-packages
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", "experiment=quickstart", "--cfg", "job",
         "--resolve"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
        env={**os.environ, "PYTHONPATH": str(target)},
    )
    assert f"{target}/qa_experiments/bundled_data/train-v1.1-subset.json.gz" in done.stdout
