"""Per-call timing overhead: infergate vs a bare perf_counter_ns loop vs pytest-benchmark.

All three time the same two functions in one run of this script: a no-op, and a
1 ms busy-wait. The bare loop is timed here; infergate and pytest-benchmark are
timed through their pytest fixtures in one pytest subprocess, and read back from
their JSON outputs. "overhead" is a tool's median per call minus the bare loop's.

    python benchmarks/overhead.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

WORKLOADS = textwrap.dedent(
    """
    import time

    def noop():
        return None

    def busy_1ms():
        end = time.perf_counter() + 0.001
        while time.perf_counter() < end:
            pass
    """
)

TESTS = textwrap.dedent(
    """
    from workloads import busy_1ms, noop

    def test_noop_infergate(infer_bench):
        infer_bench(noop)

    def test_noop_pytest_benchmark(benchmark):
        benchmark(noop)

    def test_busy_1ms_infergate(infer_bench):
        infer_bench(busy_1ms)

    def test_busy_1ms_pytest_benchmark(benchmark):
        benchmark(busy_1ms)
    """
)


def bare_median_ns(fn, seconds: float) -> float:
    """Median of a plain ``t0 = perf_counter_ns(); fn(); t1 = ...`` loop."""
    perf = time.perf_counter_ns
    samples = []
    end = perf() + int(seconds * 1e9)
    while perf() < end:
        t0 = perf()
        fn()
        samples.append(perf() - t0)
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "workloads.py").write_text(WORKLOADS)
        (root / "test_overhead.py").write_text(TESTS)
        infer_json, bench_json = root / "infer.json", root / "bench.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                str(root),
                f"--rootdir={root}",
                f"--infer-json={infer_json}",
                f"--benchmark-json={bench_json}",
            ],
            check=True,
            cwd=root,
            capture_output=True,
        )
        sys.path.insert(0, str(root))
        import workloads

        bare = {
            "noop": bare_median_ns(workloads.noop, 1.0),
            "busy_1ms": bare_median_ns(workloads.busy_1ms, 1.0),
        }
        infergate = {
            m["key"].split("::test_")[1].removesuffix("_infergate"): m["p50_ms"] * 1e6
            for m in json.loads(infer_json.read_text())["measurements"]
        }
        pytest_benchmark = {
            b["name"].removeprefix("test_").removesuffix("_pytest_benchmark"): b["stats"]["median"]
            * 1e9
            for b in json.loads(bench_json.read_text())["benchmarks"]
        }

    print(
        f"{'workload':<10} {'bare loop':>12} {'infergate':>12} {'overhead':>10} "
        f"{'pytest-benchmark':>17} {'overhead':>10}"
    )
    for name in ("noop", "busy_1ms"):
        b, i, p = bare[name], infergate[name], pytest_benchmark[name]
        print(
            f"{name:<10} {b:>9.0f} ns {i:>9.0f} ns {i - b:>+7.0f} ns "
            f"{p:>14.0f} ns {p - b:>+7.0f} ns"
        )
    print(
        "\noverhead = the tool's median per call minus the bare perf_counter_ns loop's median "
        "(negative: the tool amortises the clock read by timing short calls in groups)"
    )


if __name__ == "__main__":
    main()
