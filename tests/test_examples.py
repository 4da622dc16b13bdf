"""The scripts in examples/ run as a user would run them (CI runs them here)."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_script(tmp_path):
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py"), str(out)],
                         capture_output=True, text=True, check=True)
    assert "champions" in run.stdout
    customers = pd.read_csv(out / "customers.csv", dtype={"customer_id": str})
    # the customers table lists two customers without events: they come out too
    assert {"c9000001", "c9000002"} <= set(customers["customer_id"])
    assert "plan" in customers.columns


def test_ambassadors_script(tmp_path):
    out = tmp_path / "out"
    bindir = Path(sys.executable).parent
    env = {"PATH": f"{bindir}:/usr/bin:/bin"}
    run = subprocess.run(["bash", str(EXAMPLES / "ambassadors.sh"), str(out)],
                         capture_output=True, text=True, env=env, check=True)
    assert "ambassadors in" in run.stdout
    listing = pd.read_csv(out / "ambassadors.csv", dtype={"customer_id": str})
    assert 0 < len(listing) <= 200 and set(listing["segment"]) == {"champions"}


def test_example_data_is_small_and_planted():
    assert (EXAMPLES / "events.csv").stat().st_size < 2_000_000
    truth = pd.read_csv(EXAMPLES / "events.truth.csv", dtype=str)
    assert {"propagator", "dormant"} <= set(truth["role"])
