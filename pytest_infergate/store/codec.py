"""One JSON codec for every record pytest-infergate writes or sends: the baseline, the
results file, and the measurements an xdist worker or an ``--infer-against`` companion
sends (pyperf's model: what a worker sends is what the file holds).

A record's JSON is its frozen dataclass, walked by reflection: each constructor field is a
key of the same name, and its annotated type says how to read the value back. A
:class:`Shape` per record (the table is :mod:`pytest_infergate.store.shapes`; validation is
:mod:`pytest_infergate.store.reader`'s) says only what the type cannot: a stricter reader (a time in
ms, a sha256), a rounded or omitted value, figures written for people and tools but
recomputed on reading, a field taken from the enclosing record. Reading builds every
record through its constructor, so ``__post_init__`` validates and derives again, and the
first bad field is named in the error: ``b.json: entries['t'].machines['ci'].p50_ms:
expected ...``. Nothing is unpickled: only the types the annotations name are built.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union

from pytest_infergate.store.reader import BaselineError, Read, Reader, short

T = TypeVar("T")

#: The largest relative step of a value rounded by :func:`round4` (1.001 -> 1.002).
RELATIVE_RESOLUTION = 1e-3


def round4(value: float) -> float:
    """4 significant digits: plenty for latencies, and it keeps a committed file's diffs quiet."""
    return float(f"{value:.4g}")


def finite_or_none(value: float | None) -> float | None:
    """JSON has no infinity: an open interval end is written as ``null``."""
    return value if value is not None and math.isfinite(value) else None


def dumps(document: Mapping[str, Any]) -> str:
    """The one text form of our JSON files: sorted keys, 2-space indent, newline at the end."""
    return json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"


@dataclass(frozen=True)
class Field:
    """How one dataclass field's JSON differs from what its type alone would give."""

    #: The JSON key, when it is not the field's name.
    key: str | None = None
    #: A stricter reader than the type's (ranges, formats, other keys it needs).
    read: Read | None = None
    #: The JSON value written for the field's value (rounding, packing).
    write: Callable[[Any], Any] | None = None
    #: Nothing is written when this is true of the value (older files' diffs stay quiet).
    omit: Callable[[Any], bool] | None = None
    #: Where the key is absent, the value is the enclosing object's key of the same name.
    inherit: bool = False
    #: The value's keys sit in the enclosing object, not under a key of their own.
    flatten: bool = False


@dataclass(frozen=True)
class Shape:
    """A record's JSON beyond its fields' types."""

    fields: Mapping[str, Field] = field(default_factory=dict)
    #: Figures written beside the fields for people and tools; recomputed, never read.
    derived: Callable[[Any], Mapping[str, Any]] | None = None
    #: ``(key, value)`` that tells this record from the others of a union it belongs to.
    tag: tuple[str, str] | None = None
    #: Reads raw JSON that is this record's (or a subclass's) and picks the class.
    subtype: Callable[[Mapping[str, Any]], type[Any]] | None = None
    #: What a union of such records is called in an error ("entry kind").
    noun: str = "kind"
    #: Refuse keys that are not fields, naming them (a record of options, not of figures).
    closed: bool = False


def omit_empty(value: object) -> bool:
    return value is None or value == () or value == {} or value == ""


@dataclass
class _Scope:
    """The raw objects enclosing the one being read, innermost last: where inherited
    fields come from."""

    objects: tuple[Mapping[str, Any], ...] = ()

    def inside(self, obj: Mapping[str, Any]) -> _Scope:
        return _Scope((*self.objects, obj))

    def lookup(self, name: str) -> Any:
        for obj in reversed(self.objects):
            if name in obj:
                return obj[name]
        raise KeyError(name)


