"""Which batch size serves most requests per second within a 50 ms p95 budget?"""

import intents
import pytest

TEXTS = list(intents.load_split("test")["text"])


@pytest.mark.infergate(latency_tolerance=0.5)
def test_int8_batch_sweep(infer_bench, pipelines):
    classify = pipelines["onnx-int8"]
    sweep = infer_bench.sweep(
        lambda texts, size: classify(texts, batch_size=size),
        lambda size: (TEXTS[:size], size),
        batch_sizes=(1, 2, 4, 8, 16, 32),
        latency_budget_ms=50,
        max_time_s=2,
    )
    print("\n" + sweep.table())
    assert sweep.best is not None
    assert sweep.points[-1].throughput_per_s > sweep.points[0].throughput_per_s
