"""Accuracy evaluation: load a data set, take a reproducible slice, predict in batches, score.

Pure (no pytest), so a benchmark or a notebook can call :func:`evaluate_accuracy`
outside a test. Heavy libraries (datasets, torch, transformers, onnxruntime,
evaluate) are imported only when the data or the model in hand needs them; a
model's type is recognised from its class hierarchy without importing its library.

Every problem with the input (a missing column, an empty slice, a label outside
the label map, a model that returns the wrong number of predictions, a NaN
metric) raises :class:`AccuracyError` with a one-line message that says what to
fix. Errors raised by the model itself propagate unchanged.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import json
import math
import operator
import os
import struct
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_infergate.results import AccuracyResult

#: Columns that identify an example, looked for in this order.
ID_COLUMNS = ("id", "idx", "guid", "example_id")
FILE_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")
SAMPLES = ("head", "random")

#: Called after each batch with (examples done, examples in the slice).
Progress = Callable[[int, int], None]


class AccuracyError(ValueError):
    """Bad input to an accuracy evaluation; the message is one line that says what to fix."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _has_base(obj: object, package: str, name: str) -> bool:
    """Whether ``obj`` is an instance of a class ``name`` from ``package``, without importing it."""
    return any(
        cls.__name__ == name and cls.__module__.split(".")[0] == package
        for cls in type(obj).__mro__
    )


# -- data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """The whole data set as loaded: inputs, raw labels (ids or names), optional ids."""

    source: str
    inputs: tuple[Any, ...]
    labels: tuple[Any, ...]
    ids: tuple[str, ...] | None
    label_names: tuple[str, ...] | None = None


def load_table(data: object, input_column: str, label_column: str) -> Table:
    """Load ``data``: a ``datasets.Dataset`` (or a one-split ``DatasetDict``), a local
    .csv/.jsonl/.json/.parquet path, a list of dicts, or ``"name:split"`` from the hub."""
    if isinstance(data, (str, os.PathLike)):
        return _load_path_or_hub(data, input_column, label_column)
    hf = sys.modules.get("datasets")
    if hf is not None:
        if isinstance(data, hf.DatasetDict):
            splits = list(data)
            if len(splits) != 1:
                raise AccuracyError(
                    f"data is a DatasetDict with splits {', '.join(splits) or 'none'}; "
                    "pass one split, e.g. data['test']"
                )
            return _from_dataset(
                data[splits[0]], f"split {splits[0]!r}", input_column, label_column
            )
        if isinstance(data, hf.Dataset):
            split = f"split {str(data.split)!r}" if data.split is not None else "Dataset"
            return _from_dataset(data, split, input_column, label_column)
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return _from_rows(data, "list of dicts", input_column, label_column)
    raise AccuracyError(
        f"data must be a datasets.Dataset, a path to a .csv/.jsonl/.json/.parquet file, "
        f"a list of dicts or 'name:split'; got {type(data).__name__}"
    )


def _check_columns(columns: Sequence[str], wanted: Mapping[str, str], source: str) -> None:
    for argument, column in wanted.items():
        if column not in columns:
            raise AccuracyError(
                f"{source} has no column {column!r} (columns: {', '.join(columns) or 'none'}); "
                f"pass {argument}="
            )


def _id_column(columns: Iterable[str], input_column: str, label_column: str) -> str | None:
    present = set(columns) - {input_column, label_column}
    return next((c for c in ID_COLUMNS if c in present), None)


def _from_dataset(ds: Any, source: str, input_column: str, label_column: str) -> Table:
    columns = list(ds.column_names)
    _check_columns(columns, {"input_column": input_column, "label_column": label_column}, source)
    id_column = _id_column(columns, input_column, label_column)
    feature = ds.features.get(label_column)
    names = tuple(feature.names) if _has_base(feature, "datasets", "ClassLabel") else None
    return Table(
        source=source,
        inputs=tuple(ds[input_column]),
        labels=tuple(ds[label_column]),
        ids=tuple(str(i) for i in ds[id_column]) if id_column else None,
        label_names=names,
    )


