"""Segments, lists and privacy through the command line and the config."""

import json
import re

import pandas as pd
import pytest
from click.testing import CliRunner

from influence import analyze
from influence.cli import cli
from influence.config import config_from_dict
from influence.errors import ConfigError
from influence.export import pseudonymize_ids

HOSTILE = ["=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1)", "\tTAB", "0042"]
# ids are stripped of surrounding whitespace on the way in ("\tTAB" is customer "TAB"); a
# leading tab in other cells is still neutralised (tests/test_io.py)
HOSTILE_IDS = [h.strip() for h in HOSTILE]


@pytest.fixture
def runner():
    return CliRunner()


@pytest.mark.parametrize("rules, needle", [
    ([{"name": "vip", "when": "events_sent ~ 5"}], "unexpected character '~'"),
    ([{"name": "vip", "when": "events_sent like 5"}], "unknown operator 'like'"),
    ([{"name": "vip", "when": 'influence_tier == "hihg"'}], "values are ['high', 'mid'"),
    ([{"name": "vip", "when": "influence_tier == 3"}], "holds text"),
    ([{"name": "vip", "when": 'events_sent > "3"'}], "holds a number"),
    ([{"name": "vip", "when": "first_active > 3"}], "is a date"),
    ([{"name": "vip", "when": "eval('1') > 0"}], "segment rule 'vip'"),
    ([{"name": "Bad Name", "when": "events_sent > 1"}], "segments.rules.name"),
    ([{"name": "vip"}], "segments.rules[0].when"),
    ([{"name": "vip", "when": "events_sent > 1", "colour": "red"}], "segments.rules[0].colour"),
])
def test_bad_rules_are_config_errors(rules, needle):
    with pytest.raises(ConfigError) as info:
        config_from_dict({"segments": {"rules": rules}})
    assert needle in str(info.value)


def test_rules_read_every_customer_column_and_attributes(small_events, tmp_path):
    """Issue 16: rules may read rfm_code, frequency, sent_<type>, referral_value,
    downstream_value and the customers table's attributes; before, config loading
    refused every one of them (exit 4)."""
    customers = pd.DataFrame({"customer_id": sorted(set(small_events["source"])
                                                    | set(small_events["target"].dropna())),
                              })
    customers["plan"] = ["pro" if i % 2 == 0 else "free" for i in range(len(customers))]
    customers["lifetime_value"] = range(len(customers))
    when = ("plan == 'pro' and lifetime_value >= 0 and sent_share >= 0 and frequency >= 0 "
            "and rfm_code != 'zzz' and not (referral_value < 0) and not (downstream_value < 0)")
    config = config_from_dict({"segments": {"rules": [{"name": "pro_word", "when": when}]}})
    result = analyze(small_events, customers=customers, config=config)
    members = result.customers[result.customers["segment"] == "pro_word"]
    assert len(members) > 0 and (members["plan"] == "pro").all()
    assert result.manifest["segments"]["rules"][0]["status"] == "applied"
    # an attribute the customers table does not have: exit 4 naming it, before analysing
    with pytest.raises(ConfigError, match="unknown column 'plan'"):
        analyze(small_events, config=config)
    bad = config_from_dict({"segments": {"rules": [{"name": "vip", "when": "referalls >= 5"}]}})
    with pytest.raises(ConfigError, match="segment rule 'vip'.*unknown column 'referalls'"):
        analyze(small_events, customers=customers, config=bad)
    typo = config_from_dict({"segments": {"rules": [{"name": "vip", "when": "sent_shares > 1"}]}})
    with pytest.raises(ConfigError, match="unknown column 'sent_shares'.*declared event types"):
        analyze(small_events, config=typo)


