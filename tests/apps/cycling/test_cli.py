"""The cycling CLI as a user runs it on the real shared data."""

import json
import os
import subprocess
import sys


def shipml(*args, check=True):
    run = subprocess.run([sys.executable, "-m", "shipml.cli", *args], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "COLUMNS": "200", "OPENBLAS_NUM_THREADS": "1"})
    if check:
        assert run.returncode == 0, run.stdout + run.stderr
    return run


def test_ingest_train_and_eval_on_shared_data(platform, cycling_dir):
    ingested = shipml("ingest", "cycling", "--source", str(cycling_dir)).stdout
    assert "stored" in ingested and "18591 rows" in ingested  # 14,153 results + 4,438 points/KOM/youth standings
    trained = shipml("train", "cycling").stdout
    assert "cycling_similarity v" in trained and "promoted" in trained
    rows = {r["model"]: r for r in map(json.loads, shipml("eval", "cycling", "--json").stdout.splitlines())}
    assert {"cosine_baseline", "factor_als"} <= set(rows)
    for name in ("cosine_baseline", "factor_als"):
        assert rows[name]["specialty_ratio"] >= 1.6, rows[name]
        assert rows[name]["holdout_spearman_knn"] > 0.3, rows[name]


def test_missing_folder_is_a_clear_failure(platform, tmp_path):
    run = shipml("ingest", "cycling", "--source", str(tmp_path / "nowhere"), check=False)
    assert run.returncode == 2 and "no folder at" in run.stdout
