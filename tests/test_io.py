import json

import pandas as pd
import pytest

from influence.errors import InputError
from influence.io import (
    neutralize_formulas,
    read_result_csv,
    restore_formulas,
    write_events,
    write_table,
)
from influence.sources import read_customers, read_events


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".parquet", ".jsonl"])
def test_formats_round_trip_and_keep_leading_zeros(tmp_path, ext):
    events = pd.DataFrame({"source": ["007", "010"], "target": ["010", None],
                           "type": ["share", "comment"], "extra": [1, 2]})
    path = write_events(events, tmp_path / f"e{ext}")
    got, info = read_events(path)
    assert list(got.columns) == ["source", "target", "type"]
    assert got["source"].tolist() == ["007", "010"]
    assert got["target"].isna().tolist() == [False, True]
    assert info["format"] == ext.lstrip(".") and len(info["sha256"]) == 64


def test_numeric_ids_become_text(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"source": 1, "target": 2, "type": "share"},
        {"source": 3, "target": None, "type": "share"}]) + "\n")
    got, _ = read_events(path)
    assert got["source"].tolist() == ["1", "3"]
    assert got["target"].tolist()[0] == "2"


def test_mapping_and_missing_column_messages():
    table = pd.DataFrame({"src": ["a"], "dst": ["b"], "kind": ["share"]})
    got, _ = read_events(table, columns={"source": "src", "target": "dst", "type": "kind"})
    assert got.columns.tolist() == ["source", "target", "type"]
    with pytest.raises(InputError, match=r"missing column 'target'; found \['src', 'dst', "
                                         r"'kind'\]\. Map it with --map target="):
        read_events(table, columns={"source": "src", "type": "kind"})
    with pytest.raises(InputError, match="no column 'user' \\(mapped to 'source'\\)"):
        read_events(table, columns={"source": "user"})


def test_unusable_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_events(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        read_events(empty)
    header = tmp_path / "header.csv"
    header.write_text("source,target,type\n")
    with pytest.raises(InputError, match="no rows"):
        read_events(header)
    with pytest.raises(InputError, match="cannot tell the format"):
        read_events(tmp_path / "events.xlsx")
    garbage = tmp_path / "g.parquet"
    garbage.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="cannot read events file"):
        read_events(garbage)


