"""Bad input, clear words: a slip in a test's own code fails that test in one line that
says what to write instead."""

from __future__ import annotations

from pathlib import Path

import pytest

NOT_CALLABLE = """
import pytest

class Classifier:
    def predict(self, x):
        return x

class Opaque:
    pass

def test_object_with_a_predict_method(infer_bench):
    infer_bench(Classifier(), 1)

def test_measure_of_an_opaque_object(infer_bench):
    infer_bench.measure(Opaque(), args=(1,))

def test_compare_reference(infer_bench):
    infer_bench.compare(Classifier().predict, Classifier(), args=(1,))

def test_sweep_of_an_object(infer_bench):
    infer_bench.sweep(Classifier(), lambda size: (size,), batch_sizes=(1, 2))
"""


def test_a_model_object_where_its_method_belongs_fails_in_one_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_calls=NOT_CALLABLE)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=4)
    output = result.stdout.str()
    assert "TypeError" not in output
    assert "Traceback" not in output
    failures = [line for line in result.outlines if line.startswith("infer_bench")]
    assert failures == [
        "infer_bench(): the first argument must be callable, got an object of type Classifier; "
        "pass model.predict (its predict method), not the model itself",
        "infer_bench.measure(): fn must be callable, got an object of type Opaque; pass the "
        "function that runs the model (e.g. session.run, or a lambda)",
        "infer_bench.compare(): reference must be callable, got an object of type Classifier; "
        "pass model.predict (its predict method), not the model itself",
        "infer_bench.sweep(): fn must be callable, got an object of type Classifier; "
        "pass model.predict (its predict method), not the model itself",
    ]


def test_an_inference_session_is_told_to_pass_its_run_method(
    onnx_project: pytest.Pytester,
) -> None:
    onnx_project.makepyfile(
        test_session="""
        from models import X, session

        def test_session_itself(infer_bench):
            infer_bench(session("mlp.onnx"), None, {"x": X})
        """
    )
    result = onnx_project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "infer_bench(): the first argument must be callable, got an object of type "
            "InferenceSession; pass session.run (its run method), not the session itself"
        ]
    )


def test_british_spelling_of_expect_quantized_is_the_same_key(
    onnx_project: pytest.Pytester,
) -> None:
    onnx_project.makepyfile(
        test_quant="""
        from models import X, pytest, session

        @pytest.mark.infergate(expect_quantised=True)
        def test_fp32(infer_bench):
            s = session("mlp.onnx")
            infer_bench(s.run, None, {"x": X})

        @pytest.mark.infergate(expect_quantised=True)
        def test_int8(infer_bench):
            s = session("mlp_int8.onnx")
            infer_bench(s.run, None, {"x": X})
        """
    )
    result = onnx_project.runpytest("-p", "no:randomly")
    # the key is honoured, not ignored: the float graph is NOT-APPLIED
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_fp32: NOT-APPLIED*expected a quantised graph*"])


def test_a_marker_typo_fails_only_its_test_and_names_the_key(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_typo="""
        import pytest

        @pytest.mark.infergate(expect_quantize=True)
        def test_typo(infer_bench):
            infer_bench(sum, [1])

        def test_fine():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "infergate: @pytest.mark.infergate: unknown setting(s) expect_quantize (did you "
            "mean expect_quantized?); known: *"
        ]
    )
    assert pytester.runpytest("-k", "fine").ret == pytest.ExitCode.OK


@pytest.mark.parametrize("where", ["option", "ini"])
def test_a_tolerance_above_one_must_be_written_as_a_percentage(
    project: pytest.Pytester, where: str
) -> None:
    if where == "ini":
        project.makeini("[pytest]\ninfer_max_time = 0.3\ninfer_latency_tolerance = 10\n")
        refused = project.runpytest()
    else:
        refused = project.runpytest("--infer-latency-tolerance=10")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(
        ["*did you mean 10%? Write 1000% to allow +1000% (11x the baseline's time)"]
    )
    if where == "ini":
        project.makeini("[pytest]\ninfer_max_time = 0.3\ninfer_latency_tolerance = 1000%\n")
        project.runpytest().assert_outcomes(passed=1)
    else:
        project.runpytest("--infer-latency-tolerance=1000%").assert_outcomes(passed=1)


def test_a_fixed_ab_gate_above_one_must_be_written_as_a_percentage(
    pytester: pytest.Pytester,
) -> None:
    """``compare(max_slowdown=10)`` reads as 10% to a person and allowed an 11x slowdown;
    it is refused before anything is timed, saying how to write the wide gate on purpose."""
    pytester.makepyfile(
        test_ab="""
        def test_ab(infer_bench):
            infer_bench.compare(abs, abs, args=(-1,), max_slowdown=10)
        """
    )
    refused = pytester.runpytest()
    refused.assert_outcomes(failed=1)
    refused.stdout.fnmatch_lines(
        [
            "*infer_bench.compare(): 10 is a fraction above 1: did you mean 10%? "
            "Write 1000% to allow +1000% (11x the baseline's time)"
        ]
    )


def test_the_offline_compare_refuses_a_tolerance_above_one_without_percent(
    tmp_path: Path,
) -> None:
    from tests.test_cli import infergate

    # the option is refused while the command line is read, before any file is opened
    refused = infergate("compare", tmp_path / "b.json", tmp_path / "r.json", "--tolerance", "10")
    assert refused.returncode == 2
    assert "did you mean 10%? Write 1000% to allow +1000%" in refused.stderr
    assert refused.stdout == ""
