"""``shipml --help`` and every subcommand's help answer from the apps' declarations alone: none of the heavy
libraries (frames, models, the API, the database, the UI) is imported to print them."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("numpy", "polars", "pandas", "scipy", "mlflow", "fastapi", "sqlalchemy", "huey", "streamlit", "httpx",
         "lightgbm", "statsforecast", "prophet", "implicit", "pyspark", "shapely", "pyproj")
HELPS = (["--help"], ["ingest", "--help"], ["train", "--help"], ["eval", "--help"], ["eval", "parking", "--help"],
         ["ingest", "covid", "--help"], ["race", "--help"], ["jobs", "--help"], ["up", "--help"])

PROBE = f"""
import json, sys
from typer.testing import CliRunner
from shipml.cli import app
outputs = {{}}
for args in {list(HELPS)!r}:
    result = CliRunner().invoke(app, args)
    outputs[" ".join(args)] = [result.exit_code, result.output]
print(json.dumps({{"outputs": outputs, "imported": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def test_help_imports_nothing_heavy() -> None:
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    for args, (code, output) in answer["outputs"].items():
        assert code == 0 and "Usage" in output, (args, output)
    assert "covid" in answer["outputs"]["train --help"][1] and "parking" in answer["outputs"]["eval --help"][1]
    assert "race" not in answer["outputs"]["train --help"][1].split("Commands")[-1]  # no models: no train verb
    assert answer["imported"] == [], f"`shipml --help` imported {answer['imported']}"
