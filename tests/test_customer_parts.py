"""The customers table as part files (``customers/part-NNNNN.csv``): what the Spark
engine's executors write with the hand-off off. Saved one part at a time, listed and
checked in the manifest, read back as the same table, refused when damaged."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import influence
from influence.cli import cli
from influence.errors import InputError
from influence.result import CustomerParts


@pytest.fixture(scope="module")
def result():
    events = influence.generate_events(200, seed=5)[0]
    customers = pd.DataFrame({"customer_id": events["source"].unique()[:30],
                              "note": ["=HYPERLINK(\"x\")", "plain"] * 15})
    return influence.analyze(events, customers=customers, seed=0)


def _as_parts(result, folder, sizes) -> influence.Analysis:
    """``result`` with its customers as Parquet parts of ``sizes`` rows (rank order)."""
    folder.mkdir()
    names, start = [], 0
    for i, size in enumerate(sizes):
        name = f"part-{i:05d}-x.parquet"
        result.customers.iloc[start:start + size].to_parquet(folder / name, index=False)
        names.append(name)
        start += size
    assert start == len(result.customers)
    return influence.Analysis(customers=None, communities=result.communities,
                              manifest=result.manifest, segments=result.segments,
                              cascades=result.cascades, kfactor=result.kfactor,
                              customer_parts=CustomerParts(folder, names))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_parts_save_and_load_as_the_whole_table(result, tmp_path, fmt, monkeypatch):
    monkeypatch.setattr("influence.result.PART_ROWS", 70)
    n = len(result.customers)
    analysis = _as_parts(result, tmp_path / "parts", [n // 3, n // 3, n - 2 * (n // 3)])
    monkeypatch.setattr("influence.result.BATCH_ROWS", 25)
    out = analysis.save(tmp_path / "out", fmt)
    assert analysis.__dict__["_customers"] is None  # saved batch by batch, never whole
    written = sorted(p.name for p in (out / "customers").iterdir())
    assert written == [f"part-{i:05d}.{fmt}" for i in range(3)]  # 70 + 70 + 60 rows
    assert not (out / f"customers.{fmt}").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    files = manifest["outputs"]["files"]
    assert files[:3] == [f"customers/part-{i:05d}.{fmt}" for i in range(3)]
    assert [manifest["outputs"]["checks"][f]["rows"] for f in files[:3]] == [70, 70, n - 140]
    loaded = influence.Analysis.load(out)
    pd.testing.assert_frame_equal(loaded.customers, result.customers)
    # the same table as a whole save gives, formulas neutralised in each part
    whole = influence.Analysis.load(result.save(tmp_path / "whole", fmt))
    pd.testing.assert_frame_equal(loaded.customers, whole.customers)
    if fmt == "csv":
        text = "".join((out / "customers" / name).read_text() for name in written)
        assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text.replace(",=", "\n=")
    # saved again from the loaded folder: still parts, byte for byte; and the files do not
    # depend on how the parts came in (the executors' partitioning)
    again = loaded.save(tmp_path / "again", fmt)
    other = _as_parts(result, tmp_path / "other", [7, n - 8, 1]).save(tmp_path / "o", fmt)
    for name in written:
        assert (again / "customers" / name).read_bytes() == \
            (out / "customers" / name).read_bytes()
        assert (other / "customers" / name).read_bytes() == \
            (out / "customers" / name).read_bytes()



def test_a_folder_of_parts_may_be_replaced_and_gets_a_report(result, tmp_path):
    analysis = _as_parts(result, tmp_path / "parts", [50, len(result.customers) - 50])
    out = analysis.save(tmp_path / "out")
    analysis.save(out, report=True)  # the parts of the earlier save are influence's own
    assert (out / "report.html").is_file()
    runner = CliRunner()
    got = runner.invoke(cli, ["top", str(out), "-n", "3", "--format", "csv"])
    assert got.exit_code == 0, got.output
    top = pd.read_csv(io.StringIO(got.stdout))
    assert top["customer_id"].tolist() == result.customers["customer_id"].head(3).tolist()


def test_a_foreign_file_among_the_parts_is_not_deleted(result, tmp_path):
    analysis = _as_parts(result, tmp_path / "parts", [len(result.customers)])
    out = analysis.save(tmp_path / "out")
    (out / "customers" / "mine.txt").write_text("keep me")
    with pytest.raises(InputError, match="holds files influence did not write"):
        analysis.save(out)
    assert (out / "customers" / "mine.txt").read_text() == "keep me"


def test_a_damaged_or_missing_part_is_refused(result, tmp_path):
    analysis = _as_parts(result, tmp_path / "parts", [40, len(result.customers) - 40])
    out = analysis.save(tmp_path / "out")
    part = out / "customers" / "part-00000.csv"
    text = part.read_text()
    part.write_text(text.replace(",", ";", 1))
    with pytest.raises(InputError, match="part-00000.csv.*sha256"):
        influence.Analysis.load(out)
    part.unlink()
    with pytest.raises(InputError, match="part-00000.csv is missing"):
        influence.Analysis.load(out)


def test_assigning_a_table_drops_the_parts(result, tmp_path):
    analysis = _as_parts(result, tmp_path / "parts", [len(result.customers)])
    assert len(analysis.customers) == len(result.customers)  # read on first use
    analysis.customers = result.customers.head(5)
    assert analysis.customer_parts is None
    out = analysis.save(tmp_path / "out")
    assert (out / "customers.csv").is_file() and not (out / "customers").exists()
    assert np.array_equal(influence.Analysis.load(out).customers["customer_id"],
                          result.customers["customer_id"].head(5))