def test_customers_table(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("customer_id,plan\n001,gold\n002,free\n001,dup\n")
    got = read_customers(path)
    assert got["customer_id"].tolist() == ["001", "002"]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,plan\n1,x\n")
    with pytest.raises(InputError, match="customer_id"):
        read_customers(bad)


def test_formula_neutralisation_round_trips():
    hostile = pd.Series(["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "\tx", "safe", None],
                        dtype="str")
    safe = neutralize_formulas(hostile)
    assert safe.dropna().str.startswith(("=", "+", "-", "@", "\t")).sum() == 0
    assert safe[5] == "safe" and pd.isna(safe[6])
    assert restore_formulas(safe).tolist()[:6] == hostile.tolist()[:6]


def test_formula_checks_look_at_the_first_character_only():
    cells = pd.Series(["\r1", "\n2", "\x003", "a=b", "'quoted", "'=kept", " =x", "", None],
                      dtype="str")
    safe = neutralize_formulas(cells)
    assert safe.tolist()[:8] == ["'\r1", "'\n2", "'\x003", "a=b", "''quoted", "''=kept",
                                 " =x", ""]
    # a leading ' is escaped too, so every cell reads back as it was
    assert restore_formulas(safe).tolist()[:8] == cells.tolist()[:8]


@pytest.mark.parametrize("pair", [("=x", "'=x"), ("-5", "'-5"), ("'", "''"), ("@a", "'@a")])
def test_an_id_and_its_escaped_look_alike_stay_apart(pair):
    safe = neutralize_formulas(pd.Series(pair, dtype="str"))
    assert safe.nunique() == 2 and not safe.str[:1].isin(list("=+-@\t\r\n\x00")).any()
    assert restore_formulas(safe).tolist() == list(pair)


def test_folders_written_before_the_reversible_escape_read_as_before():
    old = pd.Series(["'=x", "'quoted", "plain"], dtype="str")  # what the old writer wrote
    assert restore_formulas(old, legacy=True).tolist() == ["=x", "'quoted", "plain"]
    assert restore_formulas(old).tolist() == ["=x", "quoted", "plain"]


def test_read_result_csv_gives_what_pandas_read_csv_gives(tmp_path):
    table = pd.DataFrame({
        "source": pd.array(["007", "=x", "a,b", "", None], dtype="str"),
        "weight": [1.0, 2.5, 1e-7, 0.1 + 0.2, 3.0],
        "n_events": [1, 2, 3, 4, 5],
        "holes": [1.0, None, 3.0, None, 5.0],
        "flag": [True, False, True, True, False],
        "label": pd.array(["x", "y", None, "z", "w"], dtype="str"),
    })
    path = write_table(table, tmp_path / "t.csv")
    got = read_result_csv(path, text_columns=("source",))
    expected = pd.read_csv(path, dtype={"source": "str"}, keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got["n_events"].dtype == "int64" and got["holes"].dtype == "float64"
    empty = write_table(table.iloc[:0], tmp_path / "empty.csv")
    pd.testing.assert_frame_equal(
        read_result_csv(empty, text_columns=("source",)),
        pd.read_csv(empty, dtype={"source": "str"}, keep_default_na=False, na_values=[""]))


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("name", ["e.csv", "e.tsv", "e.csv.gz", "e.parquet", "e.jsonl",
                                  "e.jsonl.gz"])
def test_input_hash_is_of_the_file_bytes(tmp_path, name):
    events = pd.DataFrame({"source": ["a", "b"], "target": ["b", "c"], "type": ["share"] * 2})
    path = tmp_path / name
    if name.endswith(".gz"):
        import gzip

        plain = write_events(events, tmp_path / name[:-3])
        path.write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
    else:
        write_events(events, path)
    got, info = read_events(path)
    assert got["source"].tolist() == ["a", "b"]
    assert info["sha256"] == _sha(path.read_bytes())


def test_input_hash_is_of_the_bytes_analysed_while_the_file_grows(tmp_path, monkeypatch):
    """A file appended to while it is read: the hash names exactly what was parsed."""
    import pyarrow.csv

    path = tmp_path / "growing.csv"
    path.write_text("source,target,type\na,b,share\n")
    parse = pyarrow.csv.read_csv

    def append_then_parse(*args, **kwargs):
        with open(path, "a") as handle:  # a writer adds rows while we read
            handle.write("b,c,share\nc,d,share\n")
        return parse(*args, **kwargs)

    monkeypatch.setattr(pyarrow.csv, "read_csv", append_then_parse)
    got, info = read_events(path)
    parsed = "source,target,type\n" + "".join(
        f"{s},{t},{k}\n" for s, t, k in got[["source", "target", "type"]].itertuples(index=False))
    assert info["sha256"] == _sha(parsed.encode())


def test_input_hash_is_of_the_bytes_analysed_when_the_file_is_replaced(tmp_path, monkeypatch):
    import pyarrow.parquet

    path = tmp_path / "e.parquet"
    write_events(pd.DataFrame({"source": ["a"], "target": ["b"], "type": ["share"]}), path)
    first = path.read_bytes()
    parse = pyarrow.parquet.read_table

    def replace_then_parse(*args, **kwargs):
        write_events(pd.DataFrame({"source": ["x", "y"], "target": ["y", "z"],
                                   "type": ["share"] * 2}), path)
        return parse(*args, **kwargs)

    monkeypatch.setattr(pyarrow.parquet, "read_table", replace_then_parse)
    got, info = read_events(path)
    assert got["source"].tolist() == ["a"] and info["sha256"] == _sha(first)


def _cells(series):
    return [None if pd.isna(v) else v for v in series]


def test_text_cells_give_one_text_per_number_and_flag_non_ids():
    import numpy as np

    from influence.io import text_cells

    floats = pd.Series([1.0, 1.5, None, 1e20, -0.0, float("inf"), 2.0 ** 70, 0.1])
    text, not_id = text_cells(floats)
    text = _cells(text)
    assert text[:5] == ["1", "1.5", None, "100000000000000000000", "0"]
    assert text[6:] == [str(2 ** 70), "0.1"]
    assert not_id.tolist() == [False] * 5 + [True, False, False]
    mixed = pd.Series(["a", 1, 1.0, np.int64(7), True, ["a"], {"id": 1}, None, b"x", b"\xff",
                       np.array(["z"])], dtype=object)
    text, not_id = text_cells(mixed)
    text = _cells(text)
    assert text[:5] == ["a", "1", "1", "7", "True"]
    assert text[7:9] == [None, "x"]
    assert np.flatnonzero(not_id).tolist() == [4, 5, 6, 9, 10]
    assert text_cells(pd.Series([True, False]))[1].tolist() == [True, True]
    assert text_cells(pd.Series(["x", None], dtype="str"))[1] is None


def test_float_id_columns_give_the_same_text_in_source_and_target(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"source": [1.0, 2.0, 3.0], "target": [2.0, 1.5, 1.0],
                             "type": ["share"] * 3}), path)
    got, _ = read_events(path)
    assert got["source"].tolist() == ["1", "2", "3"]
    assert got["target"].tolist() == ["2", "1.5", "1"]  # was "2.0", "1.5", "1.0"


def test_non_scalar_ids_are_missing_and_marked(tmp_path):
    from influence.schema import BAD_ID

    path = tmp_path / "e.jsonl"
    rows = [{"source": "a", "target": "b", "type": "share"},
            {"source": ["a"], "target": "b", "type": "share"},
            {"source": "a", "target": {"id": "b"}, "type": "share"},
            {"source": True, "target": "b", "type": "share"},
            {"source": 1, "target": 1.0, "type": "share"},
            {"source": 2.0, "target": None, "type": "share"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    got, _ = read_events(path)
    assert _cells(got["source"]) == ["a", None, "a", None, "1", "2"]
    assert _cells(got["target"]) == ["b", "b", None, "b", "1", None]
    assert got[BAD_ID].tolist() == [False, True, True, True, False, False]
    again, _ = read_events(got)  # events read once and analysed again (compare does)
    assert again[BAD_ID].tolist() == got[BAD_ID].tolist()


@pytest.mark.parametrize("ids", [[["a"], ["b"]], [True, False], [{"k": 1}, {"k": 2}]])
def test_customers_with_non_scalar_ids_are_an_input_error(tmp_path, ids):
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(json.dumps({"customer_id": i, "plan": "x"}) for i in ids) + "\n")
    with pytest.raises(InputError, match=r"customers table column 'customer_id' holds 2 values "
                                         r"that are no id \(row 1: "):
        read_customers(path)
