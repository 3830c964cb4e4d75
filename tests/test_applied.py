"""Verify-applied end to end: expectations, NOT-APPLIED verdicts, model changes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from pytest_infergate.config import Settings  # noqa: E402
from pytest_infergate.store.results_file import decode_results  # noqa: E402


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
    # The point is the digest, not the speed: a 7 us call on a busy machine must not flip
    # the latency verdict, so the latency gate is widened to 5x.
    wide = "--infer-latency-tolerance=500%"
    onnx_project.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline"
    ).assert_outcomes(passed=1)
    (record,) = json.loads(baseline.read_text())["entries"]["test_swap.py::test_model"][
        "machines"
    ].values()
    assert len(record["model_sha256"]) == 64

    unchanged = onnx_project.runpytest(
        f"--infer-baseline={baseline}", f"--infer-json={results}", wide
    )
    unchanged.assert_outcomes(passed=1)
    assert "model changed" not in unchanged.stdout.str()

    # Same graph and speed, different bytes: the gate must still say the model changed.
    import onnx

    retrained = onnx.load(str(graphs[0]))
    retrained.doc_string = "retrained"
    onnx.save(retrained, str(model))
    swapped = onnx_project.runpytest(
        f"--infer-baseline={baseline}", f"--infer-json={results}", wide
    )
    swapped.assert_outcomes(passed=1)
    old = record["model_sha256"][:12]
    swapped.stdout.fnmatch_lines([f"*test_swap.py::test_model: model changed (sha256 {old}… → *"])
    (measurement,) = json.loads(results.read_text())["measurements"]
    assert measurement["verdict"]["model_change"].startswith("model changed (sha256 ")

    strict = onnx_project.runpytest(f"--infer-baseline={baseline}", "--infer-strict", wide)
    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines(["*model changed*--infer-strict*--infer-update-baseline*"])

    onnx_project.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline", "--infer-strict"
    ).assert_outcomes(passed=1)
    onnx_project.runpytest(f"--infer-baseline={baseline}", "--infer-strict", wide).assert_outcomes(
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


def test_bad_marker_expectation_fails_its_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.infergate(expect_quantized="no")
        def test_x(infer_bench):
            infer_bench(sum, [1])
        """
    )
    run = project.runpytest("test_bad.py")
    run.assert_outcomes(errors=1)
    run.stdout.fnmatch_lines(
        ["*ERROR at setup of test_x*", "*infergate*expect_quantized: expected True or False*"]
    )


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
            "  by operator type (adds up to the call):",
            "    MatMul x2 * ms *%",
            "    outside operators * ms *%",
            "    MatMul * ms *%  MatMul_*",
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
    from pytest_infergate.results import AccuracyResult, LatencyResult
    from pytest_infergate.session import GateSession
    from pytest_infergate.verdicts import Outcome

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


ACCURACY_MODELS = textwrap.dedent(
    """
    import numpy as np

    DATA = [{"id": i, "text": (i % 7) - 3.0, "label": i % 8} for i in range(40)]

    def features(batch):
        return {"x": np.repeat(np.asarray(batch, np.float32)[:, None], 64, axis=1)}
    """
)


