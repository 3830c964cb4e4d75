from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# numpy and scipy cannot be imported twice in one process, and pytester's in-process
# runs drop the modules they imported: load them once, here, for every run.
import pytest_infergate.judge.stats  # noqa: F401

#: A test module whose model call busy-waits 1 ms times $INFERGATE_TEST_SLOWDOWN:
#: a controlled slowdown that does not depend on how fast this machine is.
SLOWABLE_MODULE = textwrap.dedent(
    """
    import os
    import time

    def model(x):
        factor = float(os.environ.get("INFERGATE_TEST_SLOWDOWN", "1"))
        end = time.perf_counter() + 0.001 * factor
        while time.perf_counter() < end:
            pass
        return x * 2

    def test_model_latency(infer_bench):
        assert infer_bench(model, 21) == 42
    """
)

#: Keep each measurement short: the gate's decisions here rest on a 2x change.
FAST_INI = """
[pytest]
infer_max_time = 0.3
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project with the slowable model test and short measurements."""
    pytester.makeini(FAST_INI)
    pytester.makepyfile(test_model=SLOWABLE_MODULE)
    return pytester


@pytest.fixture
def slowdown(monkeypatch: pytest.MonkeyPatch):
    """Set the model's slowdown factor for in-process pytester runs."""

    def set_factor(factor: float) -> None:
        monkeypatch.setenv("INFERGATE_TEST_SLOWDOWN", str(factor))

    return set_factor


#: The onnxruntime projects' helper module: one-thread CPU sessions over a graph file.
ONNX_MODELS = textwrap.dedent(
    """
    import numpy as np
    import onnxruntime as ort
    import pytest

    X = np.ones((1, 64), np.float32)

    def session(path, providers=("CPUExecutionProvider",)):
        # One thread that sleeps when idle: no spinning pool left to load later tests.
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(path, options, providers=list(providers))
    """
)


@pytest.fixture(scope="session")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real float MLP graph (two MatMuls and a Relu) and its quantize_dynamic int8 copy."""
    pytest.importorskip("onnx")
    quantization = pytest.importorskip("onnxruntime.quantization")
    from tests.test_provenance import _mlp

    root = tmp_path_factory.mktemp("applied")
    fp32 = _mlp(root / "mlp.onnx")
    int8 = root / "mlp_int8.onnx"
    quantization.quantize_dynamic(str(fp32), str(int8))
    return fp32, int8


@pytest.fixture
def onnx_project(project: pytest.Pytester, graphs: tuple[Path, Path]) -> pytest.Pytester:
    """The pytester project with ``mlp.onnx``, ``mlp_int8.onnx`` and ``models.py``
    (:data:`ONNX_MODELS`) instead of the slowable model test."""
    fp32, int8 = graphs
    (project.path / "mlp.onnx").write_bytes(fp32.read_bytes())
    (project.path / "mlp_int8.onnx").write_bytes(int8.read_bytes())
    project.makepyfile(models=ONNX_MODELS)
    (project.path / "test_model.py").unlink()
    return project


@pytest.fixture(scope="session")
def results_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The text of a real results file of one tiny measurement."""
    project = tmp_path_factory.mktemp("results")
    (project / "test_m.py").write_text("def test_m(infer_bench):\n    infer_bench(abs, -1)\n")
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-o", "infer_max_time=0.1", f"--infer-json={project / 'results.json'}"],
        cwd=project, check=True, capture_output=True,
    )  # fmt: skip
    return (project / "results.json").read_text()


@pytest.fixture(scope="session")
def matched_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A baseline and a results file of one run of the slowable model test, on machine
    profile ``ci``: the results' measurement is judged against the baseline's record."""
    project = tmp_path_factory.mktemp("matched")
    (project / "test_model.py").write_text(SLOWABLE_MODULE)
    baseline, results = project / "baseline.json", project / "results.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
         "infer_max_time=0.3", "--infer-machine=ci", f"--infer-baseline={baseline}",
         "--infer-update-baseline", f"--infer-json={results}"],
        cwd=project, check=True, capture_output=True,
    )  # fmt: skip
    return baseline.read_text(), results.read_text()