def test_order_and_disable_must_name_rules():
    with pytest.raises(ConfigError, match="names no rule 'champs'"):
        config_from_dict({"segments": {"order": ["champs"]}})
    with pytest.raises(ConfigError, match="privacy.min_segment_size"):
        config_from_dict({"privacy": {"min_segment_size": 0}})
    cfg = config_from_dict({"segments": {"rules": [{"name": "vip", "when": "events_sent > 1"}],
                                         "order": ["vip"]}, "privacy": {"min_segment_size": 3}})
    assert cfg.to_dict()["segments"]["rules"] == [{"name": "vip", "when": "events_sent > 1",
                                                    "segment": "vip"}]


def test_bad_rule_in_toml_exits_4_naming_rule_and_column(runner, tmp_path, small_events):
    events = tmp_path / "events.csv"
    small_events.to_csv(events, index=False)
    config = tmp_path / "c.toml"
    config.write_text('[[segments.rules]]\nname = "vip_referrers"\n'
                      'when = "referrals_converted >= 5 and recnecy_days <= 30"\n')
    result = runner.invoke(cli, ["analyze", str(events), "--config", str(config),
                                 "--out", str(tmp_path / "o")])
    assert result.exit_code == 4
    assert "vip_referrers" in result.stderr and "'recnecy_days'" in result.stderr
    assert result.stderr.count("\n") == 1


