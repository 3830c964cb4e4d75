"""Verify that an optimisation was applied: what actually runs, and whether it is what was meant.

The classic silent failures: onnxruntime falls back to the CPU provider when the
CUDA libraries are missing; a "quantised" file holds no quantised operator; the
model file is swapped and a latency change is blamed on the code. These facts are
read from the objects the user measures, lazily (no ML library is imported here
unless the object comes from it), and never inside a timed loop.
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_infergate.options import parse_count_rule

#: Operators that only appear in a quantised ONNX graph.
QUANTIZED_OPS = frozenset(
    {
        "MatMulInteger",
        "ConvInteger",
        "DynamicQuantizeLinear",
        "DynamicQuantizeMatMul",
        "MatMulIntegerToFloat",
        "QAttention",
        "QGemm",
        "QLinearAdd",
        "QLinearConv",
        "QLinearMatMul",
        "QLinearMul",
        "QuantizeLinear",
        "DequantizeLinear",
        "MatMulNBits",
    }
)


@dataclass(frozen=True)
class RuntimeFacts:
    """What runs when the measured model is called. Fields that do not apply stay ``None``."""

    runtime: str
    providers: tuple[str, ...] = ()
    graph_optimization_level: str | None = None
    intra_op_threads: int | None = None
    inter_op_threads: int | None = None
    model_file: str | None = None
    model_bytes: int | None = None
    model_sha256: str | None = None
    op_histogram: Mapping[str, int] = field(default_factory=dict)
    device: str | None = None
    dtype: str | None = None
    parameters: int | None = None
    weights_sha256: str | None = None
    torch_threads: int | None = None
    task: str | None = None
    #: onnxruntime: whether idle intra-op worker threads busy-wait for work (the default
    #: with more than one thread). They then hold their cores between calls, starving
    #: whatever runs next on them: the other arm of an interleaved A/B run.
    spinning: bool | None = None
    #: The digest of what the model was built from, when its build wrote one beside it
    #: (:data:`BUILD_FILE`, see :func:`build_digest`).
    build_sha256: str | None = None

    @property
    def digest(self) -> str | None:
        """The model's identity: the file's sha256, else the weights'."""
        return self.model_sha256 or self.weights_sha256

    @property
    def quantized_ops(self) -> dict[str, int]:
        return {op: n for op, n in self.op_histogram.items() if op in QUANTIZED_OPS}


@functools.lru_cache(maxsize=256)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file; cached by (path, size, mtime) so each file is read once per session."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(functools.partial(stream.read, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    stat = Path(path).stat()
    return _file_sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


#: A model build's note of what it was built from, in the model's directory:
#: ``{"build_sha256": "<sha256 of the build's inputs>"}`` (other keys are ignored).
BUILD_FILE = "infergate-build.json"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def build_digest(directory: str | Path | None) -> str | None:
    """The ``build_sha256`` a build wrote to :data:`BUILD_FILE` in ``directory``, or ``None``.

    A model rebuilt on another CPU family differs in its bytes (float arithmetic in
    training and export follows the CPU's kernels), so its sha256 alone cannot tell
    "rebuilt from the same inputs" from "another model". A build that digests its inputs
    (data, parameters, library versions, quantisation settings) and writes the digest
    beside the model lets the gate say which. A missing or unreadable file is ``None``:
    the note then falls back to the file digests."""
    if directory is None:
        return None
    path = Path(directory) / BUILD_FILE
    try:
        stat = path.stat()
    except OSError:
        return None
    return _build_digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _build_digest(path: str, size: int, mtime_ns: int) -> str | None:

    try:
        value = json.loads(Path(path).read_text(encoding="utf-8")).get("build_sha256")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and _HEX64.fullmatch(value) else None


