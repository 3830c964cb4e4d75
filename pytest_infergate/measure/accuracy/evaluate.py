"""The whole evaluation: check the arguments, load, slice, predict in batches, score."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from pytest_infergate.measure.accuracy.adapters import make_adapter, predict_slice
from pytest_infergate.measure.accuracy.common import SAMPLES, AccuracyError, Progress
from pytest_infergate.measure.accuracy.data import load_table
from pytest_infergate.measure.accuracy.labels import _Resolver, label_space
from pytest_infergate.measure.accuracy.metrics import resolve_metric
from pytest_infergate.measure.accuracy.slicing import take_slice
from pytest_infergate.results import AccuracyResult


@dataclass(frozen=True)
class EvaluationRequest:
    """What an evaluation reads and how: the metric, the columns, the slice (``limit``
    examples, ``sample`` ``head`` or ``random`` with ``seed``), the batch size and the
    mapping of label names to class ids."""

    metric: object = "accuracy"
    input_column: str = "text"
    label_column: str = "label"
    limit: int | None = None
    sample: str = "head"
    seed: int = 0
    batch_size: int = 32
    label_map: object = None

    def check(self) -> None:
        """Refuse a bad argument with a one-line :class:`AccuracyError`."""
        limit, batch_size, seed = self.limit, self.batch_size, self.seed
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise AccuracyError(f"limit must be None or an int >= 1, got {limit!r}")
        if self.sample not in SAMPLES:
            raise AccuracyError(f"sample must be one of {', '.join(SAMPLES)}, got {self.sample!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise AccuracyError(f"seed must be an int, got {seed!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise AccuracyError(f"batch_size must be an int >= 1, got {batch_size!r}")
        for column in (self.input_column, self.label_column):
            if not isinstance(column, str) or not column:
                raise AccuracyError(f"column names must be non-empty strings, got {column!r}")


def evaluate_accuracy(
    model: object,
    data: object,
    request: EvaluationRequest | None = None,
    *,
    key: str = "accuracy_eval",
    progress: Progress | None = None,
    **fields: Any,
) -> AccuracyResult:
    """Evaluate ``model`` on a reproducible slice of ``data`` and return the result.

    ``request`` (default: :class:`EvaluationRequest`'s defaults), with ``fields`` of it
    replaced (``limit=500``, ``metric="f1_macro"``), says what to read and how.
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
    request = replace(request or EvaluationRequest(), **fields)
    request.check()
    scorer = resolve_metric(request.metric)
    table = load_table(data, request.input_column, request.label_column)
    space = label_space(table, request.label_map)
    adapter = make_adapter(model, text_inputs=all(isinstance(x, str) for x in table.inputs))
    resolver = _Resolver(space, adapter.label2id)
    data_slice = take_slice(table, resolver, request.limit, request.sample, request.seed)
    predictions, predict_s = predict_slice(
        adapter, resolver, data_slice, request.batch_size, progress
    )
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
