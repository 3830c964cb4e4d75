"""The optimisation must pay: speed-ups measured interleaved (A/B) in this process.

Ratios measured side by side survive a noisy machine that absolute times do not, so
these gates are tight where test_latency.py's stored gate is wide. The required
speed-ups sit below what this machine measured through the pipelines, interleaved
(ONNX 1.19-1.23x over PyTorch, int8 1.34-1.39x over fp32 ONNX at batch 1): a margin
for other CPUs, not for noise. The ratio stored in the baseline is gated at 25%: the
ONNX/PyTorch ratio moved 6.6% between two quiet runs here (their threads compete).
"""

import pytest

pytestmark = pytest.mark.infergate(latency_tolerance=0.25)


def test_onnx_is_faster_than_pytorch(infer_bench, pipelines, payload):
    result = infer_bench.compare(
        pipelines["onnx"], pipelines["pytorch"], args=(payload,), min_speedup=1.1
    )
    print(f"onnx vs pytorch: {result.speedup:.2f}x ({result.n} samples per arm)")


def test_int8_is_faster_than_fp32_onnx(infer_bench, pipelines, payload):
    result = infer_bench.compare(
        pipelines["onnx-int8"], pipelines["onnx"], args=(payload,), min_speedup=1.15
    )
    print(f"onnx-int8 vs onnx: {result.speedup:.2f}x ({result.n} samples per arm)")
