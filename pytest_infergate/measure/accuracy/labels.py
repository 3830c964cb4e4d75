"""The label space: which class id each label of the data maps to, from the model's
``label2id``, an explicit label map, or the labels themselves."""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_infergate.measure.accuracy.common import AccuracyError
from pytest_infergate.measure.accuracy.data import Table


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
