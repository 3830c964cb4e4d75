"""Runtime facts and expectations on real onnxruntime sessions and torch modules."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from pytest_infergate.measure.provenance import (  # noqa: E402
    Expectations,
    file_sha256,
    runtime_facts,
    unmet,
)


def _mlp(path: Path) -> Path:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((64, 64)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((64, 8)).astype(np.float32), "w2")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("MatMul", ["r", "w2"], ["y"]),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 8])],
        [w1, w2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from onnxruntime.quantization import quantize_dynamic

    root = tmp_path_factory.mktemp("graphs")
    fp32 = _mlp(root / "mlp.onnx")
    int8 = root / "mlp_int8.onnx"
    quantize_dynamic(str(fp32), str(int8))
    return fp32, int8


def test_fp32_graph_fails_expect_quantized_and_int8_passes(graphs) -> None:
    fp32, int8 = graphs
    expect = Expectations(quantized=True)
    fp32_facts = runtime_facts(ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"]))
    int8_facts = runtime_facts(ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"]))
    assert fp32_facts is not None
    assert int8_facts is not None
    (problem,) = unmet(fp32_facts, expect)
    assert "holds no quantised operator" in problem
    assert unmet(int8_facts, expect) == ()
    assert int8_facts.quantized_ops["MatMulInteger"] == 2
    assert fp32_facts.op_histogram == {"MatMul": 2, "Relu": 1}


def test_silent_cpu_fallback_is_caught(graphs) -> None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime build has CUDA: nothing falls back")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = ort.InferenceSession(
            str(graphs[0]), providers=["CUDAExecutionProvider", "CPUExecutionProvider"]
        )
    (problem,) = unmet(runtime_facts(session), Expectations(providers=("CUDAExecutionProvider",)))
    assert problem == (
        "expected provider(s) CUDAExecutionProvider but the session runs on CPUExecutionProvider"
    )


def test_op_count_rules(graphs) -> None:
    facts = runtime_facts(ort.InferenceSession(str(graphs[1]), providers=["CPUExecutionProvider"]))
    assert unmet(facts, Expectations(ops={"MatMulInteger": ">=1", "MatMul": "==0"})) == ()
    assert unmet(facts, Expectations(ops={"Attention": ">=1"})) == (
        "expected Attention >= 1, found 0",
    )
    with pytest.raises(ValueError, match="count rule"):
        Expectations(ops={"MatMul": "lots"})


def test_facts_record_threads_level_and_digest(graphs) -> None:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(graphs[0]), options, providers=["CPUExecutionProvider"])
    facts = runtime_facts(session)
    assert facts.intra_op_threads == 1
    assert facts.graph_optimization_level == "ORT_ENABLE_ALL"
    assert facts.model_sha256 == file_sha256(graphs[0])
    assert facts.model_bytes == graphs[0].stat().st_size
    assert facts.digest == facts.model_sha256


def test_swapped_file_changes_the_digest(tmp_path: Path, graphs) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(graphs[0].read_bytes())
    before = runtime_facts(ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]))
    model.write_bytes(graphs[1].read_bytes())
    after = runtime_facts(ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]))
    assert before.digest != after.digest


def test_torch_module_facts() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.Linear(4, 2)
    facts = runtime_facts(module)
    assert facts.runtime == "torch"
    assert facts.parameters == 10
    assert facts.device == "cpu"
    assert facts.dtype == "float32"
    with torch.no_grad():
        module.weight[0, 0] += 1
    assert runtime_facts(module).weights_sha256 != facts.weights_sha256


def test_plain_function_has_no_facts_and_expectations_say_so() -> None:
    assert runtime_facts(len) is None
    (problem,) = unmet(None, Expectations(quantized=True))
    assert "pass model=" in problem


def test_op_changes_and_arm_labels() -> None:
    from pytest_infergate.measure.provenance import RuntimeFacts, op_changes
    from pytest_infergate.report.terminal import _arm_labels

    fp32 = RuntimeFacts("onnxruntime", op_histogram={"MatMul": 98, "Add": 10})
    int8 = RuntimeFacts("onnxruntime", op_histogram={"MatMul": 2, "MatMulInteger": 96, "Add": 10})
    assert op_changes(int8, fp32) == (("MatMulInteger", 0, 96), ("MatMul", 98, 2))
    assert op_changes(fp32, fp32) == ()
    assert _arm_labels("/m/onnx/model.onnx", "/m/onnx-int8/model_quantized.onnx") == (
        "onnx/model.onnx",
        "onnx-int8/model_quantized.onnx",
    )
    assert _arm_labels("/m/a.onnx", "/m/b.onnx") == ("a.onnx", "b.onnx")
    assert _arm_labels(None, "/m/b.onnx") == ("reference", "/m/b.onnx")


def test_results_file_decodes_the_runtime_facts_it_was_written_with() -> None:
    from pytest_infergate.config import GateConfig, Settings
    from pytest_infergate.measure.provenance import RuntimeFacts
    from pytest_infergate.results import ComparisonResult, LatencyResult, Observed
    from pytest_infergate.session import GateSession
    from pytest_infergate.store.results_file import decode_results
    from pytest_infergate.verdicts import Outcome, Verdict

    session = GateSession(GateConfig(machine="ci"))
    onnx = RuntimeFacts(
        runtime="onnxruntime",
        providers=("CPUExecutionProvider",),
        graph_optimization_level="ORT_ENABLE_ALL",
        intra_op_threads=1,
        model_file="m.onnx",
        model_bytes=123,
        model_sha256="ab" * 32,
        op_histogram={"MatMulInteger": 2},
    )
    torch = RuntimeFacts(
        runtime="torch", device="cpu", dtype="float32", parameters=10, weights_sha256="cd" * 32
    )
    cand = LatencyResult("t::ab::candidate", (1000, 1100, 1050), 1, 1, 0, 0.1)
    ref = LatencyResult("t::ab::reference", (2000, 2100, 2050), 1, 1, 0, 0.1)
    result = ComparisonResult("t::ab", cand, ref, 0.1)
    verdict = Verdict("t::ab", "ratio", Outcome.PASS)
    session.record("t", result, Settings(), Observed(facts=onnx, reference_facts=torch), verdict)
    (decoded,) = decode_results(session.results_document(), "mem").measurements
    assert decoded.facts == onnx
    assert decoded.reference_facts == torch
