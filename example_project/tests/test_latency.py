"""Batch-1 latency of each variant, gated against the committed baseline.

Absolute times wander on a shared machine, so the stored gate here is wide (50%: it catches gross regressions such as 2x); the
tight, portable gates are the interleaved speed-ups in test_speedups.py.
"""

import intents
import pytest
from conftest import VARIANTS


@pytest.mark.infergate(latency_tolerance=0.5)
@pytest.mark.parametrize("variant", VARIANTS)
def test_latency(infer_bench, pipelines, payload, variant):
    prediction = infer_bench(pipelines[variant], payload)
    assert prediction[0]["label"] in intents.LABELS
