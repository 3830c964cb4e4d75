"""Metrics over predicted and true class ids: accuracy, macro/micro/weighted F1, precision and
recall by name, or an ``evaluate`` module object (used offline: a name string would need the
hub)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_infergate.measure.accuracy.common import AccuracyError


def _counts(predictions: Sequence[int], labels: Sequence[int]) -> tuple[Any, Any, Any, Any]:
    """Per-class true positives, false positives, false negatives, and which classes occur
    (in the labels or the predictions: scikit-learn's set for macro averages)."""
    import numpy as np

    pred = np.asarray(predictions, dtype=np.int64)
    true = np.asarray(labels, dtype=np.int64)
    k = int(max(pred.max(), true.max())) + 1
    confusion = np.bincount(true * k + pred, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion)
    fp = confusion.sum(axis=0) - tp
    fn = confusion.sum(axis=1) - tp
    present = (confusion.sum(axis=0) + confusion.sum(axis=1)) > 0
    return tp, fp, fn, present


def _ratio(numerator: Any, denominator: Any) -> Any:
    """Element-wise numerator / denominator, 0 where the denominator is 0 (zero_division=0)."""
    import numpy as np

    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _accuracy(predictions: Sequence[int], labels: Sequence[int]) -> float:
    return sum(p == t for p, t in zip(predictions, labels, strict=True)) / len(labels)


def _averaged(kind: str, average: str) -> Callable[[Sequence[int], Sequence[int]], float]:
    def score(predictions: Sequence[int], labels: Sequence[int]) -> float:
        tp, fp, fn, present = _counts(predictions, labels)
        if average == "binary":
            if len(present) > 2:
                raise AccuracyError(
                    f"metric {kind!r} is binary (positive class 1) but class ids go up to "
                    f"{len(present) - 1}; use {kind}_macro or {kind}_micro"
                )
            tp, fp, fn = tp[1:2], fp[1:2], fn[1:2]
        elif average == "micro":
            tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
        else:
            tp, fp, fn = tp[present], fp[present], fn[present]
        per_class = {
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn),
            "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        }[kind]
        return float(per_class.mean()) if per_class.size else 0.0

    return score


#: Built-in metrics over class ids, computed with numpy. Macro averages run over the
#: classes present in labels or predictions and count 0/0 as 0, as scikit-learn does;
#: plain ``f1``/``precision``/``recall`` are binary (positive class 1) as in ``evaluate``.
METRICS: dict[str, Callable[[Sequence[int], Sequence[int]], float]] = {
    "accuracy": _accuracy,
    "exact_match": _accuracy,
    **{
        f"{kind}{suffix}": _averaged(kind, average)
        for kind in ("f1", "precision", "recall")
        for suffix, average in (("", "binary"), ("_macro", "macro"), ("_micro", "micro"))
    },
}


@dataclass(frozen=True)
class Metric:
    """A metric by name, with how to compute it from class ids."""

    name: str
    compute: Callable[[Sequence[int], Sequence[int]], float]


def resolve_metric(metric: object) -> Metric:
    """A built-in metric by name, or any ``evaluate.EvaluationModule``."""
    if isinstance(metric, str):
        compute = METRICS.get(metric)
        if compute is None:
            raise AccuracyError(
                f"unknown metric {metric!r}; known: {', '.join(METRICS)} "
                "(or pass an evaluate.EvaluationModule)"
            )
        return Metric(metric, compute)
    evaluate = sys.modules.get("evaluate")
    if evaluate is not None and isinstance(metric, evaluate.EvaluationModule):
        module: Any = metric

        def compute_module(predictions: Sequence[int], labels: Sequence[int]) -> float:
            return _module_value(module, module.compute(predictions=predictions, references=labels))

        return Metric(str(module.name), compute_module)
    raise AccuracyError(
        f"metric must be one of {', '.join(METRICS)} or an evaluate.EvaluationModule, "
        f"got {type(metric).__name__}"
    )


def _module_value(module: Any, output: object) -> float:
    """The one number an evaluate module returned: its own name's key, or its only number."""
    if isinstance(output, Mapping):
        numbers = {
            k: v
            for k, v in output.items()
            if isinstance(v, (int, float)) or type(v).__module__ == "numpy"
        }
        if module.name in numbers:
            output = numbers[module.name]
        elif len(numbers) == 1:
            (output,) = numbers.values()
        else:
            raise AccuracyError(
                f"metric {module.name!r} returned {', '.join(map(str, output)) or 'nothing'}; "
                "cannot tell which one to gate (wrap it in a module that returns one number)"
            )
    try:
        return float(output)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AccuracyError(
            f"metric {module.name!r} returned {output!r}, which is not a number"
        ) from None
