"""Accuracy evaluation: load a data set, take a reproducible slice, predict in batches, score.

Pure (no pytest), so a benchmark or a notebook can call :func:`evaluate_accuracy`
outside a test. Heavy libraries (datasets, torch, transformers, onnxruntime,
evaluate) are imported only when the data or the model in hand needs them; a
model's type is recognised from its class hierarchy without importing its library.

Every problem with the input (a missing column, an empty slice, a label outside
the label map, a model that returns the wrong number of predictions, a NaN
metric) raises :class:`AccuracyError` with a one-line message that says what to
fix. Errors raised by the model itself propagate unchanged.

The parts, in the order an evaluation uses them: :mod:`.data` (loading), :mod:`.labels`
(the label space), :mod:`.slicing` (the slice and its fingerprint), :mod:`.adapters`
(batched prediction), :mod:`.metrics`, and :mod:`.evaluate` (the whole evaluation).
"""

from __future__ import annotations

from pytest_infergate.measure.accuracy.adapters import Adapter, make_adapter, predict_slice
from pytest_infergate.measure.accuracy.common import (
    FILE_SUFFIXES,
    ID_COLUMNS,
    SAMPLES,
    AccuracyError,
    Progress,
)
from pytest_infergate.measure.accuracy.data import Table, load_table, read_rows_stdlib
from pytest_infergate.measure.accuracy.evaluate import EvaluationRequest, evaluate_accuracy
from pytest_infergate.measure.accuracy.labels import LabelSpace, label_space
from pytest_infergate.measure.accuracy.metrics import METRICS, Metric, resolve_metric
from pytest_infergate.measure.accuracy.slicing import DataSlice, take_slice

__all__ = [
    "FILE_SUFFIXES",
    "ID_COLUMNS",
    "METRICS",
    "SAMPLES",
    "AccuracyError",
    "Adapter",
    "DataSlice",
    "EvaluationRequest",
    "LabelSpace",
    "Metric",
    "Progress",
    "Table",
    "evaluate_accuracy",
    "label_space",
    "load_table",
    "make_adapter",
    "predict_slice",
    "read_rows_stdlib",
    "resolve_metric",
    "take_slice",
]