def _from_rows(rows: Sequence[Any], source: str, input_column: str, label_column: str) -> Table:
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise AccuracyError(f"{source}: row {index} is a {type(row).__name__}, not a dict")
        _check_columns(
            list(row),
            {"input_column": input_column, "label_column": label_column},
            f"{source} row {index}",
        )
    id_column = _id_column(rows[0], input_column, label_column) if rows else None
    if id_column is not None and not all(id_column in row for row in rows):
        id_column = None
    return Table(
        source=source,
        inputs=tuple(row[input_column] for row in rows),
        labels=tuple(row[label_column] for row in rows),
        ids=tuple(str(row[id_column]) for row in rows) if id_column else None,
    )


def _load_path_or_hub(data: str | os.PathLike[str], input_column: str, label_column: str) -> Table:
    text = os.fspath(data)
    path = Path(text)
    if path.exists() or path.suffix.lower() in FILE_SUFFIXES or not isinstance(data, str):
        return _load_file(path, input_column, label_column)
    if ":" in text:
        return _load_hub(text, input_column, label_column)
    raise AccuracyError(
        f"data {text!r} is neither an existing .csv/.jsonl/.json/.parquet file nor 'name:split'"
    )


def _load_file(path: Path, input_column: str, label_column: str) -> Table:
    suffix = path.suffix.lower()
    if not path.is_file():
        problem = "is a directory" if path.is_dir() else "does not exist"
        raise AccuracyError(f"data file {path} {problem}")
    if suffix not in FILE_SUFFIXES:
        raise AccuracyError(
            f"data file {path}: unsupported type {suffix or '(none)'}; "
            f"use one of {', '.join(FILE_SUFFIXES)}"
        )
    try:
        import datasets
    except ModuleNotFoundError:
        if suffix == ".parquet":
            raise AccuracyError(
                f"data file {path}: reading parquet needs datasets: pip install datasets"
            ) from None
        rows = read_rows_stdlib(path)
        return _from_rows(rows, str(path), input_column, label_column)
    builder = {".csv": "csv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}[suffix]
    with _datasets_quiet(datasets), warnings.catch_warnings():
        # datasets' CSV reader leaves its file to the garbage collector (datasets 5.0):
        # collect it here, quietly, or a user's -W error run fails on a ResourceWarning.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            ds = datasets.load_dataset(builder, data_files=str(path), split="train")
        except (OSError, ValueError, datasets.exceptions.DatasetsError) as exc:
            raise AccuracyError(f"data file {path} cannot be read: {_first_line(exc)}") from None
        finally:
            if suffix == ".csv":
                gc.collect()
    return _from_dataset(ds, str(path), input_column, label_column)


@contextlib.contextmanager
def _datasets_quiet(datasets: Any) -> Iterator[None]:
    """Hide datasets' "Generating train split" bars for our own loads, then restore them."""
    logging = datasets.utils.logging
    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()


def read_rows_stdlib(path: Path) -> list[dict[str, Any]]:
    """Rows of a .csv, .jsonl or .json file with the standard library only (no datasets).

    CSV cells are strings; a column whose every cell is a whole number becomes ints,
    so numeric labels compare equal to a model's class ids.
    """
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AccuracyError(f"data file {path} cannot be read: {exc}") from None
    if suffix == ".csv":
        rows: list[dict[str, Any]] = list(csv.DictReader(text.splitlines()))
        for column in rows[0] if rows else ():
            cells = [row[column] for row in rows]
            if all(isinstance(c, str) and c.strip().lstrip("-").isdigit() for c in cells):
                for row in rows:
                    row[column] = int(row[column])
        return rows
    try:
        if suffix == ".json" and text.lstrip().startswith("["):
            document = json.loads(text)
            return list(document) if isinstance(document, list) else [document]
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise AccuracyError(f"data file {path} is not valid JSON: {exc}") from None


def _load_hub(text: str, input_column: str, label_column: str) -> Table:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise AccuracyError(f"data {text!r}: expected 'name:split' or 'name:config:split'")
    name, config, split = (parts[0], None, parts[1]) if len(parts) == 2 else parts
    try:
        import datasets
    except ModuleNotFoundError:
        raise AccuracyError(
            f"data {text!r}: loading from the hub needs datasets: pip install datasets"
        ) from None
    with _datasets_quiet(datasets):
        try:
            ds = datasets.load_dataset(name, config, split=split)
        except (OSError, ValueError, datasets.exceptions.DatasetsError) as exc:
            raise AccuracyError(
                f"data {text!r}: datasets.load_dataset failed ({_first_line(exc)}); "
                "offline, pass a local .csv/.jsonl/.json/.parquet file or a datasets.Dataset"
            ) from None
    return _from_dataset(ds, text, input_column, label_column)


# -- labels -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelSpace:
    """The data set's classes: names by which labels may be given, and how many there are."""

    name_to_id: Mapping[str, int]
    size: int | None
    source: str
    explicit: bool = False

    def describe(self) -> str:
        names = ", ".join(sorted(self.name_to_id, key=self.name_to_id.__getitem__)[:10])
        more = ", ..." if len(self.name_to_id) > 10 else ""
        return f"{self.source}: {names}{more}" if names else self.source


def label_space(table: Table, label_map: object) -> LabelSpace:
    """The class names and count: ``label_map`` (name -> id, or names by id) when given,
    else the data set's ``ClassLabel`` names, else its label strings sorted."""
    if label_map is not None:
        mapping = _parse_label_map(label_map)
        return LabelSpace(mapping, max(mapping.values()) + 1, "label_map", explicit=True)
    if table.label_names is not None:
        names = {n: i for i, n in enumerate(table.label_names)}
        return LabelSpace(names, len(names), "the data set's ClassLabel names")
    strings = {label for label in table.labels if isinstance(label, str)}
    if strings:
        names = {n: i for i, n in enumerate(sorted(strings))}
        return LabelSpace(names, len(names), "the data's label names, sorted")
    return LabelSpace({}, None, "class ids")


def _parse_label_map(label_map: object) -> dict[str, int]:
    if isinstance(label_map, Mapping):
        items = list(label_map.items())
    elif isinstance(label_map, Sequence) and not isinstance(label_map, (str, bytes)):
        items = [(name, i) for i, name in enumerate(label_map)]
    else:
        raise AccuracyError(
            f"label_map must map label names to class ids (or list names by id), "
            f"got {type(label_map).__name__}"
        )
    for name, value in items:
        if not isinstance(name, str) or isinstance(value, bool) or not isinstance(value, int):
            raise AccuracyError(
                f"label_map must map label names to class ids, got {name!r}: {value!r}"
            )
        if value < 0:
            raise AccuracyError(f"label_map: class id for {name!r} must be >= 0, got {value}")
    if not items:
        raise AccuracyError("label_map is empty")
    return dict(items)


class _Resolver:
    """Turns what a model or the data says about an example (an id or a name) into a class id."""

    def __init__(self, space: LabelSpace, model_label2id: Mapping[str, int]) -> None:
        self.space = space
        self.by_name = dict(space.name_to_id)
        unrelated = not set(model_label2id) & set(space.name_to_id)
        if not space.explicit and unrelated:
            # The model's names (LABEL_0...) say nothing about the data's: its ids are the link.
            for name, index in model_label2id.items():
                self.by_name.setdefault(name, index)
        self.size = space.size if space.size is not None else (len(model_label2id) or None)

    def gold(self, label: object, where: str) -> int:
        return self._resolve(label, where, "label")

    def predicted(self, label: object, where: str) -> int:
        return self._resolve(label, where, "model predicted")

    def _resolve(self, label: object, where: str, who: str) -> int:
        if isinstance(label, Mapping) and "label" in label:
            label = label["label"]
        if isinstance(label, str):
            index = self.by_name.get(label)
            if index is None:
                raise AccuracyError(
                    f"{where}: {who} {label!r}, which is outside the label map "
                    f"({self.space.describe()}); pass label_map={{{label!r}: <class id>, ...}}"
                )
            return index
        if isinstance(label, bool) or (isinstance(label, float) and not label.is_integer()):
            raise AccuracyError(f"{where}: {who} {label!r}; expected a class id or a label name")
        try:
            index = int(label) if isinstance(label, float) else operator.index(label)  # type: ignore[arg-type]
        except TypeError:
            raise AccuracyError(
                f"{where}: {who} {label!r} ({type(label).__name__}); "
                "expected a class id or a label name"
            ) from None
        if index < 0 or (self.size is not None and index >= self.size) or index > 0xFFFFFFFF:
            bound = f"{self.size} classes" if self.size is not None else "ids must be >= 0"
            raise AccuracyError(
                f"{where}: {who} class {index}, which is outside the label map ({bound}; "
                f"{self.space.describe()})"
            )
        return index


# -- slicing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSlice:
    """The examples evaluated, in order, with their class ids and the slice's fingerprint."""

    inputs: tuple[Any, ...]
    labels: tuple[int, ...]
    names: tuple[str, ...]
    sampling: str
    sha256: str


def _input_key(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=repr)


def _slice_indices(table: Table, limit: int | None, sample: str, seed: int) -> list[int]:
    total = len(table.inputs)
    count = total if limit is None else min(limit, total)
    if sample == "head" or count == total:
        return list(range(count))
    # Rank examples by a hash of (seed, id): reproducible on any Python or numpy
    # version, and an example keeps its place when others are added around it.
    keys = table.ids or tuple(str(i) for i in range(total))
    digest = [hashlib.sha256(f"{seed}\0{k}".encode()).digest() for k in keys]
    return sorted(sorted(range(total), key=digest.__getitem__)[:count])


def take_slice(
    table: Table, resolver: _Resolver, limit: int | None, sample: str, seed: int
) -> DataSlice:
    """The reproducible slice: the first ``limit`` examples (``head``) or ``limit`` drawn
    with ``seed`` (``random``); its sha256 covers each example's id (or input) and label."""
    total = len(table.inputs)
    if total == 0:
        raise AccuracyError(f"{table.source} is empty: nothing to evaluate")
    indices = _slice_indices(table, limit, sample, seed)
    names = tuple(table.ids[i] if table.ids else f"#{i}" for i in indices)
    labels = tuple(
        resolver.gold(table.labels[i], f"example {name}")
        for i, name in zip(indices, names, strict=True)
    )
    digest = hashlib.sha256(b"infergate-slice/1\n")
    for i, label in zip(indices, labels, strict=True):
        key = (table.ids[i] if table.ids else _input_key(table.inputs[i])).encode()
        digest.update(struct.pack("<Q", len(key)) + key + struct.pack("<Q", label))
    n = len(indices)
    if n == total:
        sampling = f"all {total}"
    elif sample == "head":
        sampling = f"head {n} of {total}"
    else:
        sampling = f"random {n} of {total}, seed {seed}"
    return DataSlice(
        inputs=tuple(table.inputs[i] for i in indices),
        labels=labels,
        names=names,
        sampling=sampling,
        sha256=digest.hexdigest(),
    )


# -- models -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Adapter:
    """How to get raw predictions (ids or label names) for one batch of inputs."""

    kind: str
    predict: Callable[[list[Any]], Any]
    label2id: Mapping[str, int]
    uses_torch: bool
    #: Batches of similar length pad less: order examples by length (tokenised text only).
    sort_by_length: bool = False


def make_adapter(model: object, *, text_inputs: bool = True) -> Adapter:
    """Pick the adapter for ``model`` by its type (see :func:`evaluate_accuracy`)."""
    if _has_base(model, "transformers", "Pipeline"):
        return _pipeline_adapter(model, text_inputs=text_inputs)
    if isinstance(model, tuple):
        head = model[0] if model else None
        if _has_base(head, "onnxruntime", "InferenceSession") and len(model) in (2, 3):
            return _onnx_adapter(*model)
        hf_model = _has_base(head, "transformers", "PreTrainedModel") or _has_base(
            head, "optimum", "ORTModel"
        )
        if hf_model and len(model) == 2:
            return _model_adapter(model[0], model[1])
        raise AccuracyError(
            "a tuple model must be (transformers or optimum model, tokenizer) or "
            "(onnxruntime.InferenceSession, preprocess[, postprocess])"
        )
    if _has_base(model, "onnxruntime", "InferenceSession"):
        raise AccuracyError(
            "an onnxruntime.InferenceSession needs pre-processing: pass (session, preprocess) "
            "where preprocess(list of inputs) returns the feed dict"
        )
    if _has_base(model, "transformers", "PreTrainedModel") or _has_base(
        model, "optimum", "ORTModel"
    ):
        raise AccuracyError(
            f"a {type(model).__name__} needs its tokenizer: pass (model, tokenizer)"
        )
    if callable(model):
        return Adapter("callable", model, {}, uses_torch="torch" in sys.modules)
    raise AccuracyError(
        "model must be a transformers Pipeline, (model, tokenizer), "
        "(onnxruntime.InferenceSession, preprocess) or a callable taking a list of inputs; "
        f"got {type(model).__name__}"
    )


def _label2id(model: object) -> dict[str, int]:
    config = getattr(model, "config", None)
    raw = getattr(config, "label2id", None) or {}
    return {str(k): int(v) for k, v in dict(raw).items()}


def _classifier(
    model: Any, tokenizer: Any, tokenizer_kwargs: Mapping[str, Any]
) -> Callable[[list[Any]], list[Any]]:
    """Tokenise a batch with padding, run the model once, take the top class by name."""
    config = getattr(model, "config", None)
    id2label = {int(k): str(v) for k, v in dict(getattr(config, "id2label", None) or {}).items()}
    device = getattr(model, "device", None)
    kwargs = {"padding": True, **tokenizer_kwargs, "return_tensors": "pt"}

    def predict(batch: list[Any]) -> list[Any]:
        encoded = tokenizer(batch, **kwargs)
        if device is not None:
            encoded = encoded.to(device)
        output = model(**encoded)
        logits = output.logits if hasattr(output, "logits") else output[0]
        return [id2label.get(i, i) for i in logits.argmax(dim=-1).tolist()]

    return predict


def _pipeline_adapter(pipe: Any, *, text_inputs: bool) -> Adapter:
    label2id = _label2id(pipe.model)
    tokenizer = getattr(pipe, "tokenizer", None)
    can_pad = tokenizer is not None and getattr(tokenizer, "pad_token", None) is not None
    fast = (
        text_inputs
        and can_pad
        and _has_base(pipe, "transformers", "TextClassificationPipeline")
        and getattr(pipe, "framework", "pt") == "pt"
    )
    if fast:
        # The pipeline's own tokenizer settings, then the evaluator's truncation=True;
        # one padded forward per batch instead of the pipeline's per-example loop.
        params = dict(getattr(pipe, "_preprocess_params", None) or {})
        params.pop("return_tensors", None)
        params.setdefault("truncation", True)
        predict = _classifier(pipe.model, pipe.tokenizer, params)
        return Adapter("pipeline", predict, label2id, uses_torch=True, sort_by_length=True)

    def call(batch: list[Any]) -> list[Any]:
        # Without a padding token the pipeline can only run one example at a time.
        size = len(batch) if can_pad or tokenizer is None else 1
        return [_pipeline_label(o) for o in pipe(batch, batch_size=size)]

    return Adapter("pipeline", call, label2id, uses_torch=True)


def _pipeline_label(output: object) -> object:
    """The top label of one pipeline output: ``{"label": ..}``, a top-k list of those,
    or zero-shot's ``{"labels": [..]}``."""
    if isinstance(output, list) and output:
        output = output[0]
    if isinstance(output, Mapping):
        if "label" in output:
            return output["label"]
        labels = output.get("labels")
        if isinstance(labels, list) and labels:
            return labels[0]
    return output


def _model_adapter(model: Any, tokenizer: Any) -> Adapter:
    if getattr(model, "training", False):
        raise AccuracyError(
            f"the {type(model).__name__} is in training mode (dropout on, predictions would "
            "not be reproducible); call model.eval() first"
        )
    if not callable(tokenizer):
        raise AccuracyError(
            f"(model, tokenizer): the tokenizer must be callable, got {type(tokenizer).__name__}"
        )
    if getattr(tokenizer, "pad_token", "") is None:
        raise AccuracyError(
            "(model, tokenizer): the tokenizer has no padding token, so batches cannot be "
            "padded; set tokenizer.pad_token (e.g. to tokenizer.eos_token) and "
            "model.config.pad_token_id"
        )
    predict = _classifier(model, tokenizer, {"truncation": True})
    return Adapter("transformers", predict, _label2id(model), uses_torch=True, sort_by_length=True)


def _onnx_adapter(session: Any, preprocess: object, postprocess: object = None) -> Adapter:
    if not callable(preprocess) or (postprocess is not None and not callable(postprocess)):
        raise AccuracyError(
            "(session, preprocess[, postprocess]): preprocess and postprocess must be callables"
        )
    post: Callable[[list[Any]], Any] = postprocess if callable(postprocess) else _argmax_first

    def predict(batch: list[Any]) -> Any:
        feed = preprocess(batch)
        if not isinstance(feed, Mapping):
            raise AccuracyError(
                f"preprocess must return a dict of input name -> array, got {type(feed).__name__}"
            )
        return post(session.run(None, dict(feed)))

    return Adapter("onnxruntime", predict, {}, uses_torch=False)


def _argmax_first(outputs: list[Any]) -> Any:
    """The default ONNX post-processing: the top class of the first output's scores."""
    import numpy as np

    scores = np.asarray(outputs[0])
    if scores.ndim != 2:
        raise AccuracyError(
            f"the ONNX model's first output has shape {scores.shape}, not (batch, classes); "
            "pass (session, preprocess, postprocess)"
        )
    return scores.argmax(axis=-1)


def _as_list(raw: object) -> list[Any]:
    """A batch's predictions as a list: scores (batch, classes) become their argmax."""
    if hasattr(raw, "detach") and hasattr(raw, "cpu"):
        raw = raw.detach().cpu().numpy()  # a torch tensor
    np = sys.modules.get("numpy")
    if np is not None and isinstance(raw, np.ndarray):
        if raw.ndim == 2:
            return list(raw.argmax(axis=-1).tolist())
        if raw.ndim == 1:
            return list(raw.tolist())
        raise AccuracyError(f"model returned an array of shape {raw.shape}; expected (batch,)")
    if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Iterable):
        raise AccuracyError(
            f"model must return one label per input (a list or array), got {type(raw).__name__}"
        )
    return list(raw)


