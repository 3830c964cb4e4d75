"""Where the time goes, on real onnxruntime sessions and a torch module."""

from __future__ import annotations

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

from pytest_infergate.measure.trace import trace_onnxruntime, trace_torch  # noqa: E402
from tests.test_provenance import _mlp  # noqa: E402


def test_ort_trace_ranks_matmuls_and_adds_up_to_the_call(tmp_path) -> None:
    session = ort.InferenceSession(
        str(_mlp(tmp_path / "m.onnx")), providers=["CPUExecutionProvider"]
    )
    x = np.random.default_rng(0).standard_normal((256, 64)).astype(np.float32)
    trace = trace_onnxruntime(lambda: session.run(None, {"x": x}), session, calls=5)
    assert trace.calls == 5
    assert {op.op_type for op in trace.ops} == {"MatMul", "Relu"}
    assert trace.ops[0].op_type == "MatMul"
    assert 0.5 <= trace.covered_share <= 1.0
    assert trace.ops[0].calls == 1
    assert [(t.op_type, t.per_call) for t in trace.by_type] == [("MatMul", 2), ("Relu", 1)]
    node_share = sum(t.share for t in trace.by_type)
    assert node_share == pytest.approx(trace.covered_share)  # two types, three nodes: all listed
    assert node_share + trace.outside_share == pytest.approx(1.0)


def test_ort_trace_restores_the_session_even_on_error(tmp_path) -> None:
    session = ort.InferenceSession(
        str(_mlp(tmp_path / "m.onnx")), providers=["CPUExecutionProvider"]
    )
    original = session._sess

    def broken() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        trace_onnxruntime(broken, session)
    assert session._sess is original


def test_trace_refuses_what_it_cannot_trace() -> None:
    with pytest.raises(ValueError, match="cannot trace int"):
        trace_onnxruntime(lambda: None, 3)


def test_torch_trace_lists_aten_ops() -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(128, 128), torch.nn.ReLU()).eval()
    x = torch.randn(64, 128)
    with torch.inference_mode():
        trace = trace_torch(lambda: model(x), calls=5)
    assert trace.runtime == "torch"
    assert any("addmm" in op.op_type or "linear" in op.op_type for op in trace.ops)
    assert 0 < trace.covered_share <= 1.5
    assert {t.op_type for t in trace.by_type} >= {op.op_type for op in trace.ops}
    assert sum(t.total_ms for t in trace.by_type) >= sum(op.total_ms for op in trace.ops)
