"""Expected influence (influence.metrics.score): features, target, fit, calibration, self-check.

Small hand-checked cases, the backtest's own target and metrics as oracles, and
constructed histories where the right half-life is known.
"""

import numpy as np
import pandas as pd
import pytest

from influence import AnalysisConfig, config_from_dict
from influence.backtest import downstream_spread, evaluate_scores
from influence.graph import encode_events
from influence.metrics import score
from influence.synth import generate_events
from influence.validation import clean_events

DAY = 86_400e9


def _arrays(events, config=AnalysisConfig()):  # noqa: B008 - frozen, never mutated
    clean = clean_events(events, config)
    ev = clean.events
    source, target = encode_events(ev, clean.ids)
    reverse = ev["type"].map({k: v.flow == "reverse" for k, v in config.types.items()})
    days = ev["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64) / DAY
    converted = (ev["converted"].fillna(False).to_numpy(dtype=bool)
                 if "converted" in ev else None)
    return clean, source, target, reverse.astype(bool).to_numpy(), days, converted


def test_influence_events_follow_the_flow():
    # 0 shares with 1 (forward: 0 influenced 1); 2 comments on 0's post (reverse: 0 -> 2);
    # 1 acts with no target (nobody influenced)
    rows, by, to = score.influence_events(np.array([0, 2, 1]), np.array([1, 0, -1]),
                                          np.array([False, True, False]))
    assert rows.tolist() == [0, 1] and by.tolist() == [0, 0] and to.tolist() == [1, 2]


def test_decayed_influence_by_hand_and_row_order():
    by = np.array([0, 0, 1, 1, 1])
    t = np.array([0.0, 20.0, 10.0, 25.0, 30.0])  # the last is at the end: not counted
    out = score.decayed_influence(by, t, 30.0, 3, half_lives=(10.0, None))
    assert out[0].tolist() == pytest.approx([0.5 ** 3 + 0.5, 2.0])
    assert out[1].tolist() == pytest.approx([0.5 ** 2 + 0.5 ** 0.5, 2.0])
    assert out[2].tolist() == [0.0, 0.0]
    rng = np.random.default_rng(0)
    big_by, big_t = rng.integers(0, 50, 5000), rng.random(5000) * 100
    perm = rng.permutation(5000)
    a = score.decayed_influence(big_by, big_t, 90.0, 50)
    b = score.decayed_influence(big_by[perm], big_t[perm], 90.0, 50)
    assert a.tobytes() == b.tobytes()


def test_later_influence_matches_the_backtest_target():
    events, _ = generate_events(2000, seed=4)
    config = AnalysisConfig()
    clean, source, target, reverse, days, converted = _arrays(events, config)
    start, end = np.quantile(days, 0.5), np.quantile(days, 0.8)
    ours = score.later_influence(source, target, reverse, days, start, end, len(clean.ids),
                                 converted=converted)
    window = (days >= start) & (days < end)
    theirs = downstream_spread(clean.events[window], config)
    expected = np.zeros(len(clean.ids), dtype=np.int64)
    expected[clean.ids.get_indexer(theirs["customer_id"])] = theirs["spread"]
    assert ours.sum() > 1000
    np.testing.assert_array_equal(ours, expected)


def test_top_k_metrics_match_evaluate_scores():
    rng = np.random.default_rng(1)
    later = rng.poisson(rng.pareto(1.5, 300))
    value = later + rng.normal(0, 2, 300)
    table = pd.DataFrame({"customer_id": [f"c{i:03d}" for i in range(300)],
                          "spread": later, "s": value})
    for k in (10, 100):
        ours = score.top_k_metrics(value, later, k)
        row = evaluate_scores(table, ["s"], k).set_index("score").loc["s"]
        assert ours["capture"] == pytest.approx(row["captured_spread"], abs=1e-6)
        assert ours["precision"] == pytest.approx(row["precision_at_k"], abs=1e-6)


def test_fit_weights_recovers_poisson_means():
    rng = np.random.default_rng(2)
    x = rng.gamma(0.5, 4.0, size=(20_000, 4))
    truth = np.array([1.5, 0.0, 0.4, 0.0])
    y = rng.poisson(x @ truth + 0.05)
    weights, intercept = score.fit_weights(x, y)
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights, truth, atol=0.05)
    assert intercept == pytest.approx(0.05, abs=0.03)
    assert score.fit_weights(x, np.zeros(len(x)))[0].tolist() == [0.0] * 4
    # customers with no feature share the intercept (they are fitted as one weighted row)
    x[:10_000] = 0.0
    y[:10_000] = rng.poisson(0.3, 10_000)
    weights, intercept = score.fit_weights(x, y)
    assert intercept == pytest.approx(0.3, abs=0.03)
    np.testing.assert_allclose(weights, truth, atol=0.07)


