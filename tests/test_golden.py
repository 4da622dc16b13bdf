"""Golden outputs: the bytes ``analyze`` writes on fixed inputs do not move.

``tests/golden.json`` holds the sha256 of every output file (the manifest as
JSON less ``timings`` and ``versions``) for the bundled examples, generated data
with a customers table, a tiny input without timestamps, and the command line
with ``--format parquet --graph-format gexf`` and with ``--snapshots``; and for
the examples on the Spark engine, with and without the driver hand-off. A
refactor must leave them alone; ``python tests/golden.py --update [--spark]``
regenerates the file, only deliberately. The Spark cases take minutes: they
run with ``INFLUENCE_GOLDEN_SPARK=1``. The digests hold for the library
versions recorded beside them: elsewhere the test skips and says which differ.
"""

import os
import shutil

import golden
import pytest


def _compare(kind: str, run, tmp_path) -> None:
    expected = golden.load().get(kind)
    if expected is None:
        pytest.skip(f"tests/golden.json has no {kind} cases")
    installed = golden.versions(spark=kind == "spark")
    moved = {name: (version, installed.get(name)) for name, version in
             expected["versions"].items() if installed.get(name) != version}
    if moved:
        pytest.skip("golden outputs were made with other library versions (recorded, "
                    "installed): " + ", ".join(f"{k} {a} != {b}" for k, (a, b) in
                                               sorted(moved.items())))
    got = run(tmp_path)
    assert sorted(got) == sorted(expected["cases"])
    for case, files in expected["cases"].items():
        assert got[case] == files, f"case {case!r}: outputs changed"


def test_local_outputs_unchanged(tmp_path):
    _compare("local", golden.local_cases, tmp_path)


@pytest.mark.skipif(not os.environ.get("INFLUENCE_GOLDEN_SPARK"),
                    reason="~5 min on a loaded 2-core machine: set INFLUENCE_GOLDEN_SPARK=1 "
                           "(tests/test_spark.py checks the engines agree in every run)")
def test_spark_outputs_unchanged(tmp_path):
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Java is not installed")
    _compare("spark", golden.spark_cases, tmp_path)
