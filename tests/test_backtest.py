"""Backtest: the spread target, the metrics, the planted and constructed cases, the CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from influence import AnalysisConfig, config_from_dict
from influence.backtest import backtest, downstream_spread, evaluate_scores
from influence.cli import cli
from influence.synth import generate_events
from influence.validation import clean_events


def _spam_vs_reach():
    """Constructed case: 10 propagators whose shares are followed by their followers'
    own activity, and 10 spammers who send 4x more events to people who never act.

    Event counts favour the spammers; the influence score (PageRank over the reversed
    flow + out strength) favours the propagators, who are the ones that spread after
    the split.
    """
    rows = []
    stamp = pd.Timestamp("2026-01-01", tz="UTC")

    def add(source, target, when, minutes):
        rows.append((source, target, "share",
                     (when + pd.Timedelta(minutes=minutes)).isoformat()))

    for period, when in ((0, stamp), (1, pd.Timestamp("2026-04-02", tz="UTC"))):
        for p in range(10):
            for f in range(6):
                add(f"p{p}", f"f{p}_{f}", when, 10 * f)
                for s in range(3):
                    add(f"f{p}_{f}", f"s{p}_{f}_{s}", when, 100 + 10 * f + s + period)
        for x in range(10):
            for i in range(40):
                add(f"x{x}", f"t{x}_{i % 3}", when, i)
    return pd.DataFrame(rows, columns=["source", "target", "type", "timestamp"])


def test_spread_definition():
    events = pd.DataFrame({
        "source": ["a", "b", "b", "c", "d", "e"],
        "target": ["b", "x", "c", "a", "a", None],
        "type": ["share", "share", "referral", "comment", "share", "share"],
        "timestamp": ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04",
                      "2026-01-05", "2026-01-06"],
        "converted": [None, None, "true", None, None, None],
    })
    clean = clean_events(events, AnalysisConfig()).events
    spread = downstream_spread(clean, AnalysisConfig()).set_index("customer_id")["spread"]
    # a->b followed by b acting later: 1 for a; b->x never followed: 0; b->c converted: 1;
    # c comments on a's content: 1 for a; d->a with a never acting later: 0; e: no target
    assert spread.to_dict() == {"a": 2, "b": 1}


def test_acting_later_counts_events_without_target():
    """A share counts when its target acts later, also by an event with no target
    (docs/backtest.md: "sends at least one event, any type, any target"). Before the
    fix the events without a target were dropped before "acting later" was looked up."""
    events = pd.DataFrame({
        "source": ["a", "b"], "target": ["b", None], "type": ["share", "share"],
        "timestamp": ["2026-01-01", "2026-01-02"]})
    clean = clean_events(events, AnalysisConfig()).events
    spread = downstream_spread(clean, AnalysisConfig()).set_index("customer_id")["spread"]
    assert spread.to_dict() == {"a": 1}


def test_oracle_row_and_several_k():
    table = pd.DataFrame({"customer_id": list("abcd"), "spread": [5, 0, 3, 1],
                          "bad": [0.1, 0.9, 0.2, 0.8]})
    result = evaluate_scores(table, ["bad"], k=2).set_index("score")
    # the oracle picks a and c: all of the relevant customers, 8 of the 9 spread
    assert result.loc["oracle", "hits"] == 2
    assert result.loc["oracle", "captured_spread"] == pytest.approx(8 / 9)
    assert result.loc["bad", "captured_spread"] == pytest.approx(1 / 9)
    run = backtest(_spam_vs_reach(), "2026-04-01", horizon="30d", k=[10, 20])
    assert run.scores["k"].tolist().count(10) == run.scores["k"].tolist().count(20)
    assert run.summary["k"] == 10 and run.summary["ks"] == [10, 20]
    assert {"received", "received_7d", "expected_influence", "oracle"} <= set(run.scores["score"])
    with pytest.raises(ValueError, match="k must be"):
        backtest(_spam_vs_reach(), "2026-04-01", k=[10, 0])


def test_evaluate_scores_ties_and_propagator_rank():
    table = pd.DataFrame({"customer_id": list("abcdef"),
                          "spread": [5, 5, 5, 0, 1, 0],
                          "flat": [1.0] * 6,
                          "propagator_rank": [1, pd.NA, 2, pd.NA, pd.NA, pd.NA]})
    result = evaluate_scores(table, ["flat", "propagator_rank"], k=2).set_index("score")
    # the cut is the 2nd largest spread (5): three relevant customers, ties included
    assert result.loc["random", "precision_at_k"] == pytest.approx(0.5)
    # a flat score picks by customer_id: a, b
    assert result.loc["flat", "hits"] == 2 and np.isnan(result.loc["flat", "spearman"])
    assert result.loc["propagator_rank", "k"] == 2
    assert result.loc["propagator_rank", "precision_at_k"] == 1.0


def test_constructed_case_influence_beats_event_count():
    result = backtest(_spam_vs_reach(), "2026-04-01", horizon="30d", k=10)
    scores = result.scores.set_index("score")
    assert result.summary["relevant_customers"] == 10
    assert scores.loc["influence_score", "precision_at_k"] == 1.0
    assert scores.loc["events", "precision_at_k"] == 0.0
    assert scores.loc["events_sent", "precision_at_k"] == 0.0
    top = result.customers.head(10)
    assert top["customer_id"].str.startswith("p").all() and top["relevant"].all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generator_influence_beats_activity_count(seed):
    """Planted propagators keep spreading after the split; the influence score ranks
    the spreaders better than the count of events sent.

    On the generator the count of all events taken part in (sent + received) is as
    good as the influence score (it wins on 2 of these 3 seeds), so this test compares
    with events_sent only; the constructed case above covers the other baseline.
    """
    events, truth = generate_events(3000, days=180, seed=seed)
    result = backtest(events, "2026-04-01", horizon="60d", k=30)
    scores = result.scores.set_index("score")
    assert (scores.loc["influence_score", "precision_at_k"]
            > scores.loc["events_sent", "precision_at_k"])
    assert scores.loc["influence_score", "spearman"] > scores.loc["events_sent", "spearman"] + 0.05
    assert (scores.loc["influence_score", "captured_spread"]
            > scores.loc["events_sent", "captured_spread"])
    assert scores.loc["influence_score", "lift"] > 10
    # the planted propagators are among the top spreaders after the split
    propagators = set(truth.loc[truth["role"] == "propagator", "customer_id"])
    relevant = set(result.customers.loc[result.customers["relevant"], "customer_id"])
    assert len(propagators & relevant) >= len(propagators) / 2


def test_horizon_limits_judging_period():
    events = _spam_vs_reach()
    with pytest.raises(ValueError, match="no events to judge"):
        backtest(events, "2026-04-01", horizon=1, k=10)  # the later events are on day 2
    two_days = backtest(events, "2026-04-01", horizon="2d", k=10)
    assert two_days.summary["events_after"] == len(events) / 2
    everything = backtest(events, "2026-04-01", horizon=None, k=10)
    assert everything.summary["events_after"] == len(events) / 2
    assert everything.summary["judging_until"] is None


@pytest.fixture
def spam_csv(tmp_path):
    path = tmp_path / "events.csv"
    _spam_vs_reach().to_csv(path, index=False)
    return path


def test_cli_table_json_and_out(tmp_path, spam_csv):
    runner = CliRunner()
    table = runner.invoke(cli, ["backtest", str(spam_csv), "--split", "2026-04-01", "-k", "10"])
    assert table.exit_code == 0, table.output
    assert "precision" in table.stdout and "influence_score" in table.stdout
    out = tmp_path / "bt"
    as_json = runner.invoke(cli, ["backtest", str(spam_csv), "--split", "2026-04-01", "-k",
                                  "10", "--json", "--out", str(out)])
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.stdout)
    assert payload == json.loads((out / "backtest.json").read_text())
    assert {row["score"] for row in payload["scores"]} >= {"influence_score", "events",
                                                          "random"}
    assert (out / "backtest_customers.csv").is_file()


@pytest.mark.parametrize("args, code, needle", [
    (["--split", "2026-99-01"], 4, "--split"),
    (["--split", "2026-04-01", "--horizon", "soon"], 4, "--horizon"),
    (["--split", "2027-01-01"], 3, "no events to judge"),
    (["--split", "2020-01-01"], 3, "no events to score"),
    ([], 2, "--split"),
    (["--split", "2026-04-01", "-k", "0"], 2, "-k"),
])
def test_cli_errors(spam_csv, args, code, needle):
    result = CliRunner().invoke(cli, ["backtest", str(spam_csv), *args])
    assert result.exit_code == code, result.output
    assert needle in result.stderr and result.stderr.startswith("influence: error:")


def test_cli_missing_file_and_no_timestamps(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(cli, ["backtest", str(tmp_path / "nope.csv"), "--split",
                                  "2026-04-01"])
    assert missing.exit_code == 3
    plain = tmp_path / "plain.csv"
    plain.write_text("source,target,type\na,b,share\n")
    result = runner.invoke(cli, ["backtest", str(plain), "--split", "2026-04-01"])
    assert result.exit_code == 3 and "timestamp" in result.stderr


def test_new_commands_have_help_with_examples():
    for command in ("compare", "backtest"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0 and "Examples:" in result.output


def test_propagator_row_picks_k_and_the_table_says_what_each_row_measured(tmp_path):
    """The header said precision@100 while the propagator_rank row was the default seed
    set of 50: the seed set now has the backtest's k, and the table names no k that a
    row did not use (each row's precision is over its own picks, column k)."""
    events = generate_events(600, days=120, seed=4)[0]
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    split = (pd.Timestamp(events["timestamp"].min()) + pd.Timedelta(days=80)).date()
    result = backtest(events, str(split), horizon=None, k=80)
    rows = result.scores.set_index("score")
    assert rows.loc["propagator_rank", "k"] > 50          # seeds beyond the default 50
    assert rows.loc["propagator_rank", "k"] <= 80
    out = CliRunner().invoke(cli, ["backtest", str(path), "--split", str(split), "-k", "80"])
    assert out.exit_code == 0, out.output
    header = next(line for line in out.stdout.splitlines() if line.strip().startswith("score"))
    assert "precision@" not in header and "precision" in header.split()
    picks = int(rows.loc["propagator_rank", "k"])
    if picks < 80:
        assert f"fewer for propagator_rank {picks}" in out.stdout


def test_time_scores_use_the_runs_score_settings():
    # expected_influence in a backtest is calibrated with the run's [score] settings, as in
    # analyze (it used the library defaults whatever the config said)
    events, _ = generate_events(400, days=120, seed=4)
    default = backtest(events, "2026-04-01", horizon="30d", k=20)
    config = config_from_dict({"score": {"half_lives": [365.0], "reach_half_lives": []}})
    yearly = backtest(events, "2026-04-01", horizon="30d", k=20, config=config)
    a = default.customers.set_index("customer_id")["expected_influence"]
    b = yearly.customers.set_index("customer_id")["expected_influence"].loc[a.index]
    assert not np.allclose(a.to_numpy(), b.to_numpy())
