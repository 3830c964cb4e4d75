"""Verify-applied (issue 8) end to end: expectations, NOT-APPLIED verdicts, model changes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from onnxruntime.quantization import quantize_dynamic  # noqa: E402

from pytest_infergate.config import Settings  # noqa: E402
from tests.test_provenance import _mlp  # noqa: E402

MODELS = textwrap.dedent(
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


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("applied")
    fp32 = _mlp(root / "mlp.onnx")
    int8 = root / "mlp_int8.onnx"
    quantize_dynamic(str(fp32), str(int8))
    return fp32, int8


@pytest.fixture
def onnx_project(project: pytest.Pytester, graphs: tuple[Path, Path]) -> pytest.Pytester:
    fp32, int8 = graphs
    (project.path / "mlp.onnx").write_bytes(fp32.read_bytes())
    (project.path / "mlp_int8.onnx").write_bytes(int8.read_bytes())
    project.makepyfile(models=MODELS)
    (project.path / "test_model.py").unlink()
    return project


def test_fp32_graph_is_not_applied_and_the_quantised_copy_passes(
    onnx_project: pytest.Pytester,
) -> None:
    onnx_project.makepyfile(
        test_quant="""
        from models import X, pytest, session

        @pytest.mark.infergate(expect_quantized=True)
        def test_fp32(infer_bench):
            s = session("mlp.onnx")
            infer_bench(s.run, None, {"x": X})

        @pytest.mark.infergate(expect_quantized=True)
        def test_int8(infer_bench):
            s = session("mlp_int8.onnx")
            infer_bench(s.run, None, {"x": X})

        def test_int8_measure_argument(infer_bench):
            s = session("mlp_int8.onnx")
            infer_bench.measure(
                lambda: s.run(None, {"x": X}), model=s, expect_ops={"MatMulInteger": ">=1"}
            )
        """
    )
    results = onnx_project.path / "results.json"
    run = onnx_project.runpytest(f"--infer-json={results}")
    run.assert_outcomes(passed=2, failed=1)
    run.stdout.fnmatch_lines(
        [
            "*test_fp32: NOT-APPLIED: the optimisation was not applied: expected a quantised "
            "graph, but it holds no quantised operator*",
            "*test_quant.py::test_fp32*NOT-APPLIED*",
        ]
    )
    document = json.loads(results.read_text())
    by_key = {m["key"]: m for m in document["measurements"]}
    fp32 = by_key["test_quant.py::test_fp32"]
    assert fp32["verdict"]["outcome"] == "NOT-APPLIED"
    assert fp32["runtime_facts"]["op_histogram"] == {"MatMul": 2, "Relu": 1}
    assert fp32["runtime_facts"]["providers"] == ["CPUExecutionProvider"]
    int8 = by_key["test_quant.py::test_int8"]
    assert int8["verdict"]["outcome"] == "NEW"
    assert int8["runtime_facts"]["op_histogram"]["MatMulInteger"] == 2


def test_silent_cpu_fallback_fails_naming_the_provider_used(
    onnx_project: pytest.Pytester,
) -> None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime build has CUDA: nothing falls back")
    onnx_project.makepyfile(
        test_cuda="""
        import warnings
        from models import X, pytest, session

        @pytest.mark.infergate(expect_providers=["CUDAExecutionProvider"])
        def test_on_cuda(infer_bench):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = session("mlp.onnx", ("CUDAExecutionProvider", "CPUExecutionProvider"))
            infer_bench(s.run, None, {"x": X})
        """
    )
    baseline = onnx_project.path / "baseline.json"
    run = onnx_project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    run.assert_outcomes(failed=1)
    run.stdout.fnmatch_lines(
        [
            "*expected provider(s) CUDAExecutionProvider but the session runs on "
            "CPUExecutionProvider*",
        ]
    )
    assert not baseline.exists(), "a NOT-APPLIED measurement must not be recorded"


def test_swapped_model_file_shows_model_changed(
    onnx_project: pytest.Pytester, graphs: tuple[Path, Path]
) -> None:
    model = onnx_project.path / "model.onnx"
    model.write_bytes(graphs[0].read_bytes())
    onnx_project.makepyfile(
        test_swap="""
        from models import X, session

        def test_model(infer_bench):
            s = session("model.onnx")
            infer_bench(s.run, None, {"x": X})
        """
    )
    baseline = onnx_project.path / "baseline.json"
    results = onnx_project.path / "results.json"
    onnx_project.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline"
    ).assert_outcomes(passed=1)
    (record,) = json.loads(baseline.read_text())["entries"]["test_swap.py::test_model"][
        "machines"
    ].values()
    assert len(record["model_sha256"]) == 64

    unchanged = onnx_project.runpytest(f"--infer-baseline={baseline}", f"--infer-json={results}")
    unchanged.assert_outcomes(passed=1)
    assert "model changed" not in unchanged.stdout.str()

    # Same graph and speed, different bytes: the gate must still say the model changed.
    import onnx

    retrained = onnx.load(str(graphs[0]))
    retrained.doc_string = "retrained"
    onnx.save(retrained, str(model))
    swapped = onnx_project.runpytest(f"--infer-baseline={baseline}", f"--infer-json={results}")
    swapped.assert_outcomes(passed=1)
    old = record["model_sha256"][:12]
    swapped.stdout.fnmatch_lines([f"*test_swap.py::test_model: model changed (sha256 {old}… → *"])
    (measurement,) = json.loads(results.read_text())["measurements"]
    assert measurement["verdict"]["model_change"].startswith("model changed (sha256 ")

    strict = onnx_project.runpytest(f"--infer-baseline={baseline}", "--infer-strict")
    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines(["*model changed*--infer-strict*--infer-update-baseline*"])

    onnx_project.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline", "--infer-strict"
    ).assert_outcomes(passed=1)
    onnx_project.runpytest(f"--infer-baseline={baseline}", "--infer-strict").assert_outcomes(
        passed=1
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"expect_quantized": "yes"}, "expect_quantized: expected True or False"),
        ({"expect_providers": []}, "expect_providers: expected provider names"),
        ({"expect_ops": {"MatMul": "lots"}}, "expect_ops: expected a count rule"),
        ({"expect_op": {"MatMul": 1}}, "unknown setting(s) expect_op"),
    ],
)
def test_expectation_settings_are_validated(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_kwargs(kwargs)


def test_expectation_settings_parse() -> None:
    settings = Settings.from_kwargs(
        {"expect_providers": "CPUExecutionProvider", "expect_ops": {"MatMulInteger": 2}}
    )
    expected = settings.expectations()
    assert expected.providers == ("CPUExecutionProvider",)
    assert dict(expected.ops) == {"MatMulInteger": "==2"}


def test_bad_marker_expectation_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.infergate(expect_quantized="no")
        def test_x(infer_bench):
            infer_bench(sum, [1])
        """
    )
    run = project.runpytest("test_bad.py")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*test_x*expect_quantized: expected True or False*"])


