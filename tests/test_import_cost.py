"""The plugin loads into every pytest run of our users: importing it must stay cheap."""

from __future__ import annotations

import subprocess
import sys

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


def test_configuring_pytest_without_using_the_plugin_imports_no_heavy_library(pytester):
    pytester.makepyfile(
        """
        import sys

        def test_nothing_heavy():
            heavy = ("numpy", "scipy", "torch", "onnxruntime", "transformers")
            assert not [m for m in sys.modules if m.split(".")[0] in heavy]
        """
    )
    pytester.runpytest_subprocess("-p", "no:benchmark").assert_outcomes(passed=1)
