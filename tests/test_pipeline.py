"""The shared pipeline and the API the command line calls (issue 15)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

import influence
from influence import analyze
from influence.cli import cli
from influence.errors import ConfigError, InputError
from influence.result import Analysis
from influence.validation import validate_events


@pytest.fixture
def events() -> pd.DataFrame:
    """Referrals with conversions and values, shares and comments over two months."""
    return pd.DataFrame({
        "source": ["a", "a", "b", "c", "d", "a", "e", "b", "f", "a"],
        "target": ["b", "c", "d", "a", "e", "f", "a", "c", "a", "g"],
        "type": ["referral", "referral", "referral", "comment", "share", "share",
                 "comment", "share", "share", "referral"],
        "timestamp": ["2026-01-01", "2026-01-03", "2026-01-10", "2026-01-12", "2026-01-20",
                      "2026-02-01", "2026-02-03", "2026-02-10", "2026-02-20", "2026-02-27"],
        "converted": [True, False, True, None, None, None, None, None, None, True],
        "value": [10.0, 0.0, 5.5, None, None, None, None, None, None, 2.0],
    })


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_load_gives_back_the_dtypes_analyze_returned(events, tmp_path, fmt):
    # before: first_active/last_active came back as text, propagator_rank and
    # referrers as float, referrals_converted, downstream_conversions and the
    # cascades' conversions as int (CSV)
    result = analyze(events)
    loaded = Analysis.load(result.save(tmp_path / "out", fmt))
    for name in ("customers", "communities", "segments", "cascades", "kfactor", "edges"):
        made, back = getattr(result, name), getattr(loaded, name)
        assert list(back.columns) == list(made.columns), name
        differ = {c: (str(made[c].dtype), str(back[c].dtype)) for c in made.columns
                  if str(made[c].dtype) != str(back[c].dtype)}
        assert differ == {}, f"{name}: {differ}"
    pd.testing.assert_series_equal(loaded.customers["first_active"],
                                   result.customers["first_active"])


def test_each_stage_is_timed_once_under_its_own_name(events):
    started = []

    class Recorder:
        def start(self, stage):
            started.append(stage)

        def done(self, stage, seconds):
            pass

    result = analyze(events, reporter=Recorder())
    assert len(started) == len(set(started)), started
    assert started[-4:] == ["rank", "spread", "segments", "profiles"]
    assert {"read", "validate", "graph", "centrality", "communities"} <= set(started)
    assert set(started) <= set(result.manifest["timings"])


def test_unknown_engine_is_a_config_error_naming_the_argument(events):
    with pytest.raises(ConfigError) as caught:
        analyze(events, engine="dask")
    assert caught.value.key == "engine" and caught.value.got == "dask"


def test_snapshots_through_the_api_fill_the_table_and_the_manifest(events, tmp_path):
    result = analyze(events, snapshots={"every": "30d"})
    assert result.snapshots is not None and len(result.snapshots)
    assert result.manifest["snapshots"] == {"every_days": 30, "window_days": 30,
                                            "count": int(result.snapshots["snapshot"].max())}
    assert "snapshots" in result.manifest["timings"]
    # the command line gives the same table
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    run = CliRunner().invoke(cli, ["analyze", str(path), "--out", str(tmp_path / "o"),
                                   "--snapshots", "30d", "--no-report", "-q"])
    assert run.exit_code == 0, run.output
    saved = Analysis.load(tmp_path / "o")
    assert saved.snapshots.equals(result.snapshots)
    with pytest.raises(InputError) as caught:
        analyze(events.drop(columns="timestamp"), snapshots="30d")
    assert caught.value.key == "snapshots"
    with pytest.raises(ConfigError):
        analyze(events, snapshots={"step": "30d"})


def test_pseudonymisation_is_an_api_step(events):
    plain = analyze(events)
    hidden = analyze(events, pseudonymize_key=b"k" * 32)
    assert hidden.manifest["privacy"]["pseudonymized"] is True
    assert not set(hidden.customers["customer_id"]) & set(plain.customers["customer_id"])
    assert hidden.customers["influence_score"].tolist() == \
        plain.customers["influence_score"].tolist()


def test_validate_events_is_the_cli_report(events, tmp_path):
    path = tmp_path / "events.csv"
    pd.concat([events, events.iloc[[0]]]).to_csv(path, index=False)  # one duplicate
    report = validate_events(str(path))
    assert report.usable and report.accounting.dropped["duplicate"] == 1
    run = CliRunner().invoke(cli, ["validate", str(path), "--json"])
    assert run.exit_code == 0
    assert json.loads(run.stdout) == json.loads(json.dumps(report.to_dict()))
    # the same accounting the analysis writes into its manifest
    manifest = analyze(str(path)).manifest
    for key in ("rows_read", "rows_used", "dropped", "events_by_type", "has_timestamps"):
        assert manifest[key] == report.to_dict()[key]


def test_rank_is_defined_once_and_breaks_ties_by_id():
    # four customers with the same score: ranks follow the ids
    events = pd.DataFrame({"source": ["d", "c", "b", "a"], "target": [None] * 4,
                           "type": ["share"] * 4})
    result = analyze(events)
    assert result.customers["customer_id"].tolist() == ["a", "b", "c", "d"]
    assert result.customers["influence_rank"].tolist() == [1, 2, 3, 4]


def test_analyze_spark_is_an_alias_of_analyze_with_the_spark_engine():
    import inspect

    from influence.spark import analyze_spark

    source = inspect.getsource(analyze_spark)
    assert 'engine="spark"' in source and len(source.splitlines()) < 80
    assert influence.analyze is analyze


def test_betweenness_has_its_own_seed():
    # sampled betweenness (budget below customers x edges): [centrality] seed moves it,
    # the community seed (--seed) does not (before: --seed moved both)
    events, _ = influence.generate_events(300, seed=2)
    sampled = {"centrality": {"betweenness_budget": 1000, "betweenness_min_pivots": 4}}

    def scores(seed=None, centrality_seed=0):
        config = influence.config_from_dict(
            {"centrality": {**sampled["centrality"], "seed": centrality_seed}})
        result = analyze(events, config=config, seed=seed)
        return result.customers.set_index("customer_id")["betweenness"].sort_index()

    base = scores(seed=0)
    pd.testing.assert_series_equal(scores(seed=5), base)
    assert not scores(centrality_seed=5).equals(base)
    assert influence.AnalysisConfig().centrality.seed == 0
    with pytest.raises(ConfigError, match="centrality.seed"):
        influence.config_from_dict({"centrality": {"seed": -1}})


def test_a_bad_snapshot_step_fails_before_the_analysis(events, monkeypatch):
    import influence.local

    def never(*args, **kwargs):
        raise AssertionError("the analysis ran")

    monkeypatch.setattr(influence.local, "run_local", never)
    with pytest.raises(ConfigError, match="argument .snapshots. must be a positive number"):
        analyze(events, snapshots="every month")
