"""CSV export: ``--infer-csv`` at the end of a real run, and ``infergate csv`` of its
results file, the same rows."""

from __future__ import annotations

import csv
import io

import pytest

from pytest_infergate.report.csv import COLUMNS
from tests.test_cli import infergate

FAST = "@pytest.mark.infergate(warmup=1, warmup_s=0, min_samples=5, min_time_s=0, max_time_s=0.2)"

TESTS = f"""
import time
import pytest

def busy(ms):
    end = time.perf_counter() + ms / 1e3
    while time.perf_counter() < end:
        pass

{FAST}
def test_latency(infer_bench):
    infer_bench(busy, 0.2)

{FAST}
def test_ab(infer_bench):
    infer_bench.compare(busy, busy, args=(0.2,), max_slowdown="500%")
"""


def _rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def test_infer_csv_writes_a_row_per_figure_and_the_cli_converts_the_same(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_models=TESTS)
    out, results = pytester.path / "out.csv", pytester.path / "results.json"
    run = pytester.runpytest("-p", "no:randomly", f"--infer-csv={out}", f"--infer-json={results}")
    run.assert_outcomes(passed=2)
    run.stdout.fnmatch_lines([f"infergate: report written to {out}"])
    rows = _rows(out.read_text())
    latency = [r for r in rows if r["test"] == "test_models.py::test_latency"]
    (row,) = [r for r in latency if r["metric"] == "p50"]
    assert row["verdict"] == row["measurement_verdict"] == "NEW"
    assert row["baseline"] == row["change"] == ""
    assert float(row["current"]) == pytest.approx(float(row["p50_ms"]))
    assert int(row["samples"]) >= 5
    assert float(row["p50_ms"]) <= float(row["p90_ms"]) <= float(row["p99_ms"])
    assert float(row["throughput_per_s"]) > 0
    ab = [r for r in rows if r["test"] == "test_models.py::test_ab"]
    assert ab
    assert ab[0]["metric"] == "slowdown"
    assert ab[0]["verdict"] in ("PASS", "INCONCLUSIVE")
    assert float(ab[0]["baseline"]) > 0
    assert ab[0]["change"] != ""

    converted = pytester.path / "converted.csv"
    done = infergate("csv", results, "-o", converted)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"infergate: CSV written to {converted}"
    assert converted.read_text() == out.read_text()
    to_stdout = infergate("csv", results)
    assert to_stdout.returncode == 0
    assert to_stdout.stdout == out.read_text()


def test_infergate_csv_of_a_bad_file_is_exit_2(pytester: pytest.Pytester) -> None:
    bad = pytester.path / "bad.json"
    bad.write_text("{not json")
    done = infergate("csv", bad)
    assert done.returncode == 2
    assert done.stderr.startswith("infergate: error: ")
    assert "Traceback" not in done.stderr