def test_accuracy_of_a_float_graph_is_not_applied_and_the_quantised_copy_passes(
    onnx_project: pytest.Pytester,
) -> None:
    onnx_project.makepyfile(accuracy_models=ACCURACY_MODELS)
    onnx_project.makepyfile(
        test_acc="""
        from accuracy_models import DATA, features
        from models import pytest, session

        def test_fp32(accuracy_eval):
            accuracy_eval((session("mlp.onnx"), features), DATA, expect_quantized=True)

        @pytest.mark.infergate(expect_quantized=True, expect_ops={"MatMulInteger": ">=2"})
        def test_int8_marker(accuracy_eval):
            accuracy_eval((session("mlp_int8.onnx"), features), DATA)

        def test_int8_behind_a_function(accuracy_eval):
            s = session("mlp_int8.onnx")
            predict = lambda batch: s.run(None, features(batch))[0]
            accuracy_eval(predict, DATA, runtime_model=s, expect_quantized=True)

        @pytest.mark.infergate(expect_quantized=True)
        def test_hidden_model(accuracy_eval):
            s = session("mlp_int8.onnx")
            accuracy_eval(lambda batch: s.run(None, features(batch))[0], DATA)
        """
    )
    results = onnx_project.path / "results.json"
    baseline = onnx_project.path / "baseline.json"
    run = onnx_project.runpytest(
        f"--infer-json={results}", f"--infer-baseline={baseline}", "--infer-update-baseline"
    )
    run.assert_outcomes(passed=2, failed=2)
    run.stdout.fnmatch_lines_random(
        [
            "*test_acc.py::test_fp32: NOT-APPLIED: the optimisation was not applied: expected a "
            "quantised graph, but it holds no quantised operator*re-recording does not help*",
            "*test_acc.py::test_hidden_model: NOT-APPLIED: *no runtime facts*runtime_model=*",
            "*test_acc.py::test_fp32*accuracy*NOT-APPLIED*",
        ]
    )
    by_key = {m["key"]: m for m in json.loads(results.read_text())["measurements"]}
    fp32 = by_key["test_acc.py::test_fp32"]
    assert fp32["verdict"]["outcome"] == "NOT-APPLIED"
    assert fp32["runtime_facts"]["op_histogram"] == {"MatMul": 2, "Relu": 1}
    marked = by_key["test_acc.py::test_int8_marker"]
    assert marked["verdict"]["outcome"] == "RECORDED"  # an update run records it
    assert marked["runtime_facts"]["op_histogram"]["MatMulInteger"] == 2
    behind = by_key["test_acc.py::test_int8_behind_a_function"]["runtime_facts"]
    assert behind["model_sha256"] == marked["runtime_facts"]["model_sha256"]
    entries = json.loads(baseline.read_text())["entries"]
    assert sorted(entries) == [
        "test_acc.py::test_int8_behind_a_function",
        "test_acc.py::test_int8_marker",
    ]
    assert entries["test_acc.py::test_int8_marker"]["model_sha256"] == behind["model_sha256"]


def test_swapped_models_show_model_changed_for_accuracy_and_ab_ratios(
    onnx_project: pytest.Pytester, graphs: tuple[Path, Path]
) -> None:
    import onnx

    from pytest_infergate.store.results_file import decode_results

    for name in ("model.onnx", "reference.onnx"):
        (onnx_project.path / name).write_bytes(graphs[0].read_bytes())
    onnx_project.makepyfile(accuracy_models=ACCURACY_MODELS)
    onnx_project.makepyfile(
        test_swap="""
        from accuracy_models import DATA, features
        from models import X, pytest, session

        def test_accuracy(accuracy_eval):
            accuracy_eval((session("model.onnx"), features), DATA)

        @pytest.mark.infergate(latency_tolerance=1.0)
        def test_ab(infer_bench):
            model, reference = session("model.onnx"), session("reference.onnx")
            infer_bench.compare(model.run, reference.run, args=(None, {"x": X}), max_slowdown=1.0)
        """
    )
    baseline = onnx_project.path / "baseline.json"
    results = onnx_project.path / "results.json"
    onnx_project.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline"
    ).assert_outcomes(passed=2)
    entries = json.loads(baseline.read_text())["entries"]
    (ratio,) = entries["test_swap.py::test_ab"]["machines"].values()
    old = entries["test_swap.py::test_accuracy"]["model_sha256"]
    assert ratio["model_sha256"] == ratio["reference_model_sha256"] == old

    # Same graphs, new bytes: the model and the A/B reference were both replaced.
    for name in ("model.onnx", "reference.onnx"):
        retrained = onnx.load(str(graphs[0]))
        retrained.doc_string = f"retrained {name}"
        onnx.save(retrained, str(onnx_project.path / name))
    swapped = onnx_project.runpytest(f"--infer-baseline={baseline}", f"--infer-json={results}")
    swapped.assert_outcomes(passed=2)
    swapped.stdout.fnmatch_lines_random(
        [
            f"*test_swap.py::test_accuracy: model changed (sha256 {old[:12]}… → *",
            f"*test_swap.py::test_ab: model changed (sha256 {old[:12]}… → *…); "
            f"reference model changed (sha256 {old[:12]}… → *",
        ]
    )
    decoded = decode_results(json.loads(results.read_text()), "results.json")
    changes = {m.result.key: m.verdict.model_change for m in decoded.measurements}
    assert changes["test_swap.py::test_accuracy"].startswith("model changed (sha256 ")
    assert "reference model changed" in changes["test_swap.py::test_ab"]

    strict = onnx_project.runpytest(f"--infer-baseline={baseline}", "--infer-strict")
    strict.assert_outcomes(failed=2)
    strict.stdout.fnmatch_lines_random(
        [
            "*test_swap.py::test_accuracy: model changed*--infer-strict is set*",
            "*test_swap.py::test_ab: model changed*reference model changed*--infer-strict is set*",
        ]
    )
    onnx_project.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline", "--infer-strict"
    ).assert_outcomes(passed=2)
    again = onnx_project.runpytest(f"--infer-baseline={baseline}", "--infer-strict")
    again.assert_outcomes(passed=2)
    assert "model changed" not in again.stdout.str()


