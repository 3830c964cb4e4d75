"""pytest-xdist: workers measure, the controller merges and writes the files once."""

from __future__ import annotations

import itertools
import json
import textwrap

import pytest

pytest.importorskip("xdist")

from pytest_infergate.measure.cpu import CpuUsage
from pytest_infergate.measure.provenance import RuntimeFacts
from pytest_infergate.measure.trace import OpTime, OpTypeTime, Trace
from pytest_infergate.results import (
    AccuracyResult,
    ComparisonResult,
    FixedGates,
    LatencyResult,
    Measurement,
    StopReason,
)
from pytest_infergate.store.results_file import WireError, decode_measurements, encode_measurements
from pytest_infergate.verdicts import AccuracyCheck, Check, Outcome, Verdict

#: Four slowable tests; each writes the wall-clock span of its model calls to a file,
#: so the test can check that no two workers ever timed at once.
MODELS = textwrap.dedent(
    """
    import json
    import os
    import time

    import pytest

    SPAN = []

    def model(x):
        factor = float(os.environ.get("INFERGATE_TEST_SLOWDOWN", "1"))
        now = time.time_ns()
        SPAN[:] = [SPAN[0] if SPAN else now, now]
        # 1 ms of the thread's own CPU time (x the slowdown): work, as a model's is, so a
        # preempted call still costs the same CPU time and a 2x slowdown reads 2x on any load
        end = time.thread_time() + 0.001 * factor
        while time.thread_time() < end:
            pass
        return x * 2

    @pytest.mark.parametrize(
        "n", [pytest.param(n, marks=pytest.mark.xdist_group(f"g{n % 2}")) for n in range(4)]
    )
    def test_model(infer_bench, n):
        SPAN.clear()
        assert infer_bench(model, n) == 2 * n
        with open(f"span-{n}.json", "w") as out:
            json.dump([os.environ.get("PYTEST_XDIST_WORKER", "main"), *SPAN], out)
    """
)

MODES = {
    "no_xdist": ["-p", "no:xdist"],
    "xdist_zero": ["-n", "0"],
    "xdist_two": ["-n", "2"],
    "xdist_loadgroup": ["-n", "2", "--dist", "loadgroup"],
}


@pytest.fixture
def spread(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(
        "[pytest]\ninfer_max_time = 0.2\nmarkers =\n    xdist_group(name): xdist's grouping\n"
    )
    pytester.makepyfile(test_models=MODELS)
    return pytester


@pytest.mark.parametrize("mode", list(MODES))
def test_update_then_gate_in_every_mode(spread: pytest.Pytester, mode: str) -> None:
    baseline, results = spread.path / "baseline.json", spread.path / "results.json"
    args = [*MODES[mode], f"--infer-baseline={baseline}", f"--infer-json={results}"]

    spread.runpytest(*args, "--infer-update-baseline").assert_outcomes(passed=4)
    entries = json.loads(baseline.read_text())["entries"]
    assert sorted(entries) == [f"test_models.py::test_model[{n}]" for n in range(4)]
    assert {e["kind"] for e in entries.values()} == {"latency"}

    gated = spread.runpytest(*args)
    gated.assert_outcomes(passed=4)
    for n in range(4):  # rows come worst first, in no fixed order among equals
        gated.stdout.fnmatch_lines([f"*test_models.py::test_model[[]{n}[]]*p50*ms*%*"])
    measurements = json.loads(results.read_text())["measurements"]
    assert sorted(m["key"] for m in measurements) == sorted(entries)
    # Gated against the recorded entries (never NEW); a busy 2-core box may leave one
    # undecided, which still passes.
    assert {m["verdict"]["outcome"] for m in measurements} <= {"PASS", "IMPROVED", "INCONCLUSIVE"}
    assert all(m["load_average_1m"] >= 0 for m in measurements)
    # The models busy-wait: their process uses about one CPU second per wall second (less
    # when other processes take turns on the cores, as the other workers' tests may).
    assert all(0.25 < m["cpu"]["utilisation"] < 2.0 for m in measurements)
    gated.stdout.fnmatch_lines(["infergate: timed windows used *CPU s per wall s*load average*"])
    if mode == "xdist_loadgroup":  # one worker per group, both groups in the one baseline
        spans = [json.loads((spread.path / f"span-{n}.json").read_text()) for n in range(4)]
        workers = [worker for worker, *_ in spans]
        assert workers[0] == workers[2], workers
        assert workers[1] == workers[3], workers


def _comparable(entry: dict[str, object]) -> dict[str, object]:
    """A baseline entry with its measured figures replaced by their names and types."""
    machines = entry["machines"]
    assert isinstance(machines, dict)
    return {
        **entry,
        "machines": {
            profile: {
                name: value if name == "batch_size" else type(value).__name__
                for name, value in record.items()
            }
            for profile, record in machines.items()
        },
    }


def test_two_workers_write_the_baseline_a_serial_run_writes(spread: pytest.Pytester) -> None:
    serial, spread_out = spread.path / "serial.json", spread.path / "xdist.json"
    spread.runpytest("-p", "no:xdist", f"--infer-baseline={serial}", "--infer-update-baseline")
    spread.runpytest("-n", "2", f"--infer-baseline={spread_out}", "--infer-update-baseline")
    one, two = json.loads(serial.read_text()), json.loads(spread_out.read_text())
    assert two["machines"] == one["machines"]
    assert sorted(two["entries"]) == sorted(one["entries"])
    for key, entry in one["entries"].items():
        assert _comparable(two["entries"][key]) == _comparable(entry), key
        (record_one,) = entry["machines"].values()
        (record_two,) = two["entries"][key]["machines"].values()
        # Both time the same 1 ms busy-wait; a 2x slowdown would show here.
        assert 0.67 < record_two["p50_ms"] / record_one["p50_ms"] < 1.5, key


def test_two_workers_time_one_at_a_time_and_regressions_fail(
    spread: pytest.Pytester, slowdown
) -> None:
    baseline = spread.path / "baseline.json"
    spread.runpytest("-n", "2", f"--infer-baseline={baseline}", "--infer-update-baseline")
    spans = [json.loads((spread.path / f"span-{n}.json").read_text()) for n in range(4)]
    assert len({worker for worker, *_ in spans}) == 2, "both workers should have measured"
    ordered = sorted(spans, key=lambda span: span[1])
    for (_, _, end), (_, start, _) in itertools.pairwise(ordered):
        assert end <= start, f"timed sections overlapped: {ordered}"

    slowdown(2.0)
    slower = spread.runpytest("-n", "2", f"--infer-baseline={baseline}")
    slower.assert_outcomes(failed=4)
    slower.stdout.fnmatch_lines(
        ["*test_model*REGRESSED*", "*2 xdist workers timed one at a time*other workers*"]
    )
    before = json.loads(baseline.read_text())
    assert before == json.loads(baseline.read_text())


def test_workers_open_the_gate_on_their_own_without_any_option(
    pytester: pytest.Pytester,
) -> None:
    """No option and no ini key: each worker opens the gate when it collects a gate test,
    and the controller still prints every worker's measurements."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.infergate(min_samples=5, min_time_s=0, max_time_s=1, warmup=1)
        @pytest.mark.parametrize("n", range(4))
        def test_model(infer_bench, n):
            assert infer_bench(lambda x: x + 1, n) == n + 1
        """
    )
    result = pytester.runpytest("-n", "2")
    result.assert_outcomes(passed=4)
    for n in range(4):
        result.stdout.fnmatch_lines([f"*test_model[[]{n}[]]*p50*NEW*"])