def test_custom_rule_runs_and_manifest_records_skips(runner, tmp_path, small_events):
    events = tmp_path / "events.csv"
    # without timestamps there is no recency_days: the rule that reads it is skipped
    small_events.drop(columns="timestamp").to_csv(events, index=False)
    config = tmp_path / "c.toml"
    config.write_text('[[segments.rules]]\nname = "vip_referrers"\n'
                      'when = "referrals_converted >= 1 and recency_days <= 30"\n'
                      '[[segments.rules]]\nname = "busy"\nwhen = "events_sent >= 2"\n'
                      "[privacy]\nmin_segment_size = 2\n")
    out = tmp_path / "o"
    result = runner.invoke(cli, ["analyze", str(events), "--config", str(config),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    rules = {r["name"]: r for r in manifest["segments"]["rules"]}
    assert rules["vip_referrers"]["status"] == "skipped"
    assert rules["vip_referrers"]["missing"] == ["recency_days"]
    assert rules["connectors"]["status"] == "applied"  # community_role exists
    assert rules["busy"]["status"] == "applied"
    assert "'vip_referrers' skipped" in result.stderr
    customers = pd.read_csv(out / "customers.csv", dtype=str)
    assert (customers["segment"] == "busy").sum() == 2  # a (3 sent) and c (2 sent)
    segments = pd.read_csv(out / "segments.csv")
    assert segments["size"].sum() == len(customers)
    assert segments.set_index("segment").loc["busy", "suppressed"] == False  # noqa: E712
    assert (segments["suppressed"] == (segments["size"] < 2)).all()


@pytest.fixture
def hostile(tmp_path):
    rows = [(HOSTILE[0], HOSTILE[1], "share"), (HOSTILE[3], HOSTILE[2], "referral"),
            (HOSTILE[0], HOSTILE[3], "share"), (HOSTILE[1], HOSTILE[4], "comment"),
            (HOSTILE[5], HOSTILE[0], "share"), (HOSTILE[2], HOSTILE[5], "share")]
    events = tmp_path / "hostile.csv"
    pd.DataFrame(rows, columns=["source", "target", "type"]).to_csv(events, index=False)
    customers = tmp_path / "customers.csv"
    pd.DataFrame({"customer_id": [HOSTILE[5], HOSTILE[0]],
                  "note": ["ok", '=HYPERLINK("http://x")']}).to_csv(customers, index=False)
    return events, customers


def _cells(text):
    import csv
    import io

    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_hostile_ids_round_trip_analyze_then_top(runner, tmp_path, hostile):
    events, customers = hostile
    out = tmp_path / "res"
    assert runner.invoke(cli, ["analyze", str(events), "--customers", str(customers),
                               "--out", str(out), "-q"]).exit_code == 0
    for path in out.glob("*.csv"):
        for cell in _cells(path.read_text()):
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (path.name, cell)
    result = runner.invoke(cli, ["top", str(out), "--format", "csv", "--with-attributes"])
    assert result.exit_code == 0, result.output
    cells = _cells(result.stdout)
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t"))]
    assert "'=cmd|' /C calc'!A0" in cells and "0042" in cells
    assert "'=HYPERLINK(\"http://x\")" in cells
    # written to a file: the same protection; json keeps the ids as they are
    file_out = tmp_path / "list.csv"
    assert runner.invoke(cli, ["top", str(out), "--format", "csv", "--out",
                               str(file_out)]).exit_code == 0
    assert "'@SUM(A1)" in _cells(file_out.read_text())
    records = json.loads(runner.invoke(cli, ["top", str(out), "--format", "json"]).stdout)
    assert {r["customer_id"] for r in records} == set(HOSTILE_IDS)


def test_top_parquet_attributes_and_crm_tag(runner, tmp_path, hostile):
    events, customers = hostile
    out = tmp_path / "res"
    runner.invoke(cli, ["analyze", str(events), "--customers", str(customers), "--out",
                        str(out), "-q"])
    result = runner.invoke(cli, ["top", str(out), "--format", "parquet"])
    assert result.exit_code == 2 and "--out" in result.stderr
    target = tmp_path / "top.parquet"
    result = runner.invoke(cli, ["top", str(out), "--format", "parquet", "--out", str(target),
                                 "--with-attributes", "-n", "3"])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(target)
    assert list(table.columns)[-2:] == ["crm_tag", "note"]
    assert (table["crm_tag"] == "influence:" + table["segment"]).all()
    assert table["influence_rank"].tolist() == [1, 2, 3]
    plain = runner.invoke(cli, ["top", str(out), "--format", "csv"]).stdout
    assert "note" not in plain.splitlines()[0]


def test_pseudonymize_consistent_across_files_and_key_never_written(runner, tmp_path,
                                                                     hostile):
    events, customers = hostile
    key_file = tmp_path / "influence.key"
    key_file.write_text("s3cret-key-for-tests\n")
    out = tmp_path / "pseudo"
    result = runner.invoke(cli, ["analyze", str(events), "--customers", str(customers),
                                 "--out", str(out), "--pseudonymize", "--key-file",
                                 str(key_file), "--graph-format", "gexf", "-q"])
    assert result.exit_code == 0, result.output
    expected = pseudonymize_ids(pd.Series(HOSTILE_IDS), b"s3cret-key-for-tests")
    table = pd.read_csv(out / "customers.csv", dtype=str)
    assert sorted(table["customer_id"]) == sorted(expected)
    assert "note" not in table.columns  # attributes may identify people
    communities = pd.read_csv(out / "communities.csv", dtype=str)
    members = {m for cell in communities["top_members"] for m in cell.split(";")}
    assert set(communities["leader"]) <= set(expected) and members <= set(expected)
    # every file of the run, the edges, report and graph file included
    assert {"edges.csv", "report.html", "graph.gexf"} <= {p.name for p in out.iterdir()}
    # report.html inlines constant third-party code (any word may be in it: CSS "calc(");
    # tests/test_report.py checks that its code scripts are exactly those, so leave them out
    everything = "".join(re.sub(r"<script>.*?</script>|<style>.*?</style>", "", p.read_text(),
                                flags=re.S) for p in out.iterdir())
    for raw in ("s3cret-key-for-tests", "calc", "SUM(A1)"):
        assert raw not in everything
    # "0042" as a token, not as digits of a timing or a plot coordinate (1.0042, 10042)
    assert re.search(r"(?<![\d.])0042(?!\d)", everything) is None
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["privacy"]["pseudonymized"] is True
    assert manifest["privacy"]["attributes_dropped"] == ["note"]
    # same key through the environment from an events file: same pseudonyms
    env = {"INFLUENCE_PSEUDONYM_KEY": "s3cret-key-for-tests"}
    config = tmp_path / "c.toml"
    config.write_text("[privacy]\nmin_segment_size = 1\n")
    listed = runner.invoke(cli, ["top", str(events), "--pseudonymize", "--format", "json",
                                 "--config", str(config)], env=env)
    assert listed.exit_code == 0, listed.output
    assert {r["customer_id"] for r in json.loads(listed.stdout)} == set(expected)


def test_pseudonymized_top_drops_small_segments(runner, tmp_path, hostile):
    events, _ = hostile
    out = tmp_path / "res"
    runner.invoke(cli, ["analyze", str(events), "--out", str(out), "-q"])
    env = {"INFLUENCE_PSEUDONYM_KEY": "k" * 16}
    result = runner.invoke(cli, ["top", str(out), "--pseudonymize", "--format", "csv"],
                           env=env)
    assert result.exit_code == 0
    assert result.stdout.strip().count("\n") == 0  # header only: every segment < 10
    assert "fewer than 10 customers" in result.stderr
    assert runner.invoke(cli, ["top", str(out), "--pseudonymize", "--with-attributes"],
                         env=env).exit_code == 2


def test_missing_key_is_config_error_naming_where_it_looked(runner, tmp_path, hostile,
                                                            monkeypatch):
    events, _ = hostile
    monkeypatch.delenv("INFLUENCE_PSEUDONYM_KEY", raising=False)
    result = runner.invoke(cli, ["analyze", str(events), "--pseudonymize", "--out",
                                 str(tmp_path / "x")])
    assert result.exit_code == 4
    assert "--key-file" in result.stderr and "INFLUENCE_PSEUDONYM_KEY" in result.stderr
    assert not (tmp_path / "x").exists()
    result = runner.invoke(cli, ["top", str(events), "--pseudonymize", "--key-file",
                                 str(tmp_path / "nope.key")])
    assert result.exit_code == 4 and "nope.key" in result.stderr


@pytest.mark.parametrize("command", ["analyze", "top"])
def test_key_file_without_pseudonymize_is_a_usage_error(runner, tmp_path, hostile, command):
    """--key-file alone used to write raw ids silently: now exit 2, nothing written."""
    events, _ = hostile
    key_file = tmp_path / "influence.key"
    key_file.write_text("0123456789abcdef0123\n")
    out = tmp_path / "res"
    args = [command, str(events), "--key-file", str(key_file)]
    if command == "analyze":
        args += ["--out", str(out)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "--key-file needs --pseudonymize" in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert not out.exists()


@pytest.mark.parametrize("key, ok", [(b"k" * 15, False), (b"0123456789abcdef", True),
                                     (b"k" * 15 + b"\n", False), ("é" * 8, True)])
def test_key_needs_16_bytes_from_file_or_environment(runner, tmp_path, hostile, monkeypatch,
                                                      key, ok):
    events, _ = hostile
    monkeypatch.delenv("INFLUENCE_PSEUDONYM_KEY", raising=False)
    raw = key if isinstance(key, bytes) else key.encode("utf-8")
    key_file = tmp_path / "influence.key"
    key_file.write_bytes(raw)
    from_file = runner.invoke(cli, ["top", str(events), "--pseudonymize", "--key-file",
                                    str(key_file), "--format", "json"])
    monkeypatch.setenv("INFLUENCE_PSEUDONYM_KEY", raw.decode("utf-8").rstrip("\n"))
    from_env = runner.invoke(cli, ["analyze", str(events), "--pseudonymize", "--out",
                                   str(tmp_path / "o"), "-q"])
    for result, where in ((from_file, "influence.key"), (from_env, "$INFLUENCE_PSEUDONYM_KEY")):
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code == 4, result.output
            assert "at least 16" in result.stderr and where in result.stderr
            assert "15 bytes" in result.stderr
            assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert (tmp_path / "o").exists() == ok


def test_planted_propagators_and_dormant_customers_are_found():
    from influence.synth import generate_events

    events, truth = generate_events(3000, seed=3)
    result = analyze(events, seed=0)
    merged = result.customers.merge(truth[["customer_id", "role"]], on="customer_id")
    propagators = merged[merged["role"] == "propagator"]
    dormant = merged[merged["role"] == "dormant"]
    assert (propagators["segment"] == "champions").mean() >= 0.9
    assert (dormant["segment"] == "dormant_advocates").mean() >= 0.9


def test_small_segment_suppressed_everywhere(runner, tmp_path):
    """A segment below min_segment_size shows its size and nothing computed from its
    members: no medians (segments.csv), no K-factor row (kfactor.csv), no share column
    values (communities.csv), no figures, example reason or scatter points (report.html)."""
    from influence.synth import generate_events

    events = tmp_path / "events.csv"
    generate_events(300, seed=1)[0].to_csv(events, index=False)
    config = tmp_path / "c.toml"
    config.write_text('[[segments.rules]]\nname = "vip"\nwhen = "influence_rank <= 2"\n'
                      "[privacy]\nmin_segment_size = 3\n")
    out = tmp_path / "o"
    result = runner.invoke(cli, ["analyze", str(events), "--config", str(config), "--out",
                                 str(out), "-q"])
    assert result.exit_code == 0, result.output
    customers = pd.read_csv(out / "customers.csv", dtype=str, keep_default_na=False)
    vip = customers[customers["segment"] == "vip"]
    assert len(vip) == 2 and (vip["referrals_sent"].astype(int) > 0).all()
    segments = pd.read_csv(out / "segments.csv").set_index("segment")
    assert segments.loc["vip", "suppressed"] and segments.loc["vip", "size"] == 2
    assert segments.loc["vip"].drop(["size", "share", "suppressed"]).isna().all()
    hidden = segments.index[segments["suppressed"]].tolist()
    assert (segments.loc[hidden, "size"] < 3).all() and (segments["size"] >= 3).sum() >= 3
    kfactor = pd.read_csv(out / "kfactor.csv", dtype={"key": str})
    by_segment = kfactor[kfactor["group"] == "segment"]
    assert "vip" not in set(by_segment["key"]) and len(by_segment) >= 3
    communities = pd.read_csv(out / "communities.csv")
    assert communities["share_vip"].isna().all()
    assert communities["share_champions"].notna().all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["segments"]["suppressed"] == hidden
    html = (out / "report.html").read_text()
    section = html[html.index('<section id="segments">'):]
    section = section[:section.index("</section>")]
    row = re.search(r"<tr><td>(?:<span[^>]*></span>)?vip</td>(.*?)</tr>", section).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells[0] == "2" and cells[2:6] == ["", "", "", ""]
    assert "suppressed: fewer than 3 customers" in row
    from markupsafe import escape

    top = customers.loc[customers["segment"] == "vip", "segment_reason"].iloc[0]
    assert str(escape(top)) in html   # in the top propagators: a row of one customer
    for reason in customers.loc[customers["segment"].isin(hidden), "segment_reason"]:
        assert str(escape(reason)) not in section
    assert "fewer than 3 customers" in section
    left_out = int(segments.loc[hidden, "size"].sum())
    assert f"The {left_out} customers of segments suppressed for their size are not drawn." \
        in html
    # a smaller threshold suppresses nothing: the rows come back
    config.write_text('[[segments.rules]]\nname = "vip"\nwhen = "influence_rank <= 2"\n'
                      "[privacy]\nmin_segment_size = 1\n")
    assert runner.invoke(cli, ["analyze", str(events), "--config", str(config), "--out",
                               str(tmp_path / "all"), "-q"]).exit_code == 0
    kfactor = pd.read_csv(tmp_path / "all" / "kfactor.csv", dtype={"key": str})
    assert "vip" in set(kfactor.loc[kfactor["group"] == "segment", "key"])
    html = (tmp_path / "all" / "report.html").read_text()
    assert "not drawn" not in html and "suppressed: fewer" not in html