def _inference_context(uses_torch: bool) -> contextlib.AbstractContextManager[object]:
    """``torch.inference_mode()`` whenever torch is involved: no autograd state, faster."""
    if uses_torch or "torch" in sys.modules:
        import torch

        context: contextlib.AbstractContextManager[object] = torch.inference_mode()
        return context
    return contextlib.nullcontext()


def predict_slice(
    adapter: Adapter,
    resolver: _Resolver,
    data: DataSlice,
    batch_size: int,
    progress: Progress | None = None,
) -> tuple[tuple[int, ...], float]:
    """Class ids predicted for every example of ``data`` (in slice order), and the seconds
    spent in the model's batches. Batches are deterministic: same slice, same batches."""
    n = len(data.inputs)
    order = list(range(n))
    if adapter.sort_by_length:
        order.sort(key=lambda i: len(data.inputs[i]))
    predicted: list[int] = [0] * n
    elapsed = 0.0
    with _inference_context(adapter.uses_torch):
        for start in range(0, n, batch_size):
            indices = order[start : start + batch_size]
            batch = [data.inputs[i] for i in indices]
            began = time.perf_counter()
            raw = _as_list(adapter.predict(batch))
            elapsed += time.perf_counter() - began
            if len(raw) != len(batch):
                raise AccuracyError(
                    f"the model returned {len(raw)} predictions for a batch of {len(batch)} "
                    "inputs; it must return one label per input"
                )
            for i, label in zip(indices, raw, strict=True):
                predicted[i] = resolver.predicted(label, f"example {data.names[i]}")
            if progress is not None:
                progress(min(start + batch_size, n), n)
    return tuple(predicted), elapsed


# -- metrics ----------------------------------------------------------------------------


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


# -- the whole evaluation ---------------------------------------------------------------


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
