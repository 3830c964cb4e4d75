"""The plugin loads into every pytest run of our users: importing it must stay cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = (
    "numpy",
    "scipy",
    "torch",
    "onnxruntime",
    "transformers",
    "datasets",
    "evaluate",
    "optimum",
    "rich",
)


def test_importing_the_plugin_imports_no_heavy_library():
    code = (
        "import sys; import pytest_infergate.plugin, pytest_infergate; "
        "print('\\n'.join(sorted(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == []
    # Only the shell: the gate's own modules load when a run first needs the gate.
    ours = sorted(m for m in loaded if m.startswith("pytest_infergate"))
    assert ours == [
        "pytest_infergate",
        "pytest_infergate.defaults",
        "pytest_infergate.options",
        "pytest_infergate.plugin",
    ]


def test_configuring_pytest_without_using_the_plugin_imports_no_heavy_library(pytester):
    pytester.makepyfile(
        """
        import sys

        def test_nothing_heavy():
            heavy = ("numpy", "scipy", "torch", "onnxruntime", "transformers")
            assert not [m for m in sys.modules if m.split(".")[0] in heavy]

        def test_the_gate_stays_closed():
            assert "pytest_infergate.gate_hooks" not in sys.modules
            assert "pytest_infergate.session" not in sys.modules
        """
    )
    pytester.runpytest_subprocess("-p", "no:benchmark").assert_outcomes(passed=2)


def test_a_gate_option_opens_the_gate_at_start_up(pytester):
    """A bad option or baseline stops the run before any test runs, even in a run that
    has no gate test."""
    pytester.makepyfile("def test_plain(): pass")
    pytester.path.joinpath("baseline.json").write_text("not JSON")
    result = pytester.runpytest_subprocess("--infer-baseline=baseline.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: infergate: *baseline.json*"])
    result.stdout.no_fnmatch_line("*test_plain*")


def test_a_gate_test_opens_the_gate_without_any_option(pytester):
    """No option, no ini key: the first test that uses a fixture opens the gate, and the
    run ends with its summary."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.infergate(min_samples=5, min_time_s=0, max_time_s=1, warmup=1)
        def test_model(infer_bench):
            assert infer_bench(lambda x: x + 1, 1) == 2

        @pytest.mark.infergate(warmup=-1)
        def test_bad_marker():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:xdist")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*infergate*", "*test_model*p50*ms*"])
    result.stdout.fnmatch_lines(["*infergate: @pytest.mark.infergate: warmup*"])