def onnx_op_histogram(path: str | Path) -> dict[str, int]:
    """Operator types in an ONNX file's graph and its subgraphs (weights are not loaded).

    This is the graph the file holds: fusions that onnxruntime applies when it
    builds a session are not in it, quantisation and offline fusions are. Read once
    per file version in a session, like the digest.
    """
    stat = Path(path).stat()
    return dict(_op_histogram(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=256)
def _op_histogram(path: str, size: int, mtime_ns: int) -> tuple[tuple[str, int], ...]:
    import onnx

    model = onnx.load(path, load_external_data=False)
    counts: Counter[str] = Counter()
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        for node in graph.node:
            counts[node.op_type] += 1
            for attribute in node.attribute:
                graphs.extend([attribute.g] if attribute.HasField("g") else [])
                graphs.extend(attribute.graphs)
    return tuple(sorted(counts.items()))


def _module_of(obj: object) -> str:
    return type(obj).__module__.split(".")[0]


def _ort_session_facts(session: Any, model_file: str | None) -> RuntimeFacts:
    options = session.get_session_options()
    path = model_file or getattr(session, "_model_path", None)
    exists = bool(path) and Path(str(path)).is_file()
    return RuntimeFacts(
        runtime="onnxruntime",
        providers=tuple(session.get_providers()),
        graph_optimization_level=str(options.graph_optimization_level).rsplit(".", 1)[-1],
        intra_op_threads=options.intra_op_num_threads,
        inter_op_threads=options.inter_op_num_threads,
        model_file=str(path) if exists else None,
        model_bytes=Path(str(path)).stat().st_size if exists else None,
        model_sha256=file_sha256(str(path)) if exists else None,
        op_histogram=onnx_op_histogram(str(path)) if exists else {},
        spinning=_ort_spinning(options),
        build_sha256=build_digest(Path(str(path)).parent) if exists else None,
    )


def _ort_spinning(options: Any) -> bool:
    """Whether the session's intra-op pool spins: ORT spins unless the pool has one thread
    or ``session.intra_op.allow_spinning`` is ``"0"`` (an unset entry raises)."""
    if options.intra_op_num_threads == 1:
        return False
    try:
        return str(options.get_session_config_entry("session.intra_op.allow_spinning")) != "0"
    except RuntimeError:
        return True


def _torch_facts(module: Any) -> RuntimeFacts:
    import torch

    parameters = list(module.parameters())
    digest = hashlib.sha256()
    for _, tensor in sorted(module.state_dict().items(), key=operator.itemgetter(0)):
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    first = parameters[0] if parameters else None
    source = getattr(module, "name_or_path", None)  # a transformers model's directory
    built = build_digest(source) if isinstance(source, str) and Path(source).is_dir() else None
    return RuntimeFacts(
        runtime="torch",
        device=str(first.device) if first is not None else None,
        dtype=str(first.dtype).removeprefix("torch.") if first is not None else None,
        parameters=sum(p.numel() for p in parameters),
        weights_sha256=digest.hexdigest(),
        torch_threads=torch.get_num_threads(),
        build_sha256=built,
    )


def runtime_facts(obj: object, model_file: str | Path | None = None) -> RuntimeFacts | None:
    """Facts of ``obj``: an ORT ``InferenceSession``, an optimum ``ORTModel``, a transformers
    pipeline or model, or a torch module; ``None`` for anything else (a plain function).
    ``model_file`` names the ONNX file when the object does not know it."""
    file = str(model_file) if model_file is not None else None
    module = _module_of(obj)
    if module == "onnxruntime" and hasattr(obj, "get_providers"):
        return _ort_session_facts(obj, file)
    if module == "optimum" and hasattr(obj, "model_path"):
        session = getattr(obj, "session", None) or getattr(obj, "model", None)
        if session is not None and hasattr(session, "get_providers"):
            return _ort_session_facts(session, file or str(obj.model_path))
    if module == "transformers" and hasattr(obj, "task") and hasattr(obj, "model"):
        inner = runtime_facts(obj.model, model_file)
        if inner is not None:
            return RuntimeFacts(**{**inner.__dict__, "task": obj.task})
        return RuntimeFacts(runtime="unknown", task=obj.task)
    if module in ("torch", "transformers") and hasattr(obj, "state_dict"):
        return _torch_facts(obj)
    return None


def measured_facts(measured: object, model: object = None) -> RuntimeFacts | None:
    """Facts of ``model`` when given, else of what is measured: the object itself, the
    model heading a tuple (``(session, preprocess)``, ``(model, tokenizer)``), or the
    object a bound method belongs to (``session.run``)."""
    if model is not None:
        return runtime_facts(model)
    if isinstance(measured, tuple):
        return runtime_facts(measured[0]) if measured else None
    facts = runtime_facts(measured)
    owner = getattr(measured, "__self__", None)
    return facts if facts is not None or owner is None else runtime_facts(owner)


def op_changes(
    candidate: RuntimeFacts, reference: RuntimeFacts
) -> tuple[tuple[str, int, int], ...]:
    """(op type, reference count, candidate count) for each operator whose count differs
    between two graphs: quantised operators first (they show whether quantisation
    happened), then the largest changes."""
    ops = set(candidate.op_histogram) | set(reference.op_histogram)
    changes = [
        (op, reference.op_histogram.get(op, 0), candidate.op_histogram.get(op, 0)) for op in ops
    ]
    return tuple(
        sorted(
            ((op, old, new) for op, old, new in changes if old != new),
            key=lambda c: (c[0] not in QUANTIZED_OPS, -abs(c[2] - c[1]), c[0]),
        )
    )


# -- expectations -----------------------------------------------------------------------

_COMPARE = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class Expectations:
    """What the user says must be true of the runtime: checked, never assumed."""

    providers: tuple[str, ...] | None = None
    quantized: bool | None = None
    ops: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for rule in self.ops.values():
            parse_count_rule(rule)

    @property
    def empty(self) -> bool:
        return self.providers is None and self.quantized is None and not self.ops


def unmet(facts: RuntimeFacts | None, expected: Expectations) -> tuple[str, ...]:
    """One message per expectation that ``facts`` do not meet (empty when all are met)."""
    if expected.empty:
        return ()
    if facts is None:
        return (
            "no runtime facts: the measured callable hides its model; pass model= "
            "(runtime_model= to accuracy_eval): an InferenceSession, ORTModel, pipeline "
            "or torch module",
        )
    problems = []
    if expected.providers is not None:
        missing = [p for p in expected.providers if p not in facts.providers]
        if missing:
            used = ", ".join(facts.providers) or "none"
            problems.append(
                f"expected provider(s) {', '.join(missing)} but the session runs on {used}"
            )
    if expected.quantized is True and not facts.quantized_ops:
        problems.append(
            "expected a quantised graph, but it holds no quantised operator "
            f"({', '.join(sorted(QUANTIZED_OPS)[:4])}, ...)"
        )
    if expected.quantized is False and facts.quantized_ops:
        problems.append(f"expected a float graph, but it holds {facts.quantized_ops}")
    for op, rule in expected.ops.items():
        symbol, count = parse_count_rule(rule)
        actual = facts.op_histogram.get(op, 0)
        if not _COMPARE[symbol](actual, count):
            problems.append(f"expected {op} {symbol} {count}, found {actual}")
    return tuple(problems)
