"""Accuracy of each variant on the test and hard splits, paired against the baseline."""

import pytest
from conftest import VARIANTS


@pytest.mark.parametrize("split", ["test", "hard"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_accuracy(accuracy_eval, pipelines, splits, variant, split):
    if split not in splits:
        pytest.skip(f"--example-dataset has no {split!r} split")
    result = accuracy_eval(pipelines[variant], splits[split], metric="accuracy", batch_size=32)
    assert result.n == len(splits[split])


def test_int8_stays_within_a_point_of_fp32(accuracy_eval, pipelines, splits):
    """Quantisation drift: int8 against fp32 ONNX on the same examples, flips shown."""
    data = splits.get("test") or next(iter(splits.values()))
    fp32 = accuracy_eval(pipelines["onnx"], data, name="fp32", metric="accuracy")
    int8 = accuracy_eval(pipelines["onnx-int8"], data, name="int8", metric="accuracy")
    flips = sum(a != b for a, b in zip(fp32.predictions, int8.predictions, strict=True))
    print(
        f"int8 vs fp32: {int8.value - fp32.value:+.3f} accuracy, "
        f"{flips}/{fp32.n} predictions changed ({flips / fp32.n:.1%} flip rate)"
    )
    assert fp32.value - int8.value <= 0.01
