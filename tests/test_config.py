import pandas as pd
import pytest

from influence.config import AnalysisConfig, config_from_dict, load_config
from influence.errors import ConfigError
from influence.schema import BUILTIN_TYPES, EventType


def test_defaults_have_builtin_types():
    cfg = AnalysisConfig()
    assert cfg.types == BUILTIN_TYPES
    assert cfg.communities.resolution == 1.0 and cfg.communities.seed == 0


def test_toml_file_round_trip(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("""
[columns]
source = "user_id"
[types.repost]
flow = "reverse"
weight = 2.5
[types.share]
weight = 4.0
[window]
since = "2026-01-01"
until = 2026-03-31
half_life_days = 90
[communities]
resolution = 0.5
seed = 7
""")
    cfg = load_config(path)
    assert cfg.columns == {"source": "user_id"}
    assert cfg.types["repost"] == EventType("reverse", 2.5)
    assert cfg.types["share"] == EventType("forward", 4.0)
    assert cfg.window.since == pd.Timestamp("2026-01-01", tz="UTC")
    # a date alone for `until` means the end of that day
    assert cfg.window.until > pd.Timestamp("2026-03-31T23:59:59", tz="UTC")
    assert cfg.communities.seed == 7
    assert cfg.to_dict()["types"]["repost"] == {"flow": "reverse", "weight": 2.5}


@pytest.mark.parametrize("values, key", [
    ({"bogus": 1}, "bogus"),
    ({"communities": {"resolutoin": 1.0}}, "communities.resolutoin"),
    ({"communities": {"resolution": -1}}, "communities.resolution"),
    ({"communities": {"seed": "x"}}, "communities.seed"),
    ({"types": {"like": {"flow": "sideways", "weight": 1}}}, "types.like.flow"),
    ({"types": {"like": {"flow": "forward", "weight": 0}}}, "types.like.weight"),
    ({"types": {"like": {"flow": "forward"}}}, "types.like.weight"),
    ({"types": {"like": {"flow": "forward", "weight": 1e308}}}, "types.like.weight"),
    ({"types": {"share": {"weight": 1e7}}}, "types.share.weight"),
    ({"input": {"timestamp_unit": "h"}}, "input.timestamp_unit"),
    ({"input": {"unit": "ms"}}, "input.unit"),
    ({"types": {"like": {"flow": "forward", "weight": 1, "colour": 1}}}, "types.like.colour"),
    ({"window": {"since": "not a date"}}, "window.since"),
    ({"window": {"since": "2026-02-01", "until": "2026-01-01"}}, "window.since"),
    ({"window": {"half_life_days": 0}}, "window.half_life_days"),
    ({"columns": {"sauce": "x"}}, "columns.sauce"),
    ({"segments": {"high_share": 1.5}}, "segments.high_share"),
    ({"centrality": {"damping": 1.0}}, "centrality.damping"),
    ({"centrality": {"betweenness": "yes"}}, "centrality.betweenness"),
    ({"centrality": {"betweenness_budget": 0}}, "centrality.betweenness_budget"),
    ({"centrality": {"betweenness_min_pivots": 0}}, "centrality.betweenness_min_pivots"),
    ({"communities": {"stability_runs": -1}}, "communities.stability_runs"),
    ({"roles": {"hub_participation": 1.5}}, "roles.hub_participation"),
    ({"roles": {"connector_participation": -0.1}}, "roles.connector_participation"),
    ({"roles": {"peripheral_z": 3.0}}, "roles.peripheral_z"),
    ({"roles": {"hub_z": "high"}}, "roles.hub_z"),
    ({"roles": {"colour": 1}}, "roles.colour"),
])
def test_bad_config_names_the_key(values, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_from_dict(values)


def test_config_error_is_value_error():
    with pytest.raises(ValueError):
        config_from_dict({"bogus": 1})


def test_unreadable_and_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[communities\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_replace_overrides_sections():
    cfg = AnalysisConfig().replace(communities__seed=3, window__since="2026-01-01",
                                   communities__resolution=None)
    assert cfg.communities.seed == 3 and cfg.communities.resolution == 1.0
    assert cfg.window.since == pd.Timestamp("2026-01-01", tz="UTC")


def _events():
    import influence

    return influence.generate_events(150, days=60, seed=2)[0]


def test_every_public_config_parameter_takes_a_path(tmp_path):
    """config="my.toml" crashed (TypeError in analyze, AttributeError in backtest): every
    public function with config= now reads a path as --config does (str or Path), or a
    dict, and the config has its effect."""
    from pathlib import Path

    import influence
    from influence.snapshots import snapshot_series

    path = tmp_path / "my.toml"
    path.write_text("[communities]\nseed = 7\n[propagators]\nk = 3\n[privacy]\n"
                    "min_segment_size = 2\n")
    events = _events()
    for config in (str(path), path, {"communities": {"seed": 7}, "propagators": {"k": 3},
                                     "privacy": {"min_segment_size": 2}}):
        result = influence.analyze(events, config=config)
        assert result.manifest["seed"] == 7
        assert result.manifest["config"]["privacy"]["min_segment_size"] == 2
    split = pd.Timestamp(events["timestamp"].min()) + pd.Timedelta(days=40)
    back = influence.backtest(events, split.isoformat(), horizon=None, k=5, config=str(path))
    assert back.summary["config"]["communities"]["seed"] == 7
    found = influence.find_propagators(events, config=Path(path), simulations=5)
    assert len(found.seeds) == 3                               # k from the file
    table, info = snapshot_series(events, every=30, config=str(path))
    assert info["count"] >= 1 and len(table)


@pytest.mark.parametrize("bad", [3, b"my.toml", ["my.toml"], AnalysisConfig])
def test_config_of_wrong_type_names_the_parameter(bad):
    import influence
    from influence.errors import ConfigTypeError

    with pytest.raises(ConfigTypeError) as info:
        influence.analyze(_events(), config=bad)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ConfigError)
    assert str(info.value).startswith("config must be an AnalysisConfig, the path of a TOML")
    with pytest.raises(TypeError, match="config must be"):
        influence.backtest(_events(), "2026-02-01", config=bad)


def test_config_path_errors_are_config_errors(tmp_path):
    import influence

    with pytest.raises(ConfigError, match="nope.toml"):
        influence.analyze(_events(), config=str(tmp_path / "nope.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("[communities]\nresolutoin = 1\n")
    with pytest.raises(ConfigError, match="communities.resolutoin"):
        influence.backtest(_events(), "2026-02-01", config=bad)
