"""What the plugin costs a pytest run that measures nothing: infergate vs pytest-benchmark.

Most runs our users make never time a model (their unit tests), yet pytest loads every
installed plugin into each of them. This script times, in one run and interleaved:

* importing each plugin module after ``import pytest`` (fresh interpreters);
* a whole pytest run of a one-test project with no plugin, with each plugin alone
  (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1`` and ``-p``, so other installed plugins are out).

Each row is the median of ``--runs`` processes; "adds" is the row minus the bare one.

    python benchmarks/startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLUGINS = {
    "pytest-infergate": "pytest_infergate.plugin",
    "pytest-benchmark": "pytest_benchmark.plugin",
}


def wall_ms(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "test_one.py").write_text("def test_one():\n    assert True\n")
        pytest_run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        commands = {
            ("import", "none"): [sys.executable, "-c", "import pytest"],
            ("run", "none"): pytest_run,
        }
        for name, module in PLUGINS.items():
            commands["import", name] = [sys.executable, "-c", f"import pytest, {module}"]
            commands["run", name] = [*pytest_run, "-p", module]
        times: dict[tuple[str, str], list[float]] = {key: [] for key in commands}
        for _ in range(runs):
            for key, command in commands.items():
                times[key].append(wall_ms(command, project, env))
    medians = {key: statistics.median(values) for key, values in times.items()}
    print(f"{'what':<52}{'median ms':>10}{'adds ms':>10}")
    for what, label in (
        ("import", "import pytest, then the plugin"),
        ("run", "a one-test pytest run"),
    ):
        bare = medians[what, "none"]
        print(f"{label + ', no plugin':<52}{bare:>10.1f}{'':>10}")
        for name in PLUGINS:
            value = medians[what, name]
            print(f"{label + ', ' + name:<52}{value:>10.1f}{value - bare:>+10.1f}")
    python = sys.version.split()[0]
    print(f"({runs} runs of each, interleaved; {os.cpu_count()} CPUs; Python {python})")


if __name__ == "__main__":
    main()
