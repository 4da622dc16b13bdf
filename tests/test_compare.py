"""Period comparison: migration, change lists, community matching, CLI."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner

import influence
from influence.cli import cli
from influence.compare import ABSENT, CHANGE_LISTS, match_communities


def _events(rows):
    return pd.DataFrame(rows, columns=["source", "target", "type", "timestamp"])


@pytest.fixture
def two_periods():
    """ann leads before and goes silent; cat rises; dan is new after."""
    before = _events([
        ("ann", "bob", "referral", "2026-01-01"), ("ann", "cat", "share", "2026-01-02"),
        ("ann", "eve", "share", "2026-01-03"), ("bob", "cat", "share", "2026-01-04"),
        ("eve", "bob", "comment", "2026-01-05"), ("ann", "bob", "share", "2026-01-06"),
    ])
    after = _events([
        ("cat", "bob", "share", "2026-04-01"), ("cat", "eve", "referral", "2026-04-02"),
        ("cat", "dan", "share", "2026-04-03"), ("bob", "eve", "share", "2026-04-04"),
        ("dan", "cat", "comment", "2026-04-05"), ("cat", "bob", "share", "2026-04-06"),
    ])
    return before, after


def test_compare_lists_and_migration(two_periods):
    before, after = two_periods
    old = influence.analyze(before, config=influence.AnalysisConfig().replace(
        segments__high_share=0.2))
    new = influence.analyze(after, config=influence.AnalysisConfig().replace(
        segments__high_share=0.2))
    result = influence.compare(old, new)
    table = result.customers.set_index("customer_id")
    assert set(table.index) == {"ann", "bob", "cat", "dan", "eve"}
    assert table.loc["ann", "new_segment"] == ABSENT and table.loc["dan", "old_segment"] == ABSENT
    assert result.changes("rising_star")["customer_id"].iloc[0] == "cat"
    assert result.changes("dormant_advocate")["customer_id"].tolist() == ["ann"]
    assert "cat" in result.changes("new_propagator")["customer_id"].tolist()
    # every customer is counted once in the migration, shares of each old segment sum to 1
    assert result.migration["customers"].sum() == len(table)
    assert result.migration.groupby("old_segment")["share_of_old"].sum().round(6).eq(1).all()
    matrix = result.migration_matrix()
    assert matrix.to_numpy().sum() == len(table)
    for name in CHANGE_LISTS:
        assert result.summary["lists"][name] == len(result.changes(name))


def test_lost_champions_and_folders(tmp_path, two_periods):
    before, after = two_periods
    old = influence.analyze(before)
    new = influence.analyze(after)
    old.save(tmp_path / "old")
    new.save(tmp_path / "new")
    from_folders = influence.compare(tmp_path / "old", tmp_path / "new")
    in_memory = influence.compare(old, new)
    pd.testing.assert_frame_equal(from_folders.migration, in_memory.migration)
    champions = set(old.customers.loc[old.customers["segment"] == "champions", "customer_id"])
    still = set(new.customers.loc[new.customers["segment"] == "champions", "customer_id"])
    assert set(in_memory.changes("lost_champion")["customer_id"]) == champions - still


def test_match_communities_events():
    old = pd.Series([0] * 4 + [1] * 4 + [2] * 6 + [3] * 3,
                    index=[f"c{i}" for i in range(17)])
    new = pd.Series([7] * 8 + [8] * 3 + [9] * 3 + [4] * 3 + [5] * 3,
                    index=[f"c{i}" for i in range(20)])
    # 0 and 1 merge into 7; 2 splits into 8 and 9; 3 continues as 4; 5 is born
    matches = match_communities(old, new, threshold=0.3)
    events = {(r.old_community if pd.notna(r.old_community) else None,
               r.new_community if pd.notna(r.new_community) else None): r.event
              for r in matches.itertuples()}
    assert events == {(0, 7): "merge", (1, 7): "merge", (2, 8): "split", (2, 9): "split",
                      (3, 4): "continued", (None, 5): "birth"}
    assert matches.loc[matches["event"] == "continued", "jaccard"].item() == 1.0
    dead = match_communities(old, new, threshold=0.9)
    assert set(dead.loc[dead["event"] == "death", "old_community"]) == {0, 1, 2}


def test_threshold_validated(two_periods):
    before, after = two_periods
    with pytest.raises(ValueError, match="threshold"):
        influence.compare(influence.analyze(before), influence.analyze(after), threshold=0)


@pytest.fixture
def events_csv(tmp_path, two_periods):
    path = tmp_path / "events.csv"
    pd.concat(two_periods).to_csv(path, index=False)
    return path


def test_cli_split_writes_files(tmp_path, events_csv):
    out = tmp_path / "changes"
    result = CliRunner().invoke(cli, ["compare", str(events_csv), "--split", "2026-04-01",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "segment migration" in result.stdout and "rising stars" in result.stdout
    assert {p.name for p in out.iterdir()} == {"migration.csv", "customer_changes.csv",
                                               "community_matches.csv"}
    changes = pd.read_csv(out / "customer_changes.csv")
    assert len(changes) == 5


def test_cli_split_equals_explicit_windows(events_csv):
    runner = CliRunner()
    split = runner.invoke(cli, ["compare", str(events_csv), "--split", "2026-04-01",
                                "--format", "json"])
    windows = runner.invoke(cli, ["compare", str(events_csv), str(events_csv),
                                  "--old-until", "2026-03-31", "--new-since", "2026-04-01",
                                  "--format", "json"])
    assert split.exit_code == windows.exit_code == 0, split.output + windows.output
    assert json.loads(split.stdout) == json.loads(windows.stdout)
    assert json.loads(split.stdout)["lists"]["rising_star"][0]["customer_id"] == "cat"


def test_cli_folders(tmp_path, two_periods):
    runner = CliRunner()
    for name, part in zip(("old", "new"), two_periods):
        part.to_csv(tmp_path / f"{name}.csv", index=False)
        assert runner.invoke(cli, ["analyze", str(tmp_path / f"{name}.csv"), "--out",
                                   str(tmp_path / name), "-q"]).exit_code == 0
    result = runner.invoke(cli, ["compare", str(tmp_path / "old"), str(tmp_path / "new"),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["customers_both"] == 3


@pytest.mark.parametrize("args, code, needle", [
    (["--split", "not-a-date"], 4, "--split"),
    (["--split", "2026-04-01", "EVENTS"], 2, "one events file"),
    ([], 2, "missing argument 'NEW'"),
    (["EVENTS", "--old-until", "2026-13-45"], 4, "--old-until"),
])
def test_cli_errors(events_csv, args, code, needle):
    args = [str(events_csv) if a == "EVENTS" else a for a in args]
    result = CliRunner().invoke(cli, ["compare", str(events_csv), *args])
    assert result.exit_code == code, result.output
    assert needle in result.stderr and result.stderr.startswith("influence: error:")


def test_cli_missing_folder_and_window_on_folder(tmp_path, events_csv):
    runner = CliRunner()
    missing = runner.invoke(cli, ["compare", str(tmp_path / "nope"), str(events_csv)])
    assert missing.exit_code == 3 and "does not exist" in missing.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    not_results = runner.invoke(cli, ["compare", str(empty), str(events_csv)])
    assert not_results.exit_code == 3 and "manifest.json" in not_results.stderr
    window = runner.invoke(cli, ["compare", str(empty), str(events_csv), "--old-since",
                                 "2026-01-01"])
    assert window.exit_code == 2