def _bursty_history(steady: bool, seed: int = 0) -> pd.DataFrame:
    """300 authors over 150 days whose posts get comments. ``steady``: each has a
    fixed rate for the whole period. Otherwise each author is commented on only
    during one burst of 40 days starting at a random day, so only the last weeks tell
    who will be commented on next."""
    rng = np.random.default_rng(seed)
    base = pd.Timestamp("2026-01-01", tz="UTC")
    rows = []
    for author in range(300):
        rate = rng.pareto(1.5) + 0.05
        if steady:
            start, length = 0.0, 150.0
        else:
            start, length = rng.random() * 150 - 20, 40.0
        for _ in range(rng.poisson(rate * length)):
            day = start + length * rng.random()
            if 0 <= day < 150:
                rows.append((f"r{rng.integers(3000)}", f"a{author:03d}", "comment",
                             (base + pd.Timedelta(days=day)).isoformat()))
    return pd.DataFrame(rows, columns=["source", "target", "type", "timestamp"])


def test_calibration_learns_the_memory_of_the_data():
    for steady in (True, False):
        clean, source, target, reverse, days, _ = _arrays(_bursty_history(steady))
        model = score.calibrate(source, target, reverse, days, len(clean.ids))
        assert model.method == "fitted" and model.spreaders > 40 and model.shrink > 0.8
        share = np.asarray(model.weights) * score.features_at(
            source, target, reverse, days, model.split, len(clean.ids)).mean(axis=0)
        share /= share.sum()
        # the week's memory: the 7-day influence count and the customers reached in a week
        week = share[0] + share[4]
        if steady:   # long memory: the week carries little of the prediction
            assert week < 0.5, share
        else:        # bursts: the week carries most of it
            assert week > 0.5, share


def test_calibration_falls_back_to_the_prior():
    clean, source, target, reverse, days, _ = _arrays(_bursty_history(True))
    n = len(clean.ids)
    short = score.calibrate(source, target, reverse, days, n, end=days.min() + 50)
    assert short.method == "prior" and "history shorter" in short.notes[0]
    # the prior gives the reach features no weight: the rate formula alone
    np.testing.assert_allclose(short.weights, np.r_[score.prior_weights(), 0.0])
    # a constant rate r for long: R_h = r h / ln 2, so the prior predicts r x horizon
    r = 2.0
    features = r * np.array(score.HALF_LIVES) / np.log(2)
    assert features @ score.prior_weights(30.0) == pytest.approx(r * 30.0)
    model = score.calibrate(source, target, reverse, days, n)
    blend = (model.shrink * np.asarray(model.fitted)
             + (1 - model.shrink) * np.r_[score.prior_weights(), 0.0])
    np.testing.assert_allclose(model.weights, blend)
    assert model.shrink == pytest.approx(model.spreaders / (model.spreaders + 10))


def test_self_check_uses_nothing_after_its_split():
    clean, source, target, reverse, days, _ = _arrays(_bursty_history(False, seed=3))
    n = len(clean.ids)
    end = days.max() + 1e-5
    table, summary = score.self_check(source, target, reverse, days, n, end=end, ks=(10, 50))
    assert summary["check"] == pytest.approx(end - 30)
    again = score.calibrate(source, target, reverse, days, n, end=end - 30)
    assert summary["model"]["weights"] == again.to_dict()["weights"]
    # moving the events after the check changes what is judged, not the score
    late = days >= summary["check"]
    shuffled = target.copy()
    shuffled[late] = np.random.default_rng(0).permutation(target[late])
    _, other = score.self_check(source, shuffled, reverse, days, n, end=end, ks=(10, 50))
    assert other["model"] == summary["model"]
    rows = table.set_index(["score", "k"])
    assert set(rows.index.get_level_values(0)) == {
        "expected_influence", "received", "received_7d", "out_degree", "events", "oracle"}
    assert rows.loc[("oracle", 10), "capture"] >= rows["capture"].xs(10, level="k").max()
    # bursts: the calibrated score beats the all-time count
    assert (rows.loc[("expected_influence", 50), "capture"]
            > rows.loc[("received", 50), "capture"])
    skipped, why = score.self_check(source, target, reverse, days, n, end=days.min() + 80)
    assert skipped.empty and "history shorter" in why["skipped"]