def _measurements() -> list[Measurement]:
    latency = LatencyResult("t::a", (1000, 2000, 1500), 2, 1, 10, 0.5, StopReason.DECIDED)
    check = Check("p50_ms", 1.0, 1.5, float("-inf"), 2.0, 0.1, Outcome.PASS, note="other machine")
    facts = RuntimeFacts(
        runtime="onnxruntime", providers=("CPUExecutionProvider",), op_histogram={"MatMul": 2}
    )
    ref = LatencyResult("t::b::reference", (900, 1100, 1000), 1, 1, 0, 0.1)
    cand = LatencyResult("t::b::candidate", (1000, 1200, 1100), 1, 1, 0, 0.1)
    accuracy = AccuracyResult(
        "t::c", "accuracy", 2 / 3, (1, 0, 1), (1, 1, 1), "ab" * 32, "head 3", 0.2
    )
    acc_check = AccuracyCheck("accuracy", 1.0, 2 / 3, 0.2, 0.9, 0.01, Outcome.INCONCLUSIVE, worse=1)
    return [
        Measurement(
            "t::a",
            latency,
            Verdict("t::a", "latency", Outcome.PASS, (check,), "", "model changed (x)"),
            {"p50": 0.1},
            facts,
            trace=Trace(
                "onnxruntime",
                10,
                0.05,
                (OpTime("MatMul", "n0", 0.3, 1, 0.6),),
                (OpTypeTime("MatMul", 1, 0.3, 0.6),),
            ),
            cpu=CpuUsage(0.5, 0.49, 2, load_average=1.5, torch_threads=1),
        ),
        Measurement(
            "t::b",
            ComparisonResult("t::b", cand, ref, 0.2, gates=FixedGates(min_speedup=1.3)),
            Verdict("t::b", "ratio", Outcome.NOT_APPLIED, reason="no CUDA"),
            {"p50": 0.1},
            facts,
            reference_facts=RuntimeFacts(runtime="torch", weights_sha256="cd" * 32),
        ),
        Measurement(
            "t::c",
            accuracy,
            Verdict("t::c", "accuracy", Outcome.INCONCLUSIVE, (acc_check,)),
            {},
            facts,
        ),
    ]


def test_wire_round_trip_is_lossless() -> None:
    measurements = _measurements()
    assert decode_measurements(encode_measurements(measurements)) == measurements


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"schema_version": 99, "measurements": []}', "another pytest-infergate version"),
        (
            '{"schema_version": 3, "measurements": [{"nodeid": "t", "key": "t", "kind": "Popen"}]}',
            "unknown measurement kind 'Popen'",
        ),
        ('{"schema_version": 3, "measurements": [[1]]}', r"measurements\[0\]: expected an object"),
        ("not json", "cannot decode"),
    ],
)
def test_wire_refuses_what_it_does_not_know(text: str, message: str) -> None:
    with pytest.raises(WireError, match=message):
        decode_measurements(text)
