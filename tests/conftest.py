"""Shared fixtures: small event tables with known structure."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

# ../shared/data beside the checkout (as in CI); INFLUENCE_SHARED_DATA overrides it.
SHARED_DATA = Path(os.environ.get("INFLUENCE_SHARED_DATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture
def small_events() -> pd.DataFrame:
    """Two triangles joined by one referral, with timestamps, as raw text."""
    rows = [
        ("a", "b", "share", "2026-01-01T00:00:00Z"),
        ("b", "c", "share", "2026-01-02T00:00:00Z"),
        ("c", "a", "comment", "2026-01-03T00:00:00Z"),
        ("a", "c", "share", "2026-01-04T00:00:00Z"),
        ("d", "e", "share", "2026-01-05T00:00:00Z"),
        ("e", "f", "share", "2026-01-06T00:00:00Z"),
        ("f", "d", "comment", "2026-01-07T00:00:00Z"),
        ("c", "d", "referral", "2026-01-08T00:00:00Z"),
        ("a", None, "share", "2026-01-09T00:00:00Z"),
    ]
    return pd.DataFrame(rows, columns=["source", "target", "type", "timestamp"])


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA} "
                    "(set INFLUENCE_SHARED_DATA to its path)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server on 127.0.0.1 for the session (tests/postgres_server.py),
    stopped by its process id at the end; skipped, saying why, where it cannot run."""
    pytest.importorskip("adbc_driver_postgresql",
                        reason="the ADBC PostgreSQL driver is not installed: pip install "
                               "'influence[postgresql]' (the test extra has it)")
    import postgres_server

    reason = postgres_server.why_not()
    if reason is not None:
        pytest.skip(reason)
    server = postgres_server.start()
    try:
        yield server
    finally:
        postgres_server.stop(server)


@pytest.fixture
def pg_database(postgres, request):
    """The URI (with its password) of a fresh database on the session's server."""
    import re

    import postgres_server

    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:50]
    return postgres_server.create_database(postgres, name)


@pytest.fixture(scope="session")
def spark():
    """One local[2] SparkSession for the whole test run (skipped, with the reason, where
    pyspark or Java is missing); stopped at the end if it was started here."""
    from spark_support import start_session, why_no_spark

    why = why_no_spark()
    if why is not None:
        pytest.skip(why)
    session, created = start_session()
    yield session
    if created:
        session.stop()
