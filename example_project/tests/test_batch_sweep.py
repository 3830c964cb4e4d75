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
    # Every point is gated against the baseline. Which batch size serves most is the CPU's
    # answer, not a property to assert: batch 32 served 1.5x batch 1's requests per second
    # on a 2-core Intel Xeon runner and 0.96x on a 2-core AMD EPYC one.
    assert sweep.best is not None