class Codec:
    """Records to JSON data and back, by their dataclass fields and :class:`Shape`\\ s."""

    def __init__(self, shapes: Mapping[type[Any], Shape], names: Mapping[str, Any]) -> None:
        self.shapes = dict(shapes)
        self._names = dict(names)
        self._hints: dict[type[Any], dict[str, Any]] = {}

    def shape(self, cls: type[Any]) -> Shape:
        for klass in cls.__mro__:
            if klass in self.shapes:
                return self.shapes[klass]
        return Shape()

    def hints(self, cls: type[Any]) -> dict[str, Any]:
        if cls not in self._hints:
            self._hints[cls] = typing.get_type_hints(cls, localns=self._names)
        return self._hints[cls]

    # -- writing -------------------------------------------------------------------------

    def encode(self, value: object) -> Any:
        """``value`` as plain JSON data (dicts, lists, strings, numbers, booleans, null)."""
        if isinstance(value, enum.Enum):
            return value.value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._encode_record(value)
        if isinstance(value, (tuple, list)):
            return [self.encode(v) for v in value]
        if isinstance(value, Mapping):
            return {str(k): self.encode(v) for k, v in value.items()}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"cannot write a {type(value).__name__} as JSON")

    def _encode_record(self, record: Any) -> dict[str, Any]:
        shape = self.shape(type(record))
        out: dict[str, Any] = {}
        if shape.tag is not None:
            out[shape.tag[0]] = shape.tag[1]
        for f in dataclasses.fields(record):
            if not f.init:
                continue
            rule = shape.fields.get(f.name, _PLAIN)
            value = getattr(record, f.name)
            if rule.omit is not None and rule.omit(value):
                continue
            if rule.flatten:
                out.update(self.encode(value))
                continue
            out[rule.key or f.name] = rule.write(value) if rule.write else self.encode(value)
        if shape.derived is not None:
            out.update(shape.derived(record))
        return out

    # -- reading -------------------------------------------------------------------------

    def decode(self, cls: type[T], raw: object, where: str, reader: Reader) -> T:
        """The ``cls`` record in ``raw``, every field validated; :class:`BaselineError`
        names the first bad one."""
        value: T = self._record(cls, raw, where, reader, _Scope())
        return value

    def decode_value(self, hint: Any, raw: object, where: str, reader: Reader) -> Any:
        """A value of the annotated type ``hint`` (a union of tagged records, a tuple...)."""
        return self._value(hint, raw, where, reader, _Scope())

    def _record(self, cls: type[Any], raw: object, where: str, r: Reader, scope: _Scope) -> Any:
        obj = r.mapping(raw, where)
        shape = self.shape(cls)
        if shape.subtype is not None:
            cls = shape.subtype(obj)
            shape = self.shape(cls)
        if shape.tag is not None and obj.get(shape.tag[0], shape.tag[1]) != shape.tag[1]:
            key, expected = shape.tag
            raise r.fail(f"{where}.{key}", f"expected {expected!r}, got {short(obj[key])}")
        if shape.closed:
            known = [f.name for f in dataclasses.fields(cls)]
            unknown = sorted(set(obj) - set(known))
            if unknown:
                listed, names = ", ".join(unknown), ", ".join(known)
                raise r.fail(where, f"unknown {shape.noun}(s) {listed}; known: {names}")
        inner = scope.inside(obj)
        hints = self.hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            rule = shape.fields.get(f.name, _PLAIN)
            if rule.inherit and f.name not in obj:
                try:
                    inherited = scope.lookup(f.name)
                except KeyError:
                    raise r.fail(f"{where}.{f.name}", "missing") from None
                values[f.name] = self._value(
                    hints[f.name], inherited, f"{where}.{f.name}", r, inner
                )
            elif rule.flatten:
                values[f.name] = self._value(hints[f.name], obj, where, r, scope)
            else:
                key = rule.key or f.name
                if key not in obj:
                    if _has_default(f):
                        continue
                    raise r.fail(f"{where}.{key}", "missing")
                if rule.read is not None and not (
                    obj.get(key) is None and _optional(hints[f.name])
                ):
                    values[f.name] = rule.read(r, obj, key, where)
                else:
                    value = r.get(obj, key, where)
                    values[f.name] = self._value(hints[f.name], value, f"{where}.{key}", r, inner)
        try:
            return cls(**values)
        except ValueError as exc:
            if isinstance(exc, BaselineError):
                raise
            raise r.fail(where, str(exc)) from None

    def _value(self, hint: Any, raw: object, where: str, r: Reader, scope: _Scope) -> Any:
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (Union, types.UnionType):
            members = [a for a in args if a is not type(None)]
            if raw is None and len(members) < len(args):
                return None
            if len(members) == 1:
                return self._value(members[0], raw, where, r, scope)
            return self._tagged(members, raw, where, r, scope)
        if origin is tuple:
            if not isinstance(raw, list):
                raise r.fail(where, f"expected a list, got {type(raw).__name__}")
            return tuple(
                self._value(args[0], item, f"{where}[{i}]", r, scope) for i, item in enumerate(raw)
            )
        if origin in (dict, Mapping):
            obj = r.mapping(raw, where)
            return {k: self._value(args[1], v, f"{where}[{k!r}]", r, scope) for k, v in obj.items()}
        if isinstance(hint, type):
            if dataclasses.is_dataclass(hint):
                return self._record(hint, raw, where, r, scope)
            if issubclass(hint, enum.Enum):
                try:
                    return hint(raw)
                except ValueError:
                    known = ", ".join(str(e.value) for e in hint)
                    raise r.fail(where, f"unknown value {short(raw)}; known: {known}") from None
            if hint is bool:
                if not isinstance(raw, bool):
                    raise r.fail(where, f"expected true or false, got {short(raw)}")
                return raw
            if hint is int:
                return r.whole(raw, where)
            if hint is float:
                return r.real(raw, where)
            if hint is str:
                if not isinstance(raw, str):
                    raise r.fail(where, f"expected a string, got {short(raw)}")
                return raw
        raise TypeError(f"{where}: the codec cannot read a {hint!r}")

    def _tagged(self, members: list[Any], raw: object, where: str, r: Reader, scope: _Scope) -> Any:
        obj = r.mapping(raw, where)
        tags = {self.shape(m).tag: m for m in members}
        keys = {tag[0] for tag in tags if tag is not None}
        if len(keys) != 1 or None in tags:
            raise TypeError(f"{where}: a union of records needs one tag key, got {tags}")
        (key,) = keys
        value = r.string(obj, key, where)
        for tag, member in tags.items():
            if tag is not None and tag[1] == value:
                return self._record(member, obj, where, r, scope)
        noun = self.shape(members[0]).noun
        known = ", ".join(sorted(tag[1] for tag in tags if tag is not None))
        raise r.fail(f"{where}.{key}", f"unknown {noun} {value!r}; known: {known}")


_PLAIN = Field()


def _has_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def _optional(hint: Any) -> bool:
    return typing.get_origin(hint) in (Union, types.UnionType) and type(None) in typing.get_args(
        hint
    )
