"""The whole evaluation: check the arguments, load, slice, predict in batches, score."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pytest_infergate.measure.accuracy.adapters import make_adapter, predict_slice
from pytest_infergate.measure.accuracy.common import SAMPLES, AccuracyError, Progress
from pytest_infergate.measure.accuracy.data import load_table
from pytest_infergate.measure.accuracy.labels import _Resolver, label_space
from pytest_infergate.measure.accuracy.metrics import resolve_metric
from pytest_infergate.measure.accuracy.slicing import take_slice
from pytest_infergate.results import AccuracyResult


def _check_arguments(
    limit: object, sample: object, seed: object, batch_size: object, columns: Sequence[object]
) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise AccuracyError(f"limit must be None or an int >= 1, got {limit!r}")
    if sample not in SAMPLES:
        raise AccuracyError(f"sample must be one of {', '.join(SAMPLES)}, got {sample!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise AccuracyError(f"seed must be an int, got {seed!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise AccuracyError(f"batch_size must be an int >= 1, got {batch_size!r}")
    for column in columns:
        if not isinstance(column, str) or not column:
            raise AccuracyError(f"column names must be non-empty strings, got {column!r}")


def evaluate_accuracy(
    model: object,
    data: object,
    *,
    key: str = "accuracy_eval",
    metric: object = "accuracy",
    input_column: str = "text",
    label_column: str = "label",
    limit: int | None = None,
    sample: str = "head",
    seed: int = 0,
    batch_size: int = 32,
    label_map: object = None,
    progress: Progress | None = None,
) -> AccuracyResult:
    """Evaluate ``model`` on a reproducible slice of ``data`` and return the result.

    ``model``: a transformers ``Pipeline``; ``(model, tokenizer)`` for a transformers
    or optimum ``ORTModel*`` classifier; ``(onnxruntime.InferenceSession, preprocess[,
    postprocess])`` where ``preprocess(inputs)`` returns the feed dict and
    ``postprocess(outputs)`` the labels (default: argmax of the first output); or any
    callable taking a list of inputs and returning one label (class id or name) or
    one row of scores per input. Label names are mapped to the data's class ids
    through ``label_map``, else by the data's class names, else by the model
    config's ``label2id`` when its names are unrelated to the data's (LABEL_0...).
    ``metric``: a name in :data:`METRICS` or an ``evaluate.EvaluationModule``.
    """
    _check_arguments(limit, sample, seed, batch_size, (input_column, label_column))
    scorer = resolve_metric(metric)
    table = load_table(data, input_column, label_column)
    space = label_space(table, label_map)
    adapter = make_adapter(model, text_inputs=all(isinstance(x, str) for x in table.inputs))
    resolver = _Resolver(space, adapter.label2id)
    data_slice = take_slice(table, resolver, limit, sample, seed)
    predictions, predict_s = predict_slice(adapter, resolver, data_slice, batch_size, progress)
    value = scorer.compute(predictions, data_slice.labels)
    if not math.isfinite(value):
        raise AccuracyError(f"metric {scorer.name!r} is {value} on {data_slice.sampling} examples")
    return AccuracyResult(
        key=key,
        metric=scorer.name,
        value=value,
        predictions=predictions,
        labels=data_slice.labels,
        slice_sha256=data_slice.sha256,
        sampling=data_slice.sampling,
        predict_s=predict_s,
    )
