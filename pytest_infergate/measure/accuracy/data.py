"""Loading the data: a datasets.Dataset, a list of rows, a local file (CSV, JSON lines, JSON,
Parquet) or a hub name, into one column-oriented :class:`Table`. The datasets library is
imported only when the data needs it."""

from __future__ import annotations

import contextlib
import csv
import gc
import json
import os
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_infergate.measure.accuracy.common import (
    FILE_SUFFIXES,
    ID_COLUMNS,
    AccuracyError,
    _first_line,
    _has_base,
)


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
