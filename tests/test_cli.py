"""The command line, run in-process: exit codes, stdout vs stderr, files."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from influence import __version__
from influence.cli import cli


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def events_csv(tmp_path, small_events):
    path = tmp_path / "events.csv"
    small_events.to_csv(path, index=False)
    return path


def test_version_and_help(runner):
    assert runner.invoke(cli, ["--version"]).output.strip() == f"influence {__version__}"
    for command in ("analyze", "generate", "validate", "top", "report", "export",
                    "propagators"):
        result = runner.invoke(cli, [command, "--help"])
        assert result.exit_code == 0 and "Examples:" in result.output


def test_analyze_writes_files_and_keeps_stdout_clean(runner, events_csv, tmp_path):
    out = tmp_path / "res"
    result = runner.invoke(cli, ["analyze", str(events_csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert "rows used" in result.stderr
    assert {p.name for p in out.iterdir()} == {"customers.csv", "communities.csv",
                                               "segments.csv", "edges.csv", "manifest.json",
                                               "report.html", "cascades.csv", "kfactor.csv"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows_read"] == manifest["rows_used"] + sum(manifest["dropped"].values())


def test_quiet_is_silent_on_stderr(runner, events_csv, tmp_path):
    result = runner.invoke(cli, ["analyze", str(events_csv), "--out", str(tmp_path / "q"),
                                 "-q"])
    assert result.exit_code == 0 and result.stderr == ""


def test_parquet_format(runner, events_csv, tmp_path):
    out = tmp_path / "pq"
    assert runner.invoke(cli, ["analyze", str(events_csv), "--out", str(out), "--format",
                               "parquet", "-q"]).exit_code == 0
    assert len(pd.read_parquet(out / "customers.parquet")) == 6


#: The bad-input corpus: (file content, extra arguments, what the one error line says).
BAD_INPUT = [
    ("", [], "empty"),
    ("user,friend,type\na,b,share\n", [], "missing column 'source'"),
    ("source,target,type,timestamp\na,b,like,2026-01-01\n", [], "undeclared type 'like'"),
    # a duplicated column header among the columns used
    ("source,target,type,source\na,b,share,c\n", [],
     "events has 2 columns named 'source' (columns 1 and 4)"),
    ("source,target, type,type \na,b,share,share\n", [], "2 columns named 'type'"),
    # a --map onto a duplicated column, and one column mapped twice
    ("user,target,type,user\na,b,share,c\n", ["--map", "source=user"],
     "2 columns named 'user' (columns 1 and 4); --map source=user cannot tell which one"),
    ("user,friend,type\na,b,share\n", ["--map", "source=user", "--map", "target=user"],
     "column 'user' is mapped to both 'source' and 'target'"),
    # timestamps outside what pandas holds, with a hint
    ("source,target,type,timestamp\na,b,share,1767225600000\n", [],
     "no usable events: all 1 rows were dropped (bad_timestamp=1); bad_timestamp: 1 look like "
     "epoch milliseconds (declare the unit with --timestamp-unit ms"),
    ("source,target,type,timestamp\na,b,share,9999-12-31\nb,c,share,1677-01-01\n"
     "c,d,share,2999-01-01\n", [], "bad_timestamp: 3 lie outside 1677-09-21 .. 2262-04-11"),
]


@pytest.mark.parametrize("content, extra, needle", BAD_INPUT)
def test_input_errors_exit_3_with_one_line(runner, tmp_path, content, extra, needle):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    for command in ("analyze", "validate"):
        args = [command, str(path), *extra] + (["--out", str(tmp_path / "o")]
                                               if command == "analyze" else [])
        result = runner.invoke(cli, args)
        assert result.exit_code == 3, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("influence: error: ")
        assert needle in lines[0] and "Traceback" not in result.output
        assert result.stdout == ""


def test_duplicated_customer_id_column_exits_3(runner, events_csv, tmp_path):
    customers = tmp_path / "c.csv"
    customers.write_text("customer_id,plan,customer_id\na,gold,b\n")
    result = runner.invoke(cli, ["analyze", str(events_csv), "--customers", str(customers),
                                 "--out", str(tmp_path / "o")])
    assert result.exit_code == 3 and result.stdout == ""
    assert result.stderr.strip() == (
        "influence: error: customers table has 2 columns named 'customer_id' (columns 1 and "
        "3); rename one of them in the file.")


@pytest.mark.parametrize("header, row, mapping, ignored", [
    # an export whose 'type' column is not the event type: the mapped column wins
    ("source,target,type,event", "a,b,click,share", ["--map", "type=event"], "type"),
    ("type,source,target,event", "click,a,b,share", ["--map", "type=event"], "type"),
    ("user,target,type,source", "a,b,share,web", ["--map", "source=user"], "source"),
    # swapped on purpose: nothing ignored
    ("target,source,type", "a,b,share", ["--map", "source=target", "--map", "target=source"],
     None),
])
def test_a_mapped_column_wins_over_a_column_of_that_name(runner, tmp_path, header, row,
                                                         mapping, ignored):
    path = tmp_path / "m.csv"
    path.write_text(f"{header}\n{row}\n")
    out = tmp_path / "o"
    result = runner.invoke(cli, ["analyze", str(path), *mapping, "--out", str(out)])
    assert result.exit_code == 0, result.output
    edges = pd.read_csv(out / "edges.csv", dtype=str)
    assert edges[["source", "target"]].values.tolist() == [["a", "b"]]
    if ignored is not None:
        assert f"events column '{ignored}' is ignored: the mapping" in result.stderr
    else:
        assert "ignored" not in result.stderr


def test_unused_columns_may_repeat(runner, tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("source,target,type,notes,notes\na,b,share,x,y\n")
    assert runner.invoke(cli, ["validate", str(path)]).exit_code == 0


def test_garbage_timestamps_are_repaired_not_fatal(runner, tmp_path):
    path = tmp_path / "ts.csv"
    path.write_text("source,target,type,timestamp\na,b,share,2026-01-01\n"
                    "a,c,share,not-a-time\nb,c,share,31/02/2026\n")
    result = runner.invoke(cli, ["validate", str(path), "--json"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["dropped"]["bad_timestamp"] == 2 and report["rows_used"] == 1
    result = runner.invoke(cli, ["analyze", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0
    assert "influence: warning: dropped 2 of 3 rows: bad_timestamp=2" in result.stderr


def test_timestamps_out_of_range_are_counted_with_a_hint(runner, tmp_path):
    path = tmp_path / "ts.csv"
    path.write_text("source,target,type,timestamp\na,b,share,1767225600000\n"
                    "b,c,share,9999-12-31\nc,d,share,1677-01-01\nd,e,share,2999-01-01\n"
                    "e,f,share,2026-01-01\n")
    out = tmp_path / "o"
    result = runner.invoke(cli, ["analyze", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "influence: warning: dropped 4 of 5 rows: bad_timestamp=4" in result.stderr
    assert ("influence: warning: bad_timestamp: 1 look like epoch milliseconds (declare the "
            "unit with --timestamp-unit ms or [input] timestamp_unit); 3 lie outside "
            "1677-09-21 .. 2262-04-11, the range timestamps can hold") in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dropped"]["bad_timestamp"] == 4
    assert manifest["rows_read"] == manifest["rows_used"] + sum(manifest["dropped"].values())
    assert any("epoch milliseconds" in w for w in manifest["warnings"])


def test_timestamp_unit_option_and_config_key(runner, tmp_path):
    path = tmp_path / "ms.csv"
    path.write_text("source,target,type,timestamp\na,b,share,1767225600000\n"
                    "b,c,share,1767312000000\n")
    config = tmp_path / "c.toml"
    config.write_text('[input]\ntimestamp_unit = "ms"\n')
    for args in (["--timestamp-unit", "ms"], ["--config", str(config)]):
        result = runner.invoke(cli, ["validate", str(path), "--json", *args])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["rows_used"] == 2
        assert report["first_event"] == "2026-01-01T00:00:00+00:00"
    out = tmp_path / "o"
    result = runner.invoke(cli, ["analyze", str(path), "--out", str(out), "-q",
                                 "--timestamp-unit", "ms"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["input"] == {"timestamp_unit": "ms"}
    assert runner.invoke(cli, ["validate", str(path), "--timestamp-unit", "h"]).exit_code == 2
    config.write_text('[input]\ntimestamp_unit = "hours"\n')
    bad = runner.invoke(cli, ["validate", str(path), "--config", str(config)])
    assert bad.exit_code == 4 and "input.timestamp_unit" in bad.stderr


def test_config_that_is_not_utf8_exits_4(runner, events_csv, tmp_path):
    config = tmp_path / "latin1.toml"
    config.write_bytes("# réglages\n[communities]\nresolution = 1.0\n".encode("latin-1"))
    result = runner.invoke(cli, ["analyze", str(events_csv), "--config", str(config),
                                 "--out", str(tmp_path / "o")])
    assert result.exit_code == 4, result.output
    assert result.stderr.strip() == (
        f"influence: error: config file {str(config)!r} is not UTF-8 text: byte 0xe9 at "
        "line 1; TOML files are UTF-8 (save it as UTF-8)")


def test_huge_weights_are_dropped_with_a_hint_not_nan_scores(runner, tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("source,target,type,weight\na,b,share,1e308\nb,c,share,1e308\n"
                    "c,a,share,1\n")
    out = tmp_path / "o"
    result = runner.invoke(cli, ["analyze", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "influence: warning: dropped 2 of 3 rows: bad_weight=2" in result.stderr
    assert "bad_weight: 2 above 1e+15, the largest row weight accepted" in result.stderr
    customers = pd.read_csv(out / "customers.csv")
    assert customers["influence_score"].notna().all()
    assert not customers["segment_reason"].str.contains("nan|-922337", regex=True).any()
    assert customers["segment"].tolist() != ["champions"] * 3


def _write_rows(path, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        pq.write_table(pa.table(rows), path)
    else:
        keys = list(rows)
        path.write_text("".join(json.dumps(dict(zip(keys, values))) + "\n"
                                for values in zip(*rows.values())))


#: Ids that are no ids: every row dropped, said in one line (exit 3).
NON_SCALAR_IDS = [
    ("ids.parquet", {"source": [["a"], ["b"]], "target": ["b", "c"], "type": ["share"] * 2}),
    ("ids.parquet", {"source": [True, False], "target": ["b", "c"], "type": ["share"] * 2}),
    ("ids.parquet", {"source": ["a", "b"], "target": [{"k": "b"}, {"k": "c"}],
                     "type": ["share"] * 2}),
    ("ids.jsonl", {"source": [["a"], True], "target": ["b", {"id": "c"}],
                   "type": ["share"] * 2}),
]


@pytest.mark.parametrize("name, rows", NON_SCALAR_IDS)
def test_non_scalar_ids_are_counted_not_turned_into_text(runner, tmp_path, name, rows):
    path = tmp_path / name
    _write_rows(path, rows)
    for command in ("analyze", "validate"):
        args = [command, str(path)] + (["--out", str(tmp_path / "o")]
                                       if command == "analyze" else [])
        result = runner.invoke(cli, args)
        assert result.exit_code == 3, result.output
        assert result.stderr.strip() == (
            "influence: error: no usable events: all 2 rows were dropped (bad_id=2); bad_id: 2 "
            "rows have a source or target that is a list, an object, true/false or infinite "
            "(ids are text or numbers)")


def test_some_non_scalar_ids_are_repaired_and_numbers_are_one_customer(runner, tmp_path):
    path = tmp_path / "mixed.jsonl"
    _write_rows(path, {"source": ["a", ["a"], 1, 2.0, "b"],
                       "target": ["b", "b", 2, 1, 1.0], "type": ["share"] * 5})
    out = tmp_path / "o"
    result = runner.invoke(cli, ["analyze", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "dropped 1 of 5 rows: bad_id=1" in result.stderr
    ids = pd.read_csv(out / "customers.csv", dtype=str)["customer_id"]
    assert sorted(ids) == ["1", "2", "a", "b"]  # not "['a']", not "1.0"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dropped"]["bad_id"] == 1
    assert manifest["rows_read"] == manifest["rows_used"] + sum(manifest["dropped"].values())


def test_all_garbage_timestamps_is_an_input_error(runner, tmp_path):
    path = tmp_path / "ts.csv"
    path.write_text("source,target,type,timestamp\na,b,share,x\nb,c,share,y\n")
    result = runner.invoke(cli, ["analyze", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 3 and "no usable events" in result.stderr


def test_config_errors_exit_4(runner, events_csv, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[communities]\nresolutoin = 2\n")
    result = runner.invoke(cli, ["analyze", str(events_csv), "--config", str(config)])
    assert result.exit_code == 4
    assert "communities.resolutoin" in result.stderr
    result = runner.invoke(cli, ["analyze", str(events_csv), "--since", "someday"])
    assert result.exit_code == 4 and "--since" in result.stderr


def test_usage_errors_exit_2(runner, events_csv):
    result = runner.invoke(cli, ["analyze", str(events_csv), "--bogus"])
    assert result.exit_code == 2 and result.stderr.startswith("influence: error: No such option")
    assert runner.invoke(cli, ["analyze"]).exit_code == 2
    assert runner.invoke(cli, ["analyze", str(events_csv), "--map", "nonsense"]).exit_code == 2


def test_mapping_flag(runner, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("user_id,friend_id,kind\n01,02,share\n")
    result = runner.invoke(cli, ["analyze", str(path), "--map", "source=user_id", "--map",
                                 "target=friend_id", "--map", "type=kind", "--out",
                                 str(tmp_path / "o"), "-q"])
    assert result.exit_code == 0, result.output
    ids = pd.read_csv(tmp_path / "o" / "customers.csv", dtype=str)["customer_id"]
    assert sorted(ids) == ["01", "02"]


def test_internal_errors_exit_1_and_traceback_flag(runner, events_csv, monkeypatch):
    import influence.analysis

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(influence.analysis, "analyze", boom)
    result = runner.invoke(cli, ["analyze", str(events_csv)])
    assert result.exit_code == 1 and "internal error" in result.stderr
    assert "please report" in result.stderr
    result = runner.invoke(cli, ["analyze", str(events_csv), "--traceback"])
    assert isinstance(result.exception, RuntimeError)


def test_generate_then_analyze_then_top(runner, tmp_path):
    events = tmp_path / "data" / "gen.parquet"  # the folder is created
    result = runner.invoke(cli, ["generate", "--customers", "300", "--seed", "2", "--out",
                                 str(events)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "gen.truth.parquet").is_file()
    out = tmp_path / "res"
    assert runner.invoke(cli, ["analyze", str(events), "--out", str(out), "-q"]).exit_code == 0
    listing = runner.invoke(cli, ["top", str(out), "-n", "5", "--format", "csv"])
    assert listing.exit_code == 0
    table = pd.read_csv(pd.io.common.StringIO(listing.stdout), dtype={"customer_id": str})
    assert table["influence_rank"].tolist() == [1, 2, 3, 4, 5]
    as_json = runner.invoke(cli, ["top", str(events), "-n", "3", "--by", "out_strength",
                                  "--format", "json"])
    assert as_json.exit_code == 0 and len(json.loads(as_json.stdout)) == 3
    bad = runner.invoke(cli, ["top", str(out), "--by", "nonsense"])
    assert bad.exit_code == 3 and "cannot rank by" in bad.stderr


def test_hostile_ids_are_neutralised_in_csv(runner, tmp_path):
    path = tmp_path / "h.csv"
    pd.DataFrame({"source": ["=HYPERLINK(\"x\")", "@bad"], "target": ["+evil", "-1"],
                  "type": ["share", "share"]}).to_csv(path, index=False)
    out = tmp_path / "o"
    assert runner.invoke(cli, ["analyze", str(path), "--out", str(out), "-q"]).exit_code == 0
    text = (out / "customers.csv").read_text()
    for line in text.splitlines()[1:]:
        assert not line.startswith(("=", "+", "-", "@"))
    listing = runner.invoke(cli, ["top", str(out), "--format", "json"])
    ids = {row["customer_id"] for row in json.loads(listing.stdout)}
    assert ids == {"=HYPERLINK(\"x\")", "@bad", "+evil", "-1"}


def test_an_id_and_its_escaped_look_alike_are_two_customers(runner, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("source,target,type\n=x,a,share\n'=x,b,share\n-5,a,share\n'-5,c,share\n")
    out = tmp_path / "o"
    result = runner.invoke(cli, ["analyze", str(path), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output  # the report stage read the ids back
    assert (out / "report.html").is_file()
    listing = runner.invoke(cli, ["top", str(out), "--format", "json"])
    ids = [row["customer_id"] for row in json.loads(listing.stdout)]
    assert sorted(ids) == sorted(["=x", "'=x", "-5", "'-5", "a", "b", "c"])
    for line in (out / "customers.csv").read_text().splitlines()[1:]:
        assert not line.lstrip('"').startswith(("=", "+", "-", "@"))


def test_no_report_and_report_command(runner, events_csv, tmp_path):
    out = tmp_path / "nr"
    result = runner.invoke(cli, ["analyze", str(events_csv), "--out", str(out), "-q",
                                 "--no-report"])
    assert result.exit_code == 0 and not (out / "report.html").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert "report.html" not in manifest["outputs"]["files"]
    result = runner.invoke(cli, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out / "report.html")
    assert "<!DOCTYPE html>" in (out / "report.html").read_text()
    elsewhere = tmp_path / "r.html"
    assert runner.invoke(cli, ["report", str(out), "--out", str(elsewhere)]).exit_code == 0
    assert elsewhere.read_bytes() == (out / "report.html").read_bytes()
    missing = runner.invoke(cli, ["report", str(tmp_path / "nothing")])
    assert missing.exit_code == 3 and "not a results folder" in missing.stderr


def test_progress_shows_stage_names_on_a_terminal():
    import io

    from rich.console import Console

    from influence.cli.output import RichReporter
    from influence.progress import StageClock

    buffer = io.StringIO()
    reporter = RichReporter(Console(file=buffer, force_terminal=True, width=80))
    clock = StageClock(reporter)
    for stage in ("read", "graph"):
        with clock.stage(stage):
            pass
    reporter.close()
    text = buffer.getvalue()
    assert "read" in text and "graph" in text and " s" in text


def test_no_progress_when_not_a_terminal(runner, events_csv, tmp_path):
    result = runner.invoke(cli, ["analyze", str(events_csv), "--out", str(tmp_path / "p")])
    assert result.exit_code == 0
    assert result.stderr.count("\n") == 1 and "rows used" in result.stderr


#: Odd but valid inputs: each must run with nothing but "influence: ..." lines on stderr,
#: and nothing at all with -q (real processes: pytest would swallow Python warnings).
ODD_INPUTS = {
    "one_customer.csv": "source,target,type\na,,share\n",
    "one_edge.csv": "source,target,type\na,b,share\n",
    "no_edges.csv": "source,target,type,timestamp\na,,share,2026-01-01\nb,,comment,2026-01-02\n",
    "empty_columns.csv": "source,target,type,timestamp,value,converted,weight\n"
                         "a,b,referral,,,,\nb,c,share,,,,\nc,a,comment,2026-01-01,,,\n",
    "non_latin.csv": "source,target,type,timestamp\n李,王,share,2026-01-01\n"
                     "王,張,share,2026-01-02\n張,李,comment,2026-01-03\n"
                     "محمد,😀,referral,2026-01-04\n😀,हिन्दी,share,2026-01-05\n",
    "decayed.csv": "source,target,type,timestamp,weight\na,b,share,2026-01-01,1e-300\n"
                   "b,c,share,2026-01-02,1e-300\nc,a,share,2026-01-03,5e-324\n",
}


@pytest.mark.parametrize("name", list(ODD_INPUTS))
def test_odd_inputs_run_without_python_warnings(runner, tmp_path, name, recwarn):
    path = tmp_path / name
    path.write_text(ODD_INPUTS[name], encoding="utf-8")
    result = runner.invoke(cli, ["analyze", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    # no RuntimeWarning, no matplotlib glyph or legend warning: only our own lines
    assert [str(w.message) for w in recwarn] == []
    assert all(line.startswith("influence: ") for line in result.stderr.splitlines())
    if name == "non_latin.csv":
        assert "draw 6 characters of customer ids as empty boxes" in result.stderr
    quiet = runner.invoke(cli, ["analyze", str(path), "--out", str(tmp_path / "q"), "-q"])
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_quiet_means_quiet_in_a_real_process(tmp_path):
    """pytest catches Python warnings in-process; a real run shows what a user sees."""
    import os
    import subprocess
    import sys

    path = tmp_path / "non_latin.csv"
    path.write_text(ODD_INPUTS["non_latin.csv"], encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "influence", "analyze", str(path), "--out",
                          str(tmp_path / "o"), "-q"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONWARNINGS": "default"}, timeout=300)
    assert run.returncode == 0 and run.stderr == "", run.stderr
