"""Batch-1 latency of each variant, gated against the committed baseline.

Absolute times wander on a shared machine, so the stored gate here is wide (50%: it
catches gross regressions such as 2x); the tight, portable gates are the interleaved
speed-ups in test_speedups.py.
"""

import os

import intents
import pytest
from conftest import VARIANTS


@pytest.mark.infergate(latency_tolerance=0.5)
@pytest.mark.parametrize("variant", VARIANTS)
def test_latency(infer_bench, pipelines, payload, variant):
    prediction = infer_bench(pipelines[variant], payload)
    assert prediction[0]["label"] in intents.LABELS


def test_int8_graph_is_quantised(infer_bench, models_dir, payload):
    """Verify the optimisation was applied: the int8 file holds quantised operators.

    Timed through the ORT model itself (not the pipeline), so its runtime facts (providers,
    operator histogram, file digest) land in the results and the summary. Under the demo
    switches the int8 model is the damaged one, which is quantised too.
    """
    import build_models
    from transformers import AutoTokenizer

    variant = "damaged" if os.environ.get("INFERGATE_EXAMPLE_DAMAGED") == "1" else "onnx-int8"
    model = build_models.load_model(variant, models_dir)
    inputs = AutoTokenizer.from_pretrained(models_dir / "onnx-int8")(payload, return_tensors="pt")
    infer_bench.measure(
        lambda: model(**inputs),
        model=model,
        expect_quantized=True,
        expect_ops={"MatMulInteger": ">=1", "DynamicQuantizeLinear": ">=1"},
    )
