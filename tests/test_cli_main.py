"""``influence.cli.main(argv) -> int``, called in-process with captured streams (httpie's
way): the exit status it returns, stdout for results only, one error line on stderr; how
errors name what the user gave (an option or a config key); --traceback per run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from influence.cli import ExitStatus, main
from influence.errors import EXIT_CODES


@pytest.fixture
def events(tmp_path, small_events):
    path = tmp_path / "events.csv"
    small_events.to_csv(path, index=False)
    return path


def _run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_exit_statuses_are_the_documented_codes():
    assert {s.name: int(s) for s in ExitStatus} == {
        "OK": 0, "ERROR": 1, "USAGE": 2, "INPUT": 3, "CONFIG": 4, "SYSTEM": 5,
        "HANGUP": 129, "INTERRUPTED": 130, "OUTPUT_CLOSED": 141, "TERMINATED": 143}
    assert sorted(EXIT_CODES.values()) == sorted(int(s) for s in ExitStatus)


def test_main_returns_the_status_and_keeps_stdout_for_results(capsys, events, tmp_path):
    status, out, err = _run(capsys, "--version")
    assert status == ExitStatus.OK and out.startswith("influence ") and err == ""
    status, out, err = _run(capsys, "validate", events, "--json")
    assert status == ExitStatus.OK and json.loads(out)["rows_used"] == 9 and err == ""
    status, out, err = _run(capsys, "analyze", events, "--out", tmp_path / "r")
    assert status == ExitStatus.OK and out == f"{tmp_path / 'r'}\n"
    assert err.startswith("influence: 9 of 9 rows used")


@pytest.mark.parametrize("argv, status, needle", [
    (["analyze", "EVENTS", "--bogus"], ExitStatus.USAGE, "No such option"),
    (["top"], ExitStatus.USAGE, "Missing argument"),
    (["validate", "MISSING"], ExitStatus.INPUT, "does not exist"),
    (["validate", "EVENTS", "--config", "MISSING"], ExitStatus.CONFIG, "cannot read config"),
    (["propagators", "EVENTS", "-k", "0"], ExitStatus.USAGE, "-k"),
])
def test_errors_are_one_line_with_their_status(capsys, events, tmp_path, argv, status,
                                               needle):
    argv = [{"EVENTS": events, "MISSING": tmp_path / "missing.csv"}.get(a, a) for a in argv]
    got, out, err = _run(capsys, *argv)
    assert got == status and out == ""
    assert err.count("\n") == 1 and err.startswith("influence: error: ") and needle in err


def test_an_option_is_named_as_the_option_and_a_key_as_the_key(capsys, events, tmp_path):
    status, _, err = _run(capsys, "validate", events, "--since", "someday")
    assert status == ExitStatus.CONFIG
    assert err == ("influence: error: option '--since' must be an ISO 8601 date like "
                   "2026-01-31; got 'someday'\n")
    config = tmp_path / "c.toml"
    config.write_text('[window]\nsince = "someday"\n')
    status, _, err = _run(capsys, "validate", events, "--config", config)
    assert status == ExitStatus.CONFIG
    assert err.startswith("influence: error: config key 'window.since' must be an ISO")


def test_a_key_from_the_file_is_not_named_as_an_option(capsys, events, tmp_path):
    """since from the file, --until on the command line: the error is about the file's
    window.since (the old string replacement called it option '--since', which the user
    never gave)."""
    config = tmp_path / "c.toml"
    config.write_text('[window]\nsince = "2026-03-01"\n')
    status, _, err = _run(capsys, "validate", events, "--config", config, "--until",
                          "2026-02-01")
    assert status == ExitStatus.CONFIG
    assert err == ("influence: error: config key 'window.since' must be on or before "
                   "window.until (2026-02-01); got '2026-03-01'\n")


def test_compare_names_the_window_option_of_each_period(capsys, events):
    status, _, err = _run(capsys, "compare", events, events, "--new-until", "2026-13-45")
    assert status == ExitStatus.CONFIG
    assert err.startswith("influence: error: option '--new-until' must be an ISO 8601 date")


def test_traceback_is_a_setting_of_one_run(capsys, events, monkeypatch):
    import influence.analysis

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(influence.analysis, "analyze", boom)
    with pytest.raises(RuntimeError, match="kaboom"):
        main(["analyze", str(events), "--traceback"])
    capsys.readouterr()
    status, out, err = _run(capsys, "analyze", events)  # the next run: one line again
    assert status == ExitStatus.ERROR and out == ""
    assert err.startswith("influence: error: internal error (RuntimeError: kaboom)")


def test_python_dash_m_exits_with_the_status(tmp_path):
    """``python -m influence`` and the console script exit with what main() returns."""
    run = subprocess.run([sys.executable, "-m", "influence", "validate",
                          str(tmp_path / "nope.csv")], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 3 and run.stdout == ""
    assert run.stderr.startswith("influence: error: ") and run.stderr.count("\n") == 1


def test_help_loads_no_analysis_library():
    """``influence --help`` and a command's --help import neither pandas, matplotlib nor
    igraph (each command imports what it computes with when it runs)."""
    code = ("import sys\nfrom influence.cli import cli, main\n"
            "assert main(['--help']) == 0\n"
            "assert all(main([name, '--help']) == 0 for name in cli.commands)\n"
            "heavy = ('pandas', 'numpy', 'matplotlib', 'igraph', 'pyarrow', 'rich')\n"
            "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == "[]"


def test_api_errors_name_the_argument_and_the_cli_names_its_option(capsys, events):
    """The API's error is about its argument (key ``horizon``); the command line renders
    the same fields under the option that set it, with no text replaced."""
    from influence.backtest import backtest
    from influence.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        backtest(str(events), "2026-01-02", horizon="soon")
    assert (caught.value.key, caught.value.got) == ("horizon", "soon")
    assert str(caught.value).startswith("argument 'horizon' must be a positive number")
    status, _, err = _run(capsys, "backtest", events, "--split", "2026-01-02",
                          "--horizon", "soon")
    assert status == ExitStatus.CONFIG
    assert err == ("influence: error: option '--horizon' must be a positive number of days "
                   "like 30d (or weeks like 4w); got 'soon'\n")
    status, _, err = _run(capsys, "analyze", events, "--snapshots", "monthly")
    assert status == ExitStatus.CONFIG
    assert err.startswith("influence: error: option '--snapshots' must be a positive")


def test_analyze_hands_engine_snapshots_and_key_to_the_api(capsys, events, tmp_path,
                                                          monkeypatch):
    """``analyze`` computes nothing itself: the engine, the snapshots and the pseudonym
    key go to ``influence.analyze``, which returns the result the CLI saves."""
    import influence.analysis

    real, calls = influence.analysis.analyze, []

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(influence.analysis, "analyze", spy)
    key = tmp_path / "k.key"
    key.write_bytes(b"0123456789abcdef0123")
    status, out, _ = _run(capsys, "analyze", events, "--out", tmp_path / "r", "-q",
                          "--no-report", "--snapshots", "2d", "--snapshot-window", "3d",
                          "--pseudonymize", "--key-file", key)
    assert status == ExitStatus.OK, out
    [kwargs] = calls
    assert kwargs["engine"] == "local"
    assert kwargs["snapshots"] == {"every": "2d", "window": "3d"}
    assert kwargs["pseudonymize_key"] == b"0123456789abcdef0123"
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["snapshots"]["every_days"] == 2
    assert manifest["snapshots"]["window_days"] == 3


def test_validate_renders_the_report_of_validate_events(capsys, events, monkeypatch):
    """``validate`` keeps no accounting of its own: it prints what validate_events says."""
    import influence.validation

    real, reports = influence.validation.validate_events, []

    def spy(*args, **kwargs):
        reports.append(real(*args, **kwargs))
        return reports[-1]

    monkeypatch.setattr(influence.validation, "validate_events", spy)
    status, out, _ = _run(capsys, "validate", events, "--json")
    assert status == ExitStatus.OK
    [report] = reports
    assert json.loads(out) == report.to_dict()
    status, out, _ = _run(capsys, "validate", events)
    assert status == ExitStatus.OK and f"rows used  {report.accounting.rows_used}\n" in out