def test_infer_trace_lists_the_top_operators(onnx_project: pytest.Pytester) -> None:
    onnx_project.makepyfile(
        test_traced="""
        import numpy as np
        from models import pytest, session

        BATCH = np.ones((256, 64), np.float32)

        def test_onnx(infer_bench):
            s = session("mlp.onnx")
            infer_bench(s.run, None, {"x": BATCH})

        @pytest.mark.infergate(trace=True)
        def test_plain_function(infer_bench):
            infer_bench(sum, [1, 2])
        """
    )
    results = onnx_project.path / "results.json"
    plain = onnx_project.runpytest(f"--infer-json={results}")
    plain.assert_outcomes(passed=2)
    assert "where the time goes" not in plain.stdout.str()

    traced = onnx_project.runpytest("--infer-trace", f"--infer-json={results}")
    traced.assert_outcomes(passed=2)
    traced.stdout.fnmatch_lines(
        [
            "*infergate: where the time goes*",
            "test_traced.py::test_onnx: onnxruntime, * ms per profiled call over 10 calls*",
            "  MatMul * ms/call *%*",
        ]
    )
    by_key = {m["key"]: m for m in json.loads(results.read_text())["measurements"]}
    trace = by_key["test_traced.py::test_onnx"]["trace"]
    assert trace["ops"][0]["op_type"] == "MatMul"
    assert {op["op_type"] for op in trace["ops"]} == {"MatMul", "Relu"}
    assert 0.5 <= trace["covered_share"] <= 1.0
    assert "trace" not in by_key["test_traced.py::test_plain_function"]


def test_expectations_apply_to_every_measurement_kind() -> None:
    from pytest_infergate.config import GateConfig
    from pytest_infergate.results import AccuracyResult, LatencyResult, Outcome
    from pytest_infergate.session import GateSession

    session = GateSession(GateConfig(machine="ci"))
    settings = GateConfig().resolve(Settings.from_kwargs({"expect_quantized": True}))
    accuracy = AccuracyResult("t::acc", "accuracy", 0.5, (1, 0), (1, 1), "ab" * 32, "all 2", 0.1)
    evaluated = session.record("t", accuracy, settings)
    assert evaluated.verdict.outcome is Outcome.NOT_APPLIED
    assert "runtime_model=" in evaluated.verdict.reason
    latency = LatencyResult("t::lat", (1000, 1100), 1, 1, 0, 0.1)
    timed = session.record("t", latency, settings)
    assert timed.verdict.outcome is Outcome.NOT_APPLIED
    assert "pass model=" in timed.verdict.reason
    assert session.fails(timed.verdict)
    assert session.fails(evaluated.verdict)