def test_reason_text_names_what_drove_the_score():
    shares = score.contributions(np.array([[4.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]),
                                 np.array([2.0, 1.0, 2.0, 1.0]))
    assert shares[0].tolist() == pytest.approx([0.8, 0.0, 0.2, 0.0])
    text = score.reason_text(np.array([10.0, 0.0]), shares)
    assert text.tolist() == [
        "expected influence 10 in the next 30 days (80% from the last weeks, "
        "20% from the last quarters)", "no influence exerted yet"]


def test_fit_and_check_shares_the_passes():
    clean, source, target, reverse, days, _ = _arrays(_bursty_history(False, seed=5))
    n = len(clean.ids)
    end = days.max() + 1e-5
    run = score.fit_and_check(source, target, reverse, days, n, end=end, ks=(10,))
    alone = score.calibrate(source, target, reverse, days, n, end=end)
    assert run.model == alone
    _, by, to = score.influence_events(source, target, reverse)
    # comments only: every influence event is followed by activity
    np.testing.assert_array_equal(run.features[:, :4],
                                  score.decayed_influence(by, days[target >= 0], end, n))
    np.testing.assert_array_equal(run.features[:, 4:],
                                  score.decayed_reach(by, to, days[target >= 0], end, n))
    assert list(run.check["k"].unique()) == [10]
    short = score.fit_and_check(source, target, reverse, days, n, end=days.min() + 70)
    assert short.check.empty and short.model.method == "fitted"
    assert short.check_summary["skipped"] == "history shorter than 3 x 30 days"


def test_fit_and_check_skip_message_names_its_rule():
    """Under two horizons of history the model is the prior and the check is skipped:
    the message says 2 x (it said 3 x, the rule of the next case)."""
    clean, source, target, reverse, days, _ = _arrays(_bursty_history(False, seed=5))
    n = len(clean.ids)
    run = score.fit_and_check(source, target, reverse, days, n, end=days.min() + 50)
    assert run.model.method == "prior" and run.check.empty
    assert run.check_summary["skipped"] == "history shorter than 2 x 30 days"
    assert run.model.notes == ["history shorter than 2 x 30 days"]


def test_decayed_reach_counts_distinct_customers_by_last_contact():
    """D_g: each customer influenced counts once, aged by the last contact before the
    scoring time; the same whatever the order of the rows, with or without the
    shared pair codes."""
    by = np.array([0, 0, 0, 0, 1, 1])
    to = np.array([1, 1, 2, 1, 0, 0])
    t = np.array([0.0, 7.0, 14.0, 30.0, 3.0, 3.0])
    got = score.decayed_reach(by, to, t, 14.0, 3, half_lives=(7.0, None))
    # 0 reached 1 last at day 7 (age 7: 0.5) and 2 at day 14 (not before 14): the
    # contact at day 30 is after the scoring time; 1 reached 0 twice at day 3
    np.testing.assert_allclose(got, [[0.5, 1.0], [0.5 ** (11 / 7), 1.0], [0.0, 0.0]],
                               atol=1e-9)
    order = np.random.default_rng(1).permutation(len(by))
    again = score.decayed_reach(by[order], to[order], t[order], 14.0, 3,
                                half_lives=(7.0, None))
    np.testing.assert_array_equal(again, got)
    shared = score._pairs(by, to, 3)
    for end in (5.0, 14.0, 31.0):
        np.testing.assert_array_equal(
            score.decayed_reach(by, to, t, end, 3, pairs=shared),
            score.decayed_reach(by, to, t, end, 3))
    assert score.decayed_reach(by, to, t, 14.0, 3, half_lives=()).shape == (3, 0)


def test_features_count_only_influence_that_moved_someone():
    """A share counts when its target acted afterwards (or it converted); a comment
    always. Before: every share counted, so a spammer whose shares move nobody
    out-scored the customers whose shares were followed (tests/test_backtest.py's
    constructed case)."""
    source = np.array([0, 0, 1, 2, 3])
    target = np.array([1, 2, 4, -1, 0])
    reverse = np.array([False, False, False, False, True])
    times = np.array([0.0, 0.0, 1.0, 2.0, 3.0])
    got = score.features_at(source, target, reverse, times, 10.0, 5, half_lives=(None,))
    # 0 -> 1 followed (1 sent at day 1), 0 -> 2 followed (2 sent at day 2), 1 -> 4 not
    # (4 never sent), the comment 3 -> 0 credits 0
    assert got[:, 0].tolist() == [3.0, 0.0, 0.0, 0.0, 0.0]
    # at day 1.5 the share to 2 was not followed yet
    early = score.features_at(source, target, reverse, times, 1.5, 5, half_lives=(None,))
    assert early[:, 0].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    converted = np.array([False, False, True, False, False])
    got = score.features_at(source, target, reverse, times, 10.0, 5, half_lives=(None,),
                            converted=converted)
    assert got[1, 0] == 1.0
    every = score.features_at(source, target, reverse, times, 10.0, 5, half_lives=(None,),
                              followed=False)
    assert every[:, 0].tolist() == [3.0, 1.0, 0.0, 0.0, 0.0]


def test_analyze_ranks_by_expected_influence_and_checks_itself():
    """Issue 16: with timestamps, influence_score is the percentile of expected
    influence (the rank follows it), and the manifest carries the self-check in the
    report's shape; without timestamps the composite and no check."""
    from influence import analyze
    from influence.report import render_report

    events, _ = generate_events(600, days=150, seed=3)
    result = analyze(events)
    table = result.customers
    assert table["influence_rank"].tolist() == list(range(1, len(table) + 1))
    expected = table["expected_influence"].to_numpy()
    assert (np.diff(expected) <= 0).all()                     # the rank follows it
    assert table["influence_score"].to_numpy() == pytest.approx(
        score.score_percentile(expected), abs=1e-6)
    model = result.manifest["score"]["model"]
    assert model["method"] == "fitted" and len(model["weights"]) == 5  # 4 memories + reach
    assert model["reach_half_lives"] == [7.0]
    check = result.manifest["score_check"]
    # k is at most the customers judged
    assert check["k"] == [100, min(1000, check["judged"])] and check["horizon"] == "30 days"
    names = [row["score"] for row in check["rows"]]
    assert names[0] == "influence_score" and names[-1].startswith("best possible")
    assert check["rows"][-1]["reference"] is True
    assert 0 < check["rows"][0]["captured"]["100"] <= 1 and check["judged"] > 0
    html = render_report(result)
    section = html[html.index('<section id="score-check">'):]
    assert "<em>best possible" in section[:section.index("</section>")]
    reason = table["segment_reason"].iloc[0]
    assert "expected influence" in reason and "% from the last" in reason
    timeless = analyze(events.drop(columns="timestamp"))
    assert "expected_influence" not in timeless.customers.columns
    assert "score_check" not in timeless.manifest
    assert timeless.manifest["score"]["method"] == "composite"
    off = analyze(events, config=AnalysisConfig().replace(score__self_check=False))
    assert "score_check" not in off.manifest
    assert off.customers["influence_score"].equals(table["influence_score"])


def test_reach_features_can_be_left_out():
    """``[score] reach_half_lives = []`` gives the four influence memories alone (the
    score before the reach features); a non-positive memory is a config error (exit 4)."""
    from influence import analyze
    from influence.errors import ConfigError

    events, _ = generate_events(600, days=150, seed=3)
    plain = analyze(events, config=config_from_dict({"score": {"reach_half_lives": []}}))
    model = plain.manifest["score"]["model"]
    assert model["reach_half_lives"] == [] and len(model["weights"]) == 4
    reasons = plain.customers["segment_reason"]
    assert not reasons.str.contains("customers reached").any()
    reached = analyze(events)
    assert reached.customers["segment_reason"].str.contains(
        "from the customers reached in the last weeks").any()
    with pytest.raises(ConfigError, match="reach_half_lives"):
        config_from_dict({"score": {"reach_half_lives": [0]}})
