"""The scripts in examples/ run as a user would run them (CI runs them here)."""

import os
import re
import shutil
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


README = EXAMPLES.parent / "README.md"
_SETUP = ("python3 -m venv ", ". .venv/bin/activate", "pip install ", "python -m pytest")


def quickstart_commands() -> list[str]:
    """Every command of the README's Quickstart section, in order, less the set-up steps
    (venv, pip install, the test suite) joined to them by ``&&``."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            kept = [part for part in line.split(" && ") if not part.startswith(_SETUP)]
            if kept:
                commands.append(" && ".join(kept))
    return commands


def test_readme_quickstart_runs_as_written(tmp_path):
    """Pasting the Quickstart into a shell on a fresh clone works: every command (the
    install and test steps aside) runs on the bundled data and exits 0."""
    commands = quickstart_commands()
    assert commands[0].startswith("influence analyze examples/events.csv")
    assert len(commands) >= 10
    assert not any("my-events" in c or " events.csv" in c for c in commands)
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    for command in commands:
        run = subprocess.run(["bash", "-c", f"set -euo pipefail; {command}"], cwd=tmp_path,
                             env=env, capture_output=True, text=True)
        assert run.returncode == 0, (command, run.stderr[-2000:])
    for name in ("influence-out/report.html", "influence-out/graph.gexf", "ambassadors.csv",
                 "wake-up.csv", "synthetic.parquet"):
        assert (tmp_path / name).stat().st_size > 0, name
    listing = pd.read_csv(tmp_path / "ambassadors.csv", dtype={"customer_id": str})
    assert set(listing["segment"]) == {"champions"}
