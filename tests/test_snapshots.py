"""Snapshots: segment sizes over rolling windows, saved with the results."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from influence import Analysis, analyze
from influence.cli import cli
from influence.snapshots import SNAPSHOT_COLUMNS, snapshot_series
from influence.synth import generate_events


@pytest.fixture(scope="module")
def events():
    return generate_events(300, days=90, seed=3)[0]


def test_snapshot_series_shape_and_totals(events):
    table, info = snapshot_series(events, every="30d")
    assert tuple(table.columns) == SNAPSHOT_COLUMNS
    assert info["count"] == table["snapshot"].nunique() == 3
    assert info["window_days"] == 30
    totals = table.groupby("snapshot")["customers"].sum()
    assert (totals == 300).all()  # the whole universe in every snapshot
    # tiling windows: every event is in exactly one snapshot (the first starts before it)
    per_snapshot = table.groupby("snapshot")["events"].first()
    assert per_snapshot.sum() == analyze(events).manifest["rows_used"]
    # the last snapshot ends at the analysis end date
    end = analyze(events).manifest["window"]["end_date"]
    assert pd.Timestamp(table["window_end"].iloc[-1]) == pd.Timestamp(end).floor("s")


def test_window_has_effect(events):
    short, _ = snapshot_series(events, every=30)
    long, info = snapshot_series(events, every=30, window="60d")
    assert info["window_days"] == 60
    assert (long.groupby("snapshot")["events"].first().iloc[1:].to_numpy()
            > short.groupby("snapshot")["events"].first().iloc[1:].to_numpy()).all()


def test_cli_writes_snapshots_and_load_reads_them(tmp_path, events):
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    out = tmp_path / "res"
    result = CliRunner().invoke(cli, ["analyze", str(path), "--out", str(out), "-q",
                                      "--snapshots", "4w"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert "snapshots.csv" in manifest["outputs"]["files"]
    assert manifest["snapshots"]["every_days"] == 28 and "snapshots" in manifest["timings"]
    loaded = Analysis.load(out)
    assert loaded.snapshots is not None and len(loaded.snapshots) == len(
        pd.read_csv(out / "snapshots.csv"))
    plain = tmp_path / "plain"
    assert CliRunner().invoke(cli, ["analyze", str(path), "--out", str(plain),
                                    "-q"]).exit_code == 0
    assert not (plain / "snapshots.csv").exists() and Analysis.load(plain).snapshots is None


@pytest.mark.parametrize("args, code, needle", [
    (["--snapshots", "monthly"], 4, "--snapshots"),
    (["--snapshot-window", "30d"], 2, "--snapshot-window needs --snapshots"),
])
def test_cli_snapshot_errors(tmp_path, events, args, code, needle):
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["analyze", str(path), "--out", str(tmp_path / "o"),
                                      *args])
    assert result.exit_code == code, result.output
    assert needle in result.stderr


def test_cli_snapshots_need_timestamps(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("source,target,type\na,b,share\nb,c,share\n")
    result = CliRunner().invoke(cli, ["analyze", str(path), "--out", str(tmp_path / "o"),
                                      "--snapshots", "30"])
    assert result.exit_code == 3 and "timestamps" in result.stderr