def test_summary_lists_the_operators_an_ab_comparison_changed(
    onnx_project: pytest.Pytester,
) -> None:
    from pytest_infergate.store.results_file import decode_results

    onnx_project.makepyfile(
        test_ab="""
        from models import X, session

        def test_int8_vs_fp32(infer_bench):
            int8, fp32 = session("mlp_int8.onnx"), session("mlp.onnx")
            infer_bench.compare(int8.run, fp32.run, args=(None, {"x": X}), max_slowdown="500%")

        def test_same_graph(infer_bench):
            a, b = session("mlp.onnx"), session("mlp.onnx")
            infer_bench.compare(a.run, b.run, args=(None, {"x": X}), max_slowdown="500%")
        """
    )
    results = onnx_project.path / "results.json"
    run = onnx_project.runpytest(f"--infer-json={results}")
    run.assert_outcomes(passed=2)
    run.stdout.fnmatch_lines(
        [
            "*infergate: operators that differ, A/B reference → candidate*",
            "test_ab.py::test_int8_vs_fp32: mlp.onnx → mlp_int8.onnx (CPUExecutionProvider)",
            "  DynamicQuantizeLinear 0→2, MatMulInteger 0→2, Mul 0→4, Cast 0→2, MatMul 2→0",
        ]
    )
    assert "test_ab.py::test_same_graph: " not in run.stdout.str()
    document = json.loads(results.read_text())
    by_key = {m["key"]: m for m in document["measurements"]}
    ab = by_key["test_ab.py::test_int8_vs_fp32"]
    assert ab["reference_runtime_facts"]["op_histogram"] == {"MatMul": 2, "Relu": 1}
    assert ab["runtime_facts"]["op_histogram"]["MatMulInteger"] == 2
    (decoded, _) = decode_results(document, "results.json").measurements
    assert decoded.reference_facts is not None
    assert decoded.reference_facts.op_histogram == {"MatMul": 2, "Relu": 1}
    assert decoded.facts is not None
    assert decoded.facts.providers == ("CPUExecutionProvider",)

    quiet = onnx_project.runpytest("-q")
    assert "operators that differ" not in quiet.stdout.str()


def test_a_spinning_session_in_an_ab_run_is_warned_about(onnx_project: pytest.Pytester) -> None:
    onnx_project.makepyfile(
        test_spin="""
        import onnxruntime as ort
        from models import X, session

        def spinning(path):
            options = ort.SessionOptions()
            options.intra_op_num_threads = 2  # spins when idle: ORT's default
            return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

        def test_spinning_candidate(infer_bench):
            cand, ref = spinning("mlp.onnx"), session("mlp.onnx")
            infer_bench.compare(
                cand.run, ref.run, args=(None, {"x": X}), max_slowdown="500%", max_time_s=0.2
            )

        def test_quiet_sessions(infer_bench):
            cand, ref = session("mlp_int8.onnx"), session("mlp.onnx")
            infer_bench.compare(
                cand.run, ref.run, args=(None, {"x": X}), max_slowdown="500%", max_time_s=0.2
            )
        """
    )
    results = onnx_project.path / "results.json"
    run = onnx_project.runpytest(f"--infer-json={results}")
    run.assert_outcomes(passed=2)
    run.stdout.fnmatch_lines(
        [
            "infergate: test_spin.py::test_spinning_candidate: the candidate's onnxruntime "
            "session spins idle worker threads*session.intra_op.allow_spinning=0*"
        ]
    )
    assert "test_quiet_sessions: the" not in run.stdout.str()
    by_key = {m["key"]: m for m in json.loads(results.read_text())["measurements"]}
    spinning = by_key["test_spin.py::test_spinning_candidate"]
    assert spinning["runtime_facts"]["spinning"] is True
    assert spinning["reference_runtime_facts"]["spinning"] is False
    decoded = decode_results(json.loads(results.read_text()), str(results))
    assert [m.facts.spinning for m in decoded.measurements if m.facts] == [True, False]
