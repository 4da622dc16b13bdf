"""The terminal (issue 19): tables fitted to the terminal width (``--wide`` for all),
plain output for scripts, ``--format json`` everywhere (``--json`` kept as an alias),
progress inside long stages, shell completion."""

from __future__ import annotations

import csv
import io
import json

import click
import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner

from influence.cli import ExitStatus, cli, main
from influence.progress import StageClock, prefixed

TERMINAL = {"TTY_COMPATIBLE": "1", "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    from influence.synth import generate_events

    path = tmp_path_factory.mktemp("terminal") / "events.csv"
    generate_events(300, days=120, seed=3)[0].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def folder(events):
    out = events.parent / "results"
    assert main(["analyze", str(events), "--out", str(out), "--no-report", "-q"]) == 0
    return out


def _terminal(argv, columns):
    """Run on a pretend terminal ``columns`` wide; the text without styles."""
    result = CliRunner().invoke(cli, [str(a) for a in argv],
                                env={**TERMINAL, "COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return click.unstyle(result.stdout)


def _run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("columns", [80, 120])
def test_top_fits_the_terminal_width(folder, columns):
    """Before: 248-character rows whatever the width."""
    text = _terminal(["top", folder, "-n", "10"], columns)
    lines = text.splitlines()
    assert max(map(len, lines)) <= columns
    assert lines[0].split()[:4] == ["influence_rank", "customer_id", "segment",
                                    "influence_score"]
    assert "segment_reason" in lines[0] and "\u2026" in text  # the reason, cut
    assert "more columns: " in text and "--wide" in text  # those left out are named


def test_top_wide_shows_every_column_and_the_whole_reason(folder, capsys):
    _, plain, _ = _run(capsys, "top", folder, "-n", "3", "--format", "csv")
    first = next(csv.DictReader(io.StringIO(plain)))
    text = _terminal(["top", folder, "-n", "3", "--wide"], 80)
    assert first["segment_reason"] in text and first["crm_tag"] in text
    assert "--wide shows all" not in text


def test_top_off_a_terminal_prints_what_it_printed_before(folder, capsys):
    """Scripts parse this: the plain aligned text of pandas, byte for byte."""
    from influence.analysis import Analysis
    from influence.export import top_customers

    _, out, _ = _run(capsys, "top", folder, "-n", "5")
    expected = top_customers(Analysis.load(folder).customers, n=5).to_string(index=False)
    assert out == expected + "\n"


def test_top_tsv_is_the_csv_with_tabs(folder, capsys):
    _, as_csv, _ = _run(capsys, "top", folder, "-n", "5", "--format", "csv")
    status, as_tsv, _ = _run(capsys, "top", folder, "-n", "5", "--format", "tsv")
    assert status == ExitStatus.OK
    assert list(csv.reader(io.StringIO(as_tsv), delimiter="\t")) == \
        list(csv.reader(io.StringIO(as_csv)))


def test_compare_fits_the_terminal_and_prints_plain_lists_when_asked(events, capsys):
    argv = ["compare", events, "--split", "2026-03-01", "-n", "3"]
    text = _terminal(argv, 80)
    assert max(map(len, text.splitlines())) <= 80
    assert "new segments: 1 " in text  # the matrix's columns numbered to fit
    assert "old score" in text  # the lists' headers shortened
    status, out, _ = _run(capsys, *argv, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == ExitStatus.OK and rows and set(rows[0]) >= {"list", "customer_id"}
    assert {row["list"] for row in rows} <= {"rising_star", "dormant_advocate",
                                             "new_propagator", "lost_champion"}


def test_analyze_format_json_is_a_summary_of_the_run(events, tmp_path, capsys):
    """Before: analyze had no JSON output (--format took csv|parquet only)."""
    out = tmp_path / "r"
    status, text, err = _run(capsys, "analyze", events, "--out", out, "--no-report",
                             "--format", "json", "--format", "parquet", "-q")
    assert status == ExitStatus.OK and err == ""
    summary = json.loads(text)
    assert summary["folder"] == str(out) and "customers.parquet" in summary["files"]
    assert sum(summary["segments"].values()) == summary["customers"] == 300
    assert summary["rows_read"] == summary["rows_used"] + sum(summary["dropped"].values())
    assert {"graph", "communities", "save"} <= set(summary["timings"])
    status, _, err = _run(capsys, "analyze", events, "--out", tmp_path / "s",
                          "--format", "csv", "--format", "parquet")
    assert status == ExitStatus.USAGE and "one table format" in err


@pytest.mark.parametrize("argv", [["validate", "EVENTS"],
                                  ["backtest", "EVENTS", "--split", "2026-03-01", "-k", "5"]])
def test_json_flag_is_an_alias_of_format_json(events, capsys, argv):
    argv = [events if a == "EVENTS" else a for a in argv]
    status, new, _ = _run(capsys, *argv, "--format", "json")
    assert status == ExitStatus.OK
    status, old, _ = _run(capsys, *argv, "--json")
    assert status == ExitStatus.OK and json.loads(old) == json.loads(new)
    status, _, err = _run(capsys, *argv, "--json", "--format", "json")
    assert status == ExitStatus.OK
    wrong = "text" if argv[0] == "validate" else "table"
    status, _, err = _run(capsys, *argv, "--json", "--format", wrong)
    assert status == ExitStatus.USAGE and "--json is --format json" in err
    status, help_text, _ = _run(capsys, argv[0], "--help")
    assert "--json" not in help_text  # hidden: --format json is the documented way


class Recorder:
    """A reporter that keeps what it hears."""

    def __init__(self):
        self.events = []

    def start(self, stage):
        self.events.append(("start", stage))

    def done(self, stage, seconds):
        self.events.append(("done", stage))

    def advance(self, stage, completed, total):
        assert 0 <= completed <= total
        self.events.append(("advance", stage, completed, total))

    def stages(self):
        return list(dict.fromkeys(e[1] for e in self.events if e[0] == "start"))

    def steps(self, stage):
        return [e[2:] for e in self.events if e[0] == "advance" and e[1] == stage]


def test_propagators_report_progress_inside_the_stage(events):
    """Before: find_propagators took no reporter; nothing said how far IMM was."""
    from influence import find_propagators

    recorder = Recorder()
    find_propagators(events, k=5, simulations=20, reporter=recorder)
    assert recorder.stages() == ["read", "graph", "propagators"]
    steps = recorder.steps("propagators")
    assert steps and steps[-1][0] == steps[-1][1]  # the last step completes it


def test_save_reports_save_and_the_report_parts(events, tmp_path):
    from influence import analyze

    result = analyze(events)
    recorder = Recorder()
    result.save(tmp_path / "r", report=True, reporter=recorder)
    assert recorder.stages() == ["save", "report"]
    steps = recorder.steps("report")
    assert [done for done, _ in steps] == list(range(1, len(steps) + 1))
    assert steps[-1] == (6, 6)


def test_compare_and_backtest_name_their_stages_once(events):
    from influence.backtest import backtest

    recorder = Recorder()
    backtest(events, "2026-03-01", k=5, reporter=recorder)
    stages = recorder.stages()
    assert stages[0] == "read" and stages[-1] == "judge"
    assert "score graph" in stages and "score propagators" in stages
    recorder = Recorder()
    with StageClock(prefixed(recorder, "old ")).stage("graph"):
        pass
    assert recorder.events == [("start", "old graph"), ("done", "old graph")]


def test_rich_progress_has_one_line_per_stage_name():
    from rich.console import Console

    from influence.cli.output import RichReporter

    buffer = io.StringIO()
    with RichReporter(Console(file=buffer, force_terminal=True, width=80)) as progress:
        for _ in range(2):  # snapshots run the same stages again
            progress.start("graph")
            progress.advance("graph", 1, 2)
            progress.done("graph", 0.5)
    assert len(progress.progress.tasks) == 1
    assert "1.00 s" in click.unstyle(buffer.getvalue())  # the two runs' time together


def test_nothing_on_stderr_off_a_terminal_or_with_quiet(events, capsys):
    status, out, err = _run(capsys, "propagators", events, "-k", "3", "--format", "csv",
                            "--simulations", "10", "-q")
    assert status == ExitStatus.OK and err == "" and out.startswith("order,customer_id")
    status, out, err = _run(capsys, "backtest", events, "--split", "2026-03-01", "-k", "5")
    assert status == ExitStatus.OK and err == ""  # stderr is no terminal here


@pytest.mark.parametrize("shell, needle", [("bash", "_INFLUENCE_COMPLETE=bash_complete"),
                                           ("zsh", "#compdef influence"),
                                           ("fish", "_INFLUENCE_COMPLETE=fish_complete")])
def test_completion_prints_clicks_script(capsys, shell, needle):
    status, out, _ = _run(capsys, "completion", shell)
    assert status == ExitStatus.OK and needle in out


def _complete(args, incomplete):
    complete = ShellComplete(cli, {}, "influence", "_INFLUENCE_COMPLETE")
    return [item.value for item in complete.get_completions(args, incomplete)]


def test_segment_completion_uses_the_built_ins_and_the_folder(folder, tmp_path):
    from influence.schema import SEGMENTS

    assert _complete(["top", "events.csv", "--segment"], "") == list(SEGMENTS)
    assert _complete(["top", "events.csv", "--segment"], "cham") == ["champions"]
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "segments.csv").write_text("segment,size\nvip_buyers,3\nchampions,2\n")
    names = _complete(["top", str(custom), "--segment"], "")
    assert names == [*SEGMENTS, "vip_buyers"]
    assert _complete(["top", str(folder), "--segment"], "dorm") == ["dormant_advocates"]


def test_ids_cannot_send_escape_sequences_to_the_terminal(tmp_path, small_events):
    """An id holding ESC [31m would recolour (or retitle, move) the terminal; the table
    writes control characters as \\xNN."""
    from influence import analyze

    events = small_events.replace({"a": "evil\x1b[31m\x1b]0;owned\x07"})
    analyze(events).save(tmp_path / "r")
    result = CliRunner().invoke(cli, ["top", str(tmp_path / "r"), "--wide"],
                                env={**TERMINAL, "COLUMNS": "100"})
    assert result.exit_code == 0
    assert "\x1b[31m" not in result.stdout and "\x1b]0;" not in result.stdout
    assert "evil\\x1b[31m\\x1b]0;owned\\x07" in click.unstyle(result.stdout)


def test_analyze_format_json_into_a_database(events, tmp_path, capsys):
    """--format json prints no file, so it goes with --out DATABASE (csv/parquet do not)."""
    pytest.importorskip("duckdb")
    target = f"duckdb:///{tmp_path / 'r.duckdb'}"
    status, text, _ = _run(capsys, "analyze", events, "--out", target, "--format", "json",
                           "-q")
    assert status == ExitStatus.OK
    summary = json.loads(text)
    assert summary["database"].startswith("duckdb:///") and "folder" not in summary
    assert summary["customers"] == 300
    status, _, err = _run(capsys, "analyze", events, "--out", target, "--format", "parquet")
    assert status == ExitStatus.USAGE and "--format" in err
