"""Shared fixtures: small event tables with known structure."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

SHARED_DATA = Path(os.environ.get("INFLUENCE_SHARED_DATA")
                   or Path(__file__).resolve().parents[2] / "shared" / "data")


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
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA
